// Flagged frames of streams that keep them, stored as images one at a time off the frame path.
// Bounded: past AUTO_KEEP_QUEUE waiting frames a flagged frame is not kept (and logged), so a
// burst of flags cannot hold unbounded frames in memory.
import type { Logger } from '../logger.ts'
import { type HeldFrame, type LiveStream, seriesKey } from './liveStream.ts'

/** Flagged frames waiting to be kept automatically; more are not kept (and logged). */
export const AUTO_KEEP_QUEUE = 16

export class AutoKeeper {
  private readonly waiting: { stream: LiveStream; frame: HeldFrame }[] = []
  private running = false
  private closed = false

  constructor(
    private readonly keep: (stream: LiveStream, frame: HeldFrame) => Promise<unknown>,
    /** Whether the stream still exists (a deleted stream's frames are not kept). */
    private readonly isLive: (stream: LiveStream) => boolean,
    private readonly log: Logger,
  ) {}

  add(stream: LiveStream, frame: HeldFrame): void {
    if (this.closed) return
    if (this.waiting.length >= AUTO_KEEP_QUEUE) {
      this.log.info(
        `stream ${stream.record.id}: flagged frame ${frame.summary.frame} not kept (${AUTO_KEEP_QUEUE} frames wait to be kept already)`,
      )
      return
    }
    this.waiting.push({ stream, frame })
    if (!this.running) void this.run()
  }

  /** A frame still waiting to be kept (it may have left the stream's held frames). */
  find(stream: LiveStream, series: string, frame: number): HeldFrame | null {
    return (
      this.waiting.find(
        (entry) =>
          entry.stream === stream &&
          entry.frame.summary.frame === frame &&
          seriesKey(entry.frame.summary.seriesId) === series,
      )?.frame ?? null
    )
  }

  close(): void {
    this.closed = true
  }

  private async run(): Promise<void> {
    this.running = true
    try {
      while (this.waiting.length > 0 && !this.closed) {
        const { stream, frame } = this.waiting[0]
        try {
          if (this.isLive(stream)) await this.keep(stream, frame)
        } catch (error) {
          this.log.error(
            `stream ${stream.record.id}: flagged frame ${frame.summary.frame} could not be kept`,
            error,
          )
        }
        this.waiting.shift()
      }
    } finally {
      this.running = false
    }
  }
}
