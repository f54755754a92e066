// The Train button: says what a job would train on, or why it cannot start now, and starts one
// (with an optional time budget) for owners and reviewers.
import { type FormEvent, useState } from 'react'
import type { TrainingJob, TrainingPreview } from '../../../shared/schemas/training.ts'
import { api } from '../api/apiClient.ts'
import type { Resource } from '../app/useResource.ts'

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** "Train on 20 images · 412 objects · 20 new since v0" */
export function describeTrainingSet(preview: TrainingPreview): string {
  return `Train on ${plural(preview.images, 'image')} · ${plural(preview.objects, 'object')} · ${
    preview.newSinceCurrent
  } new since ${preview.currentVersion.name}`
}

/** Why a job cannot start now, or null when it can. */
function reasonNotToTrain(
  canTrain: boolean,
  preview: TrainingPreview | null,
  activeJob: TrainingJob | null,
): string | null {
  if (!canTrain) return 'Only owners and reviewers can start training.'
  if (!preview) return 'Counting the labelled images…'
  const active = activeJob?.id ?? preview.activeJob
  if (active !== null)
    return `Job #${active} is ${activeJob?.state ?? 'running'}: one job at a time.`
  if (preview.images === 0) return 'No images are done yet: mark labelled images done to train.'
  return null
}

export function TrainControl({
  projectId,
  canTrain,
  preview,
  activeJob,
  onStarted,
}: {
  projectId: number
  canTrain: boolean
  preview: Resource<TrainingPreview>
  activeJob: TrainingJob | null
  onStarted(job: TrainingJob): void
}) {
  const [minutes, setMinutes] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const reason = reasonNotToTrain(canTrain, preview.data, activeJob)
  const minutesValue = minutes.trim() === '' ? undefined : Number(minutes)
  const minutesInvalid =
    minutesValue !== undefined &&
    !(Number.isFinite(minutesValue) && minutesValue > 0 && minutesValue <= 24 * 60)

  const train = async (event: FormEvent) => {
    event.preventDefault()
    if (reason || minutesInvalid) return
    setBusy(true)
    setError(null)
    try {
      const job = await api<TrainingJob>(
        'POST',
        `/api/projects/${projectId}/jobs`,
        minutesValue === undefined ? {} : { minutes: minutesValue },
      )
      onStarted(job)
    } catch (reason) {
      setError((reason as Error).message)
      preview.reload()
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="card training-card stack-tight" onSubmit={train}>
      <h3>Train a new version</h3>
      {preview.error && <p className="error">{preview.error}</p>}
      <button
        type="submit"
        className="primary"
        disabled={reason !== null || busy || minutesInvalid}
        data-testid="training.train"
      >
        {preview.data ? describeTrainingSet(preview.data) : 'Train'}
      </button>
      {reason && (
        <p className="muted small" data-testid="training.train.reason">
          {reason}
        </p>
      )}
      {canTrain && (
        <label className="inline-form small">
          Time budget
          <input
            type="number"
            min="0.1"
            max={24 * 60}
            step="any"
            className="narrow"
            placeholder="auto"
            value={minutes}
            onChange={(e) => setMinutes(e.target.value)}
            aria-invalid={minutesInvalid}
            data-testid="training.minutes"
          />
          minutes
        </label>
      )}
      {minutesInvalid && <p className="error small">A budget is between 0.1 and 1440 minutes.</p>}
      {error && (
        <p className="error" role="alert" data-testid="training.error">
          {error}
        </p>
      )}
    </form>
  )
}
