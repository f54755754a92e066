// Members of a project and their roles; owners add, re-role and remove members.
import { type FormEvent, useState } from 'react'
import { type Member, ProjectRole } from '../../../shared/schemas/projects.ts'
import { api } from '../api/apiClient.ts'
import { useAction } from '../app/useAction.ts'
import { useResource } from '../app/useResource.ts'

const ROLES = ProjectRole.options

export function MembersPanel({ projectId, canEdit }: { projectId: number; canEdit: boolean }) {
  const base = `/api/projects/${projectId}/members`
  const members = useResource<{ members: Member[] }>(base)
  const [username, setUsername] = useState('')
  const [role, setRole] = useState<ProjectRole>('annotator')
  const { error, run } = useAction(members.reload)
  const add = (event: FormEvent) => {
    event.preventDefault()
    run(async () => {
      await api('POST', base, { username, role })
      setUsername('')
    })
  }
  return (
    <section className="stack">
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <table className="table" data-testid="members.table">
        <thead>
          <tr>
            <th>User</th>
            <th>Role</th>
            {canEdit && <th aria-label="Actions" />}
          </tr>
        </thead>
        <tbody>
          {members.data?.members.map((member) => (
            <tr key={member.userId} data-testid="members.item">
              <td>
                {member.displayName} <span className="muted">@{member.username}</span>
              </td>
              <td>
                {canEdit ? (
                  <select
                    value={member.role}
                    onChange={(e) =>
                      run(() => api('PATCH', `${base}/${member.userId}`, { role: e.target.value }))
                    }
                    aria-label={`Role of ${member.username}`}
                  >
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                ) : (
                  <span className={`badge role-${member.role}`}>{member.role}</span>
                )}
              </td>
              {canEdit && (
                <td className="actions">
                  <button
                    type="button"
                    className="danger"
                    onClick={() => run(() => api('DELETE', `${base}/${member.userId}`))}
                  >
                    Remove
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {canEdit && (
        <form className="inline-form" onSubmit={add}>
          <input
            placeholder="Username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            data-testid="members.username"
          />
          <select
            value={role}
            onChange={(e) => setRole(e.target.value as ProjectRole)}
            data-testid="members.role"
          >
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
          <button
            type="submit"
            className="primary"
            disabled={!username.trim()}
            data-testid="members.add"
          >
            Add member
          </button>
        </form>
      )}
    </section>
  )
}
