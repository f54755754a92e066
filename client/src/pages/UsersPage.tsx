// User administration for site administrators.
import { type FormEvent, useState } from 'react'
import type { User } from '../../../shared/schemas/auth.ts'
import { api } from '../api/apiClient.ts'
import { useDocumentTitle } from '../app/router.ts'
import { useAction } from '../app/useAction.ts'
import { useResource } from '../app/useResource.ts'
import { WorkerTokensPanel } from './WorkerTokensPanel.tsx'

export function UsersPage() {
  useDocumentTitle('Users')
  const users = useResource<{ users: User[] }>('/api/users')
  const [form, setForm] = useState({ username: '', displayName: '', password: '' })
  const { error, run } = useAction(users.reload)
  const create = (event: FormEvent) => {
    event.preventDefault()
    run(async () => {
      await api('POST', '/api/users', { ...form, displayName: form.displayName || undefined })
      setForm({ username: '', displayName: '', password: '' })
    })
  }
  return (
    <div className="stack">
      <div className="page-header">
        <h1>Users</h1>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {users.error && <p className="error">{users.error}</p>}
      <table className="table" data-testid="users.table">
        <thead>
          <tr>
            <th>User</th>
            <th>Created</th>
            <th>Administrator</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {users.data?.users.map((user) => (
            <tr key={user.id} data-testid="users.item">
              <td>
                {user.displayName} <span className="muted">@{user.username}</span>
              </td>
              <td className="muted">{new Date(user.createdAt).toLocaleDateString()}</td>
              <td>
                <input
                  type="checkbox"
                  checked={user.isAdmin}
                  onChange={(e) =>
                    run(() => api('PATCH', `/api/users/${user.id}`, { isAdmin: e.target.checked }))
                  }
                  aria-label={`${user.username} is an administrator`}
                />
              </td>
              <td>
                <button
                  type="button"
                  onClick={() =>
                    run(() => api('PATCH', `/api/users/${user.id}`, { disabled: !user.disabled }))
                  }
                >
                  {user.disabled ? 'Enable' : 'Disable'}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="inline-form" onSubmit={create}>
        <input
          placeholder="Username"
          value={form.username}
          onChange={(e) => setForm({ ...form, username: e.target.value })}
          data-testid="users.username"
        />
        <input
          placeholder="Display name"
          value={form.displayName}
          onChange={(e) => setForm({ ...form, displayName: e.target.value })}
        />
        <input
          type="password"
          placeholder="Password (8+ characters)"
          value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })}
          data-testid="users.password"
        />
        <button
          type="submit"
          className="primary"
          disabled={!form.username || !form.password}
          data-testid="users.create"
        >
          Create user
        </button>
      </form>
      <WorkerTokensPanel />
    </div>
  )
}
