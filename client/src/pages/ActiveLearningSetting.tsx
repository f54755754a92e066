// Active learning's settings on the Training tab: how the next version ranks the images nobody
// has finished, how long Next holds an image for its annotator, and whether editors put the
// current version's proposals on an image as suggestions. Owners change them; others read them.
import { type FormEvent, useEffect, useState } from 'react'
import {
  type ActiveLearningSettings,
  STRATEGY_LABELS,
  Strategy,
} from '../../../shared/schemas/activeLearning.ts'
import { useActiveLearningSettings } from './useActiveLearningSettings.ts'

const describe = (s: ActiveLearningSettings) =>
  `${STRATEGY_LABELS[s.strategy]}; Next holds an image for ${s.claimMinutes} min; pre-annotation ${
    s.preannotate ? 'on' : 'off'
  }.`

export function ActiveLearningSetting({
  projectId,
  canEdit,
}: {
  projectId: number
  canEdit: boolean
}) {
  const settings = useActiveLearningSettings(projectId)
  const [draft, setDraft] = useState<{ strategy: Strategy; minutes: string; preannotate: boolean }>(
    { strategy: 'diverse', minutes: '', preannotate: true },
  )
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const saved = settings.data
  useEffect(() => {
    if (saved)
      setDraft({
        strategy: saved.strategy,
        minutes: String(saved.claimMinutes),
        preannotate: saved.preannotate,
      })
  }, [saved])

  const minutes = Number(draft.minutes)
  const valid = Number.isInteger(minutes) && minutes >= 1 && minutes <= 24 * 60
  const changed =
    saved !== null &&
    (saved.strategy !== draft.strategy ||
      saved.claimMinutes !== minutes ||
      saved.preannotate !== draft.preannotate)
  const submit = async (event: FormEvent) => {
    event.preventDefault()
    if (!valid) return
    setBusy(true)
    setError(null)
    try {
      await settings.save({
        strategy: draft.strategy,
        claimMinutes: minutes,
        preannotate: draft.preannotate,
      })
    } catch (reason) {
      setError((reason as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form
      className="card training-card stack-tight"
      onSubmit={submit}
      data-testid="active-learning.settings"
    >
      <h3>Active learning</h3>
      {settings.error && <p className="error">{settings.error}</p>}
      <p className="small" data-testid="active-learning.status">
        {saved ? describe(saved) : 'Loading…'}
      </p>
      {canEdit && saved && (
        <div className="stack-tight small">
          <label className="inline-form">
            Rank by
            <select
              value={draft.strategy}
              onChange={(e) => setDraft({ ...draft, strategy: e.target.value as Strategy })}
              data-testid="active-learning.strategy"
            >
              {Strategy.options.map((strategy) => (
                <option key={strategy} value={strategy}>
                  {STRATEGY_LABELS[strategy]}
                </option>
              ))}
            </select>
          </label>
          <label className="inline-form">
            Next holds an image for
            <input
              type="number"
              min="1"
              max={24 * 60}
              step="1"
              className="narrow"
              value={draft.minutes}
              onChange={(e) => setDraft({ ...draft, minutes: e.target.value })}
              data-testid="active-learning.claim-minutes"
            />
            minutes
          </label>
          <label className="inline-form">
            <input
              type="checkbox"
              checked={draft.preannotate}
              onChange={(e) => setDraft({ ...draft, preannotate: e.target.checked })}
              data-testid="active-learning.preannotate"
            />
            Put the current version's objects on images opened with Next, as suggestions
          </label>
          <div>
            <button
              type="submit"
              disabled={busy || !valid || !changed}
              data-testid="active-learning.save"
            >
              Save
            </button>
          </div>
        </div>
      )}
      {!canEdit && <p className="muted small">Only owners change this.</p>}
      {error && (
        <p className="error" role="alert" data-testid="active-learning.error">
          {error}
        </p>
      )}
    </form>
  )
}
