// What the server holds in memory for one stream: its counters, series, waiting frames, recent
// frame summaries and the few newest full frames (for Keep and the live picture). Every
// collection here is bounded, so memory stays flat however fast frames arrive.
import {
  type Backpressure,
  emptyCounters,
  type FrameObject,
  type FrameSummary,
  type SeriesId,
  type SeriesInfo,
  type StagePosition,
  type StreamCounters,
  type StreamDtype,
  type StreamInfo,
} from '../../../shared/schemas/streams.ts'
import type { FrameSamples } from './inference/FrameAnalyzer.ts'
import type { StreamRecord } from './streamRecords.ts'

/** Summaries of processed frames kept per stream (GET …/frames). */
export const RECENT_FRAMES = 600
/** Full frames (samples, labels, objects) held per stream for Keep and the PNG… */
export const HELD_FRAMES = 16
/** …and at most this many bytes of them (a few 4096² frames, not 16). */
export const HELD_FRAME_BYTES = 256 * 1024 * 1024

/** A series' key in maps and URLs: its id as text (Stream V2's number 7 and "7" are one). */
export const seriesKey = (id: SeriesId) => String(id)
export const frameKey = (series: SeriesId, frame: number) => `${seriesKey(series)}/${frame}`

/** The side of a connection the pipeline talks to (CBOR for instruments, JSON for subscribers). */
export interface StreamPeer {
  send(message: import('../../../shared/schemas/streams.ts').ServerMessage): void
  close(code: number, reason: string): void
}

export interface InstrumentPeer extends StreamPeer {
  tokenId: number
  /** Who created the token: the owner of frames kept automatically. */
  tokenCreatedBy: number | null
}

export interface SeriesState {
  id: SeriesId
  key: string
  width: number
  height: number
  channels: number
  dtype: StreamDtype
  pixelSize: { x: number; y: number } | null
  backpressure: Backpressure
  /** Most frames waiting (1 for `latest`). */
  limit: number
  startedAt: string
  endedAt: string | null
  counters: StreamCounters
  /** Frames received and not yet processed or dropped. */
  pending: number
  /** An end arrived; `ended` goes out when pending reaches 0. */
  ending: boolean
  owner: InstrumentPeer | null
}

/** A frame waiting for, or in, the analyzer. */
export interface PendingFrame {
  series: SeriesState
  frame: number
  seq: number
  samples: FrameSamples
  stage: StagePosition | null
  acquiredAt: string | null
  receivedAt: string
  /** performance.now() at arrival, for latencies. */
  receivedMs: number
}

/** A processed frame held whole. */
export interface HeldFrame {
  streamId: number
  summary: FrameSummary
  dtype: StreamDtype
  channels: number
  samples: FrameSamples
  labels: Uint32Array
  objects: FrameObject[]
  /** Owner of an automatic keep. */
  keptBy: number | null
}

export const limitOf = (backpressure: Backpressure) =>
  backpressure === 'latest' ? 1 : Number(backpressure.slice('queue:'.length))

export class LiveStream {
  readonly counters = emptyCounters()
  readonly running = new Map<string, SeriesState>()
  lastSeries: SeriesState | null = null
  readonly instruments = new Set<InstrumentPeer>()
  readonly subscribers = new Set<StreamPeer>()
  readonly queue: PendingFrame[] = []
  /** Frames in the analyzer. */
  inFlight = 0
  private nextSeq = 1
  nextDispatch = 0
  nextEmit = 0
  /** Results by dispatch order, emitted strictly in that order (the reorder buffer). */
  readonly finished = new Map<number, () => void>()
  readonly recent: FrameSummary[] = []
  readonly held: HeldFrame[] = []
  private heldBytes = 0
  /** Summaries not yet published on the live channel. */
  batch: FrameSummary[] = []
  batchTimer: NodeJS.Timeout | null = null

  constructor(public record: StreamRecord) {}

  takeSeq(): number {
    return this.nextSeq++
  }

  addRecent(summary: FrameSummary): void {
    this.recent.push(summary)
    if (this.recent.length > RECENT_FRAMES)
      this.recent.splice(0, this.recent.length - RECENT_FRAMES)
  }

  hold(frame: HeldFrame): void {
    this.held.push(frame)
    this.heldBytes += bytesOf(frame)
    while (
      this.held.length > HELD_FRAMES ||
      (this.held.length > 1 && this.heldBytes > HELD_FRAME_BYTES)
    ) {
      this.heldBytes -= bytesOf(this.held.shift()!)
    }
  }

  findHeld(series: string, frame: number): HeldFrame | undefined {
    for (let i = this.held.length - 1; i >= 0; i--) {
      const held = this.held[i]
      if (held.summary.frame === frame && seriesKey(held.summary.seriesId) === series) return held
    }
    return undefined
  }

  /** The newest summary of a frame, if still among the recent ones. */
  findRecent(series: string, frame: number): FrameSummary | undefined {
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const summary = this.recent[i]
      if (summary.frame === frame && seriesKey(summary.seriesId) === series) return summary
    }
    return undefined
  }

  info(): StreamInfo {
    const { record } = this
    const current = [...this.running.values()].at(-1) ?? this.lastSeries
    return {
      id: record.id,
      projectId: record.projectId,
      name: record.name,
      backpressure: record.backpressure,
      keepFlagged: record.keepFlagged,
      rules: record.rules,
      createdAt: record.createdAt,
      connected: this.instruments.size,
      counters: { ...this.counters },
      series: current ? seriesInfo(current) : null,
      latest: this.recent.at(-1) ?? null,
    }
  }
}

export function seriesInfo(series: SeriesState): SeriesInfo {
  return {
    seriesId: series.id,
    width: series.width,
    height: series.height,
    dtype: series.dtype,
    channels: series.channels,
    pixelSize: series.pixelSize,
    backpressure: series.backpressure,
    startedAt: series.startedAt,
    endedAt: series.endedAt,
    counters: { ...series.counters },
  }
}

const bytesOf = (frame: HeldFrame) => frame.samples.byteLength + frame.labels.byteLength
