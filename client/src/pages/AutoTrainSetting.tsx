// The automatic trigger: the owner has a job queued every N newly done images (or never).
import { type FormEvent, useEffect, useState } from 'react'
import type { TrainingSettings } from '../../../shared/schemas/training.ts'
import { api } from '../api/apiClient.ts'
import { useResource } from '../app/useResource.ts'

const describe = (every: number | null) =>
  every === null
    ? 'Off: training starts only by hand.'
    : `On: a job starts every ${every} newly done image${every === 1 ? '' : 's'}.`

export function AutoTrainSetting({ projectId, canEdit }: { projectId: number; canEdit: boolean }) {
  const path = `/api/projects/${projectId}/training/settings`
  const settings = useResource<TrainingSettings>(path)
  const [every, setEvery] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const saved = settings.data?.autoTrainEvery ?? null
  useEffect(() => setEvery(saved === null ? '' : String(saved)), [saved])

  const value = Number(every)
  const valid = every.trim() !== '' && Number.isInteger(value) && value >= 1 && value <= 100_000
  const save = async (autoTrainEvery: number | null) => {
    setBusy(true)
    setError(null)
    try {
      await api<TrainingSettings>('PUT', path, { autoTrainEvery } satisfies TrainingSettings)
      settings.reload()
    } catch (reason) {
      setError((reason as Error).message)
    } finally {
      setBusy(false)
    }
  }
  const submit = (event: FormEvent) => {
    event.preventDefault()
    if (valid) void save(value)
  }

  return (
    <form className="card training-card stack-tight" onSubmit={submit}>
      <h3>Automatic training</h3>
      {settings.error && <p className="error">{settings.error}</p>}
      <p className="small" data-testid="training.auto.status">
        {settings.data ? describe(saved) : 'Loading…'}
      </p>
      {canEdit && (
        <div className="inline-form small">
          <label className="inline-form">
            Train every
            <input
              type="number"
              min="1"
              step="1"
              className="narrow"
              value={every}
              onChange={(e) => setEvery(e.target.value)}
              data-testid="training.auto.every"
            />
            newly done images
          </label>
          <button
            type="submit"
            disabled={busy || !valid || value === saved}
            data-testid="training.auto.save"
          >
            Save
          </button>
          <button
            type="button"
            disabled={busy || saved === null}
            onClick={() => save(null)}
            data-testid="training.auto.off"
          >
            Turn off
          </button>
        </div>
      )}
      {!canEdit && <p className="muted small">Only owners change this.</p>}
      {error && (
        <p className="error" role="alert" data-testid="training.auto.error">
          {error}
        </p>
      )}
    </form>
  )
}
