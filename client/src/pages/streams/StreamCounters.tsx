// A stream's counters since the server started, and the series running now (or the last one),
// or that no instrument is connected.
import type { StreamInfo } from '../../../../shared/schemas/streams.ts'
import { describeBackpressure } from './backpressure.ts'

const COUNTERS = [
  ['received', 'Received'],
  ['processed', 'Processed'],
  ['dropped', 'Dropped'],
  ['refused', 'Refused'],
  ['flagged', 'Flagged'],
  ['kept', 'Kept'],
  ['events', 'Events'],
] as const

export function StreamCounters({ stream }: { stream: StreamInfo }) {
  return (
    <ul className="stream-counters" data-testid="streams.counters">
      {COUNTERS.map(([key, label]) => (
        <li
          key={key}
          className="stream-counter"
          data-testid={`streams.counters.${key}`}
          data-value={stream.counters[key]}
        >
          <span className="stream-counter-value">{stream.counters[key].toLocaleString()}</span>
          <span className="muted small">{label}</span>
        </li>
      ))}
    </ul>
  )
}

export function SeriesFacts({ stream }: { stream: StreamInfo }) {
  const { series, connected } = stream
  const running = series !== null && series.endedAt === null
  return (
    <div className="stack-tight small" data-testid="streams.series" data-running={running}>
      <p data-testid="streams.series.connection" data-connected={connected}>
        {connected === 0 ? (
          <span className="muted">No instrument connected.</span>
        ) : (
          `${connected} instrument${connected === 1 ? '' : 's'} connected.`
        )}
      </p>
      {series ? (
        <p>
          {running ? 'Series' : 'Last series'} <strong>{String(series.seriesId)}</strong>:{' '}
          {series.width}×{series.height} {series.dtype}, {series.channels} channel
          {series.channels === 1 ? '' : 's'}
          {series.pixelSize && `, ${series.pixelSize.x}×${series.pixelSize.y} µm pixels`};{' '}
          {describeBackpressure(series.backpressure)};{' '}
          {running
            ? `running since ${new Date(series.startedAt).toLocaleTimeString()}`
            : `ended ${new Date(series.endedAt ?? series.startedAt).toLocaleTimeString()}`}
          .
        </p>
      ) : (
        <p className="muted">No series since the server started.</p>
      )}
    </div>
  )
}
