// The live view's recent frames (oldest first, by arrival order) and event log (newest first):
// merging what a fetch returned with what the live channel brought, without duplicates and
// within a bound, and the chart's columns.
import type { FeedbackEvent, FrameSummary, SeriesId } from '../../../../shared/schemas/streams.ts'

/** Frames the charts keep (the rest fall off the left). */
export const FRAME_HISTORY = 300
/** Events the log keeps. */
export const EVENT_HISTORY = 200

/** Identity of a frame of a stream (a series id may be a number or text). */
export const frameKey = (seriesId: SeriesId, frame: number) => JSON.stringify([seriesId, frame])

/** Frames by arrival order, a later copy of a frame replacing an earlier one; the newest `cap`. */
export function mergeFrames(
  frames: readonly FrameSummary[],
  incoming: readonly FrameSummary[],
  cap = FRAME_HISTORY,
): FrameSummary[] {
  if (incoming.length === 0) return frames as FrameSummary[]
  const bySeq = new Map<number, FrameSummary>()
  for (const frame of frames) bySeq.set(frame.seq, frame)
  for (const frame of incoming) bySeq.set(frame.seq, frame)
  const merged = [...bySeq.values()].sort((a, b) => a.seq - b.seq)
  return merged.length > cap ? merged.slice(merged.length - cap) : merged
}

/** Events newest first, each once; the newest `cap`. */
export function mergeEvents(
  events: readonly FeedbackEvent[],
  incoming: readonly FeedbackEvent[],
  cap = EVENT_HISTORY,
): FeedbackEvent[] {
  if (incoming.length === 0) return events as FeedbackEvent[]
  const byId = new Map<number, FeedbackEvent>()
  for (const event of events) byId.set(event.id, event)
  for (const event of incoming) byId.set(event.id, event)
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, cap)
}

/** The chart's columns: arrival time (Unix seconds), count, mean area, latency. */
export function chartColumns(
  frames: readonly FrameSummary[],
): [number[], number[], number[], number[]] {
  const time: number[] = []
  const count: number[] = []
  const meanArea: number[] = []
  const latency: number[] = []
  let last = Number.NEGATIVE_INFINITY
  for (const frame of frames) {
    // uPlot needs ascending x; clocks may step back, arrival order may not.
    const t = Math.max(Date.parse(frame.receivedAt) / 1000, last)
    last = t
    time.push(t)
    count.push(frame.count)
    meanArea.push(frame.meanArea)
    latency.push(frame.latencyMs)
  }
  return [time, count, meanArea, latency]
}
