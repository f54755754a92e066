// The shown frame's figures: which frame, what the model found, how long it took, and whether it
// was kept as an image.
import type { FrameSummary } from '../../../../shared/schemas/streams.ts'
import { Link } from '../../app/Link.tsx'

const round = (value: number, digits = 1) =>
  value.toLocaleString(undefined, { maximumFractionDigits: digits })

export function FrameFigures({ projectId, frame }: { projectId: number; frame: FrameSummary }) {
  return (
    <dl
      className="facts stream-figures"
      data-testid="streams.figures"
      data-seq={frame.seq}
      data-series={String(frame.seriesId)}
      data-frame={frame.frame}
    >
      <dt>Series</dt>
      <dd data-testid="streams.figures.series">{String(frame.seriesId)}</dd>
      <dt>Frame</dt>
      <dd data-testid="streams.figures.frame">
        {frame.frame}{' '}
        <span className="muted small">
          ({frame.width}×{frame.height})
        </span>
      </dd>
      <dt>Objects</dt>
      <dd data-testid="streams.figures.count">{frame.count}</dd>
      <dt>Mean area</dt>
      <dd data-testid="streams.figures.mean-area">{round(frame.meanArea)} px</dd>
      <dt>Mean score</dt>
      <dd>{round(frame.meanScore, 3)}</dd>
      <dt>Latency</dt>
      <dd data-testid="streams.figures.latency">
        {round(frame.latencyMs)} ms{' '}
        <span className="muted small">(model {round(frame.inferenceMs)} ms)</span>
      </dd>
      <dt>Model</dt>
      <dd data-testid="streams.figures.model-version">{frame.modelVersion.name}</dd>
      <dt>Rules</dt>
      <dd data-testid="streams.figures.actions">
        {frame.actions.length ? (
          frame.actions.join(', ')
        ) : (
          <span className="muted">none fired</span>
        )}
      </dd>
      {frame.keptImageId !== null && (
        <>
          <dt>Kept</dt>
          <dd data-testid="streams.figures.kept" data-image-id={frame.keptImageId}>
            <Link href={`/projects/${projectId}/images/${frame.keptImageId}`}>
              image #{frame.keptImageId}
            </Link>
          </dd>
        </>
      )}
    </dl>
  )
}
