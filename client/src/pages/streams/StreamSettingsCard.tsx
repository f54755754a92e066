// An owner's card for one stream: change its settings, see where instruments and subscribers
// connect, delete it (asked twice).
import { useState } from 'react'
import type { StreamInfo } from '../../../../shared/schemas/streams.ts'
import { deleteStream, ingestUrl, subscriberUrl, updateStream } from '../../api/streams.ts'
import { StreamForm } from './StreamForm.tsx'

export function StreamSettingsCard({
  projectId,
  stream,
  onChange,
}: {
  projectId: number
  stream: StreamInfo
  /** The stream as stored after a change, or null once deleted. */
  onChange(stream: StreamInfo | null): void
}) {
  const [confirming, setConfirming] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const remove = async () => {
    setError(null)
    try {
      await deleteStream(projectId, stream.id)
      onChange(null)
    } catch (reason) {
      setError((reason as Error).message)
    }
  }
  return (
    <div className="card stream-card stack-tight" data-testid="streams.settings-card">
      <h3>Settings</h3>
      <StreamForm
        key={`${stream.id}:${stream.name}:${stream.backpressure}:${stream.keepFlagged}`}
        initial={stream}
        submitLabel="Save"
        testId="streams.settings"
        onSubmit={async (settings) => onChange(await updateStream(projectId, stream.id, settings))}
      />
      <p className="small">
        Instruments send frames to{' '}
        <code data-testid="streams.ingest-url">{ingestUrl(stream.id)}</code> with an instrument
        token; scripts read feedback events from <code>{subscriberUrl(stream.id)}</code>.
      </p>
      <div className="inline-form">
        {confirming ? (
          <>
            <span className="small">Delete this stream and its rules?</span>
            <button
              type="button"
              className="danger"
              onClick={remove}
              data-testid="streams.delete.confirm"
            >
              Delete
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </>
        ) : (
          <button
            type="button"
            className="danger"
            onClick={() => setConfirming(true)}
            data-testid="streams.delete"
          >
            Delete stream…
          </button>
        )}
      </div>
      {error && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
    </div>
  )
}
