// The label classes of a project: name, colour, shortcut key and order. Owners edit them.
import { type FormEvent, useState } from 'react'
import { PALETTE } from '../../../shared/imaging/palette.ts'
import type { LabelClass } from '../../../shared/schemas/projects.ts'
import { api } from '../api/apiClient.ts'
import { useAction } from '../app/useAction.ts'
import { useResource } from '../app/useResource.ts'

export function ClassesPanel({ projectId, canEdit }: { projectId: number; canEdit: boolean }) {
  const base = `/api/projects/${projectId}/classes`
  const classes = useResource<{ classes: LabelClass[] }>(base)
  const list = classes.data?.classes ?? []
  const [name, setName] = useState('')
  const [color, setColor] = useState(PALETTE[0])
  const [shortcut, setShortcut] = useState('')

  const { error, run } = useAction(classes.reload)
  const add = (event: FormEvent) => {
    event.preventDefault()
    run(async () => {
      await api('POST', base, { name, color, shortcut: shortcut || null })
      setName('')
      setShortcut('')
      setColor(PALETTE[(list.length + 1) % PALETTE.length])
    })
  }
  const update = (item: LabelClass, changes: Partial<LabelClass>) =>
    run(() => api('PATCH', `${base}/${item.id}`, changes))

  return (
    <section className="stack">
      {error && (
        <p className="error" role="alert" data-testid="classes.error">
          {error}
        </p>
      )}
      <table className="table" data-testid="classes.table">
        <thead>
          <tr>
            <th>Colour</th>
            <th>Name</th>
            <th>Key</th>
            {canEdit && <th aria-label="Actions" />}
          </tr>
        </thead>
        <tbody>
          {list.map((item, index) => (
            <tr key={item.id} data-testid="classes.item">
              <td>
                {canEdit ? (
                  <input
                    type="color"
                    value={item.color}
                    onChange={(e) => update(item, { color: e.target.value })}
                    aria-label={`Colour of ${item.name}`}
                  />
                ) : (
                  <span className="swatch" style={{ background: item.color }} />
                )}
              </td>
              <td>
                {canEdit ? (
                  <input
                    defaultValue={item.name}
                    aria-label="Class name"
                    onBlur={(e) =>
                      e.target.value !== item.name && update(item, { name: e.target.value })
                    }
                  />
                ) : (
                  item.name
                )}
              </td>
              <td>
                <kbd>{item.shortcut ?? '–'}</kbd>
              </td>
              {canEdit && (
                <td className="actions">
                  <button
                    type="button"
                    disabled={index === 0}
                    onClick={() => update(item, { position: index - 1 })}
                    aria-label="Move up"
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    disabled={index === list.length - 1}
                    onClick={() => update(item, { position: index + 1 })}
                    aria-label="Move down"
                  >
                    ↓
                  </button>
                  <button
                    type="button"
                    className="danger"
                    onClick={() => run(() => api('DELETE', `${base}/${item.id}`))}
                  >
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {list.length === 0 && <p className="empty">No classes yet.</p>}
      {canEdit && (
        <form className="inline-form" onSubmit={add}>
          <input
            type="color"
            value={color}
            onChange={(e) => setColor(e.target.value)}
            aria-label="New class colour"
            data-testid="classes.color"
          />
          <input
            placeholder="Class name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            data-testid="classes.name"
          />
          <input
            className="narrow"
            placeholder="Key"
            maxLength={1}
            value={shortcut}
            onChange={(e) => setShortcut(e.target.value.toLowerCase())}
            data-testid="classes.shortcut"
          />
          <button
            type="submit"
            className="primary"
            disabled={!name.trim()}
            data-testid="classes.add"
          >
            Add class
          </button>
        </form>
      )}
    </section>
  )
}
