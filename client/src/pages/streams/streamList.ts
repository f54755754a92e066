// The project's streams as the panel shows them: the fetched list kept current by the live
// channel (a stream created, changed or deleted, a series started or ended, new counters).
import type { StreamInfo } from '../../../../shared/schemas/streams.ts'
import type { ProjectEvent } from '../../../../shared/schemas/training.ts'

/** The list after one event of the project channel; the same list when the event is not about
 * streams' facts. */
export function applyStreamEvent(
  streams: readonly StreamInfo[],
  event: ProjectEvent,
): readonly StreamInfo[] {
  if (event.type === 'stream') {
    const others = streams.filter((s) => s.id !== event.streamId)
    if (!event.stream) return others.length === streams.length ? streams : others
    return [...others, event.stream].sort((a, b) => a.id - b.id)
  }
  if (event.type === 'stream-frames') {
    const index = streams.findIndex((s) => s.id === event.streamId)
    if (index < 0) return streams
    const stream = streams[index]!
    const newest = event.frames.reduce<StreamInfo['latest']>(
      (latest, frame) => (latest && latest.seq >= frame.seq ? latest : frame),
      stream.latest,
    )
    const next = [...streams]
    next[index] = { ...stream, counters: event.counters, latest: newest }
    return next
  }
  return streams
}
