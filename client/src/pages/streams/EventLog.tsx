// The stream's feedback events, newest first: what each rule did, on which frame, with which
// model, and whether that frame was kept as an image.
import type { FeedbackEvent } from '../../../../shared/schemas/streams.ts'
import { Link } from '../../app/Link.tsx'
import { frameKey } from './frameBuffer.ts'

export function EventLog({
  projectId,
  events,
  keptImages,
}: {
  projectId: number
  events: readonly FeedbackEvent[]
  /** Image ids of kept frames, by frameKey. */
  keptImages: ReadonlyMap<string, number>
}) {
  if (events.length === 0)
    return (
      <p className="empty" data-testid="streams.events.empty">
        No feedback events yet: they appear here when a rule fires.
      </p>
    )
  return (
    <div className="table-scroll stream-events">
      <table className="table compact" data-testid="streams.events">
        <thead>
          <tr>
            <th>Time</th>
            <th>Action</th>
            <th>Rule</th>
            <th>Series</th>
            <th>Frame</th>
            <th>Targets</th>
            <th>Model</th>
            <th>Latency</th>
            <th>Kept</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => {
            const kept = keptImages.get(frameKey(event.seriesId, event.frame))
            return (
              <tr
                key={event.id}
                data-testid="streams.events.item"
                data-event-id={event.id}
                data-action={event.action}
                data-series={String(event.seriesId)}
                data-frame={event.frame}
                data-kept={kept !== undefined}
              >
                <td className="muted">{new Date(event.at).toLocaleTimeString()}</td>
                <td>
                  <span className={`badge stream-action-${event.action}`}>{event.action}</span>
                </td>
                <td>{event.ruleName}</td>
                <td>{String(event.seriesId)}</td>
                <td data-testid="streams.events.frame">{event.frame}</td>
                <td>{event.targets.length}</td>
                <td>{event.modelVersion.name}</td>
                <td className="muted">{Math.round(event.latencyMs)} ms</td>
                <td>
                  {kept !== undefined && (
                    <Link href={`/projects/${projectId}/images/${kept}`}>image #{kept}</Link>
                  )}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
