// A stream's settings as a form: name, backpressure policy ('latest' or a queue of N frames) and
// whether flagged frames are kept as images. Creating and changing a stream both use it.
import { type FormEvent, useState } from 'react'
import { formatBackpressure, parseBackpressure } from './backpressure.ts'

export interface StreamSettings {
  name: string
  backpressure: string
  keepFlagged: boolean
}

export function StreamForm({
  initial,
  submitLabel,
  testId,
  onSubmit,
}: {
  initial: StreamSettings
  submitLabel: string
  /** Prefix of the fields' test ids (streams.create, streams.settings). */
  testId: string
  onSubmit(settings: StreamSettings): Promise<unknown>
}) {
  const choice = parseBackpressure(initial.backpressure)
  const [name, setName] = useState(initial.name)
  const [policy, setPolicy] = useState<'latest' | 'queue'>(choice.policy)
  const [size, setSize] = useState(choice.policy === 'queue' ? String(choice.size) : '8')
  const [keepFlagged, setKeepFlagged] = useState(initial.keepFlagged)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const backpressure = formatBackpressure(policy, size)
  const changed =
    name.trim() !== initial.name ||
    keepFlagged !== initial.keepFlagged ||
    !('value' in backpressure) ||
    backpressure.value !== initial.backpressure

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    if (!('value' in backpressure)) return setError(backpressure.error)
    setBusy(true)
    setError(null)
    try {
      await onSubmit({ name: name.trim(), backpressure: backpressure.value, keepFlagged })
    } catch (reason) {
      setError((reason as Error).message)
    }
    // The form may be gone by now (a new stream's form starts afresh); React ignores the update.
    setBusy(false)
  }

  return (
    <form className="stack-tight" onSubmit={submit} data-testid={testId}>
      <label className="field">
        Name
        <input
          value={name}
          maxLength={100}
          placeholder="e.g. Confocal 2, detector A"
          onChange={(e) => setName(e.target.value)}
          data-testid={`${testId}.name`}
        />
      </label>
      <div className="inline-form">
        <label className="inline-form">
          When frames come faster than the model runs
          <select
            value={policy}
            onChange={(e) => setPolicy(e.target.value as 'latest' | 'queue')}
            data-testid={`${testId}.backpressure`}
          >
            <option value="latest">keep only the newest frame</option>
            <option value="queue">queue frames, drop the oldest</option>
          </select>
        </label>
        {policy === 'queue' && (
          <label className="inline-form">
            at most
            <input
              type="number"
              min="1"
              max="9999"
              step="1"
              className="narrow"
              value={size}
              onChange={(e) => setSize(e.target.value)}
              data-testid={`${testId}.queue-size`}
            />
            frames
          </label>
        )}
      </div>
      <label className="check">
        <input
          type="checkbox"
          checked={keepFlagged}
          onChange={(e) => setKeepFlagged(e.target.checked)}
          data-testid={`${testId}.keep-flagged`}
        />
        Keep every flagged frame as an image of the project
      </label>
      <div className="inline-form">
        <button
          type="submit"
          className="primary"
          disabled={busy || !name.trim() || !changed}
          data-testid={`${testId}.submit`}
        >
          {submitLabel}
        </button>
        {'error' in backpressure && <span className="error small">{backpressure.error}</span>}
      </div>
      {error && (
        <p className="error small" role="alert" data-testid={`${testId}.error`}>
          {error}
        </p>
      )}
    </form>
  )
}
