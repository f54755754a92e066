// One training job as it runs and after: state, attempt, progress with phase and ETA, the loss
// chart, the log tail, its error, cancel, the version it made and how long each phase took.
import { useEffect, useRef, useState } from 'react'
import { ACTIVE_JOB_STATES, type TrainingJob } from '../../../shared/schemas/training.ts'
import { api } from '../api/apiClient.ts'
import { LossChart } from './LossChart.tsx'

/** Log lines shown (the server keeps a longer tail). */
const LOG_LINES = 12

const PHASE_LABEL: Record<string, string> = {
  download: 'downloading the training set',
  train: 'training',
  evaluate: 'evaluating',
  export: 'exporting ONNX',
  upload: 'uploading',
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

const TIMING_LABEL: Record<string, string> = { queueWait: 'queue wait' }

/** "45 s", "3 min 5 s", "1 h 2 min" */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`
  const minutes = Math.round((s % 3600) / 60)
  return `${Math.floor(s / 3600)} h${minutes ? ` ${minutes} min` : ''}`
}

export const formatTime = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—')

/** The last lines of the worker's log, kept scrolled to the newest. */
function LogTail({ lines }: { lines: string[] }) {
  const pre = useRef<HTMLPreElement>(null)
  const text = lines.join('\n')
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll when the text changes
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight
  }, [text])
  return (
    <pre ref={pre} className="log-tail" data-testid="training.job.log">
      {text}
    </pre>
  )
}

function ProgressBar({ job }: { job: TrainingJob }) {
  const progress = job.progress
  const total = progress?.totalSteps ?? 0
  const step = progress?.step ?? 0
  const fraction = total > 0 ? Math.min(1, step / total) : 0
  const percent = Math.round(fraction * 100)
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={`Job ${job.id} progress`}
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={step}
      aria-valuetext={`step ${step} of ${total}`}
      data-testid="training.progress"
    >
      <div className="progress-bar" style={{ width: `${percent}%` }} />
      <span>{progress ? `step ${step} / ${total} (${percent}%)` : 'waiting for a worker'}</span>
    </div>
  )
}

export function JobCard({
  projectId,
  job,
  canCancel,
  initiallyOpen,
  onChange,
}: {
  projectId: number
  job: TrainingJob
  canCancel: boolean
  initiallyOpen: boolean
  onChange(job: TrainingJob): void
}) {
  const [open, setOpen] = useState(initiallyOpen)
  const [error, setError] = useState<string | null>(null)
  const active = ACTIVE_JOB_STATES.includes(job.state)
  const { progress } = job
  const cancel = async () => {
    setError(null)
    try {
      onChange(await api<TrainingJob>('POST', `/api/projects/${projectId}/jobs/${job.id}/cancel`))
    } catch (reason) {
      setError((reason as Error).message)
    }
  }
  const logLines = job.logTail.split('\n').filter((line) => line !== '')
  const skipped = Object.entries(job.trainingSet.skipped).filter(([, n]) => n > 0)

  return (
    <article
      className={`card job-card job-${job.state}`}
      data-testid="training.job"
      data-job-id={job.id}
      data-state={job.state}
    >
      <header className="job-header">
        <button
          type="button"
          className="link-button"
          onClick={() => setOpen((o) => !o)}
          aria-expanded={open}
          data-testid="training.job.toggle"
        >
          Job #{job.id}
        </button>
        <span className={`badge job-state-${job.state}`} data-testid="training.job.state">
          {job.cancelRequested && active ? 'cancelling' : job.state}
        </span>
        <span className="muted small" data-testid="training.job.attempt">
          {job.attempt === 0 ? 'not started' : `attempt ${job.attempt} of ${job.maxAttempts}`}
        </span>
        <span className="muted small">
          {[
            `from ${job.baseVersion.name}`,
            plural(job.trainingSet.images, 'image'),
            plural(job.trainingSet.objects, 'object'),
            job.triggeredBy?.username ?? 'automatic',
            formatTime(job.createdAt),
          ].join(' · ')}
        </span>
        <span className="toolbar-gap" />
        {job.resultVersion && (
          <a
            href={`#model-version-${job.resultVersion.id}`}
            data-testid="training.job.result"
            data-version={job.resultVersion.name}
          >
            → {job.resultVersion.name}
          </a>
        )}
        {active && canCancel && (
          <button
            type="button"
            className="danger"
            onClick={cancel}
            disabled={job.cancelRequested}
            data-testid="training.job.cancel"
          >
            {job.cancelRequested ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
      </header>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {job.error && (
        <p className="error job-error" data-testid="training.job.error">
          {job.error}
        </p>
      )}
      {open && (
        <div className="stack-tight">
          {(active || progress) && <ProgressBar job={job} />}
          {progress && active && (
            <p className="small job-facts">
              <span data-testid="training.job.phase" data-phase={progress.phase}>
                {PHASE_LABEL[progress.phase] ?? progress.phase}
              </span>
              {progress.etaSeconds !== null && (
                <span data-testid="training.job.eta">
                  about {formatSeconds(progress.etaSeconds)} left
                </span>
              )}
              {progress.loss !== null && (
                <span data-testid="training.job.loss">loss {progress.loss.toFixed(4)}</span>
              )}
              {progress.validation?.loss !== undefined && (
                <span data-testid="training.job.validation-loss">
                  validation loss {progress.validation.loss.toFixed(4)}
                </span>
              )}
            </p>
          )}
          {job.history.length > 0 && <LossChart history={job.history} />}
          {logLines.length > 0 && <LogTail lines={logLines.slice(-LOG_LINES)} />}
          {(skipped.length > 0 || job.trainingSet.suggestionsLeftOut > 0) && (
            <p className="muted small">
              Not trained on:{' '}
              {[
                ...skipped.map(([kind, n]) => `${n} ${kind}`),
                ...(job.trainingSet.suggestionsLeftOut > 0
                  ? [`${job.trainingSet.suggestionsLeftOut} unaccepted suggestions`]
                  : []),
              ].join(' · ')}
            </p>
          )}
          {job.timings && (
            <p className="small job-facts" data-testid="training.job.timings">
              {Object.entries(job.timings).map(([phase, seconds]) => (
                <span key={phase}>
                  {TIMING_LABEL[phase] ?? phase} {formatSeconds(seconds)}
                </span>
              ))}
              {job.startedAt && job.finishedAt && (
                <span>
                  total{' '}
                  {formatSeconds((Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000)}
                </span>
              )}
            </p>
          )}
        </div>
      )}
    </article>
  )
}
