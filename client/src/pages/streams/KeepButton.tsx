// Keep: stores the shown frame as an image of the project, its detections as suggestions, so it
// enters labelling and training like an upload. Says where the image is, or why it could not.
import { useState } from 'react'
import type { FrameSummary } from '../../../../shared/schemas/streams.ts'
import { ApiError } from '../../api/apiClient.ts'
import { type KeptFrameValue, keepFrame } from '../../api/streams.ts'
import { Link } from '../../app/Link.tsx'

interface Kept {
  frame: FrameSummary
  result: KeptFrameValue
}

function errorMessage(reason: unknown): string {
  if (reason instanceof ApiError && reason.status === 410)
    return `This frame is no longer held by the server (${reason.message}); keep a newer one.`
  return (reason as Error).message
}

export function KeepButton({
  projectId,
  streamId,
  frame,
  onKept,
}: {
  projectId: number
  streamId: number
  frame: FrameSummary | null
  onKept(frame: FrameSummary, imageId: number): void
}) {
  const [busy, setBusy] = useState(false)
  const [kept, setKept] = useState<Kept | null>(null)
  const [error, setError] = useState<string | null>(null)
  const keep = async () => {
    if (!frame) return
    setBusy(true)
    setError(null)
    try {
      const result = await keepFrame(projectId, streamId, frame.seriesId, frame.frame)
      setKept({ frame, result })
      onKept(frame, result.imageId)
    } catch (reason) {
      setKept(null)
      setError(errorMessage(reason))
    } finally {
      setBusy(false)
    }
  }
  return (
    <div className="stack-tight">
      <button
        type="button"
        className="primary"
        disabled={busy || !frame}
        onClick={keep}
        title="Store this frame as an image of the project, its detections as suggestions"
        data-testid="streams.keep"
      >
        {busy ? 'Keeping…' : 'Keep this frame'}
      </button>
      {kept && (
        <p
          className="success small"
          role="status"
          data-testid="streams.keep.message"
          data-image-id={kept.result.imageId}
        >
          {kept.result.created ? 'Kept' : 'Already kept:'} frame {kept.frame.frame} of series{' '}
          {String(kept.frame.seriesId)} as{' '}
          <Link
            href={`/projects/${projectId}/images/${kept.result.imageId}`}
            data-testid="streams.keep.link"
          >
            image #{kept.result.imageId}
          </Link>
          {kept.result.created
            ? ` with ${kept.result.suggestions} suggestion${kept.result.suggestions === 1 ? '' : 's'}.`
            : '.'}
        </p>
      )}
      {error && (
        <p className="error small" role="alert" data-testid="streams.keep.error">
          {error}
        </p>
      )}
    </div>
  )
}
