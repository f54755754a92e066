// The shown frame's picture with its detections drawn (rendered by the server), or why there is
// none yet.
import type { ShownFrame } from './useShownFrame.ts'

export function FramePicture({
  shown,
  hasFrames,
  error,
}: {
  shown: ShownFrame | null
  hasFrames: boolean
  error: string | null
}) {
  const frame = shown?.frame
  return (
    <figure className="stream-picture" data-testid="streams.picture">
      {shown && frame ? (
        <img
          src={shown.src}
          alt={`Frame ${frame.frame} of series ${frame.seriesId} with its ${frame.count} detections`}
          width={frame.width}
          height={frame.height}
          data-testid="streams.picture.image"
          data-seq={frame.seq}
          data-frame={frame.frame}
        />
      ) : (
        <p className="stream-picture-empty muted">
          {hasFrames ? 'Loading the picture…' : 'No frames yet.'}
        </p>
      )}
      {error && (
        <figcaption className="error small" role="alert" data-testid="streams.picture.error">
          {error}
        </figcaption>
      )}
    </figure>
  )
}
