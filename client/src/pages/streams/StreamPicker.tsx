// The project's streams as a short table to choose from: policy, instruments connected, frames
// received and processed, and flagged.
import type { StreamInfo } from '../../../../shared/schemas/streams.ts'
import { describeBackpressure } from './backpressure.ts'

export function StreamPicker({
  streams,
  selectedId,
  onSelect,
}: {
  streams: readonly StreamInfo[]
  selectedId: number | null
  onSelect(streamId: number): void
}) {
  return (
    <div className="table-scroll">
      <table className="table compact stream-picker" data-testid="streams.list">
        <thead>
          <tr>
            <th>Stream</th>
            <th>Backpressure</th>
            <th>Instruments</th>
            <th>Processed / received</th>
            <th>Flagged</th>
            <th>Rules</th>
          </tr>
        </thead>
        <tbody>
          {streams.map((stream) => {
            const selected = stream.id === selectedId
            return (
              <tr
                key={stream.id}
                className={selected ? 'selected' : ''}
                data-testid="streams.item"
                data-stream-id={stream.id}
                data-selected={selected}
              >
                <td>
                  <button
                    type="button"
                    className="link-button"
                    aria-pressed={selected}
                    onClick={() => onSelect(stream.id)}
                    data-testid="streams.item.open"
                  >
                    {stream.name}
                  </button>
                </td>
                <td className="muted">
                  {describeBackpressure(stream.backpressure)}
                  {stream.keepFlagged && ', keeps flagged'}
                </td>
                <td>{stream.connected}</td>
                <td>
                  {stream.counters.processed.toLocaleString()} /{' '}
                  {stream.counters.received.toLocaleString()}
                </td>
                <td>{stream.counters.flagged.toLocaleString()}</td>
                <td>{stream.rules.filter((rule) => rule.enabled).length}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
