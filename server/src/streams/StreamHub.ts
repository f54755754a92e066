// The stream pipeline of one server process: series start and end, frames queued per stream with
// the declared drop policy, dispatched round-robin to the shared frame analyzer (worker
// threads), results emitted strictly in arrival order per stream, rules turned into recorded
// feedback events sent to the stream's instruments and subscribers, and the live channel fed.
// It never blocks on inference or storage; a multi-process version replaces this class behind
// the same methods.
import { performance } from 'node:perf_hooks'
import {
  emptyCounters,
  type FrameSummary,
  type ImageMessage,
  type SeriesId,
  type StartMessage,
  type StreamInfo,
} from '../../../shared/schemas/streams.ts'
import type { ProjectEvent } from '../../../shared/schemas/training.ts'
import { evaluateRules, frameFigures } from '../../../shared/streams/rules.ts'
import type { Db } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import type { ModelVersionRow } from '../models/ModelVersions.ts'
import { AutoKeeper } from './AutoKeeper.ts'
import { type FrameOutcome, feedbackDraft, frameSummary } from './frameResults.ts'
import type { FrameAnalysis, FrameAnalyzer, ModelFiles } from './inference/FrameAnalyzer.ts'
import { frameSamples, IngestRefusal } from './ingestMessages.ts'
import {
  type HeldFrame,
  type InstrumentPeer,
  LiveStream,
  limitOf,
  type PendingFrame,
  type SeriesState,
  type StreamPeer,
  seriesKey,
} from './liveStream.ts'
import { getStream, recordEvent, type StreamRecord } from './streamRecords.ts'

/** The live channel gets processed frames at most this often per stream. */
const BATCH_MS = 200
/** …and at most this many summaries a batch (the newest). */
const BATCH_MAX = 100

export interface StreamHubOptions {
  db: Db
  log: Logger
  versions: {
    currentFor(projectId: number): ModelVersionRow
    readFile(projectId: number, versionId: number, file: string): Promise<{ bytes: Buffer }>
  }
  /** Creates the analyzer on the first frame. */
  createAnalyzer(): FrameAnalyzer
  publish(projectId: number, event: ProjectEvent): void
  /** Stores a held frame as an image (automatic keep of a flagged frame). */
  keep(stream: StreamRecord, frame: HeldFrame, userId: number | null): Promise<unknown>
}

export class StreamHub {
  private readonly streams = new Map<number, LiveStream>()
  /** Streams with waiting frames, served in turn (one frame each) while workers are free. */
  private readonly ready: LiveStream[] = []
  private analyzer: FrameAnalyzer | null = null
  private inFlight = 0
  private readonly autoKeep: AutoKeeper
  private closed = false
  private lastFailureLog = 0

  constructor(private readonly options: StreamHubOptions) {
    this.autoKeep = new AutoKeeper(
      (stream, frame) => options.keep(stream.record, frame, frame.keptBy),
      (stream) => this.streams.get(stream.record.id) === stream,
      options.log,
    )
  }

  /** The live state of a stream (created on first use), or null when it does not exist. */
  private live(streamId: number): LiveStream | null {
    const existing = this.streams.get(streamId)
    if (existing) return existing
    const record = getStream(this.options.db, streamId)
    if (!record) return null
    const stream = new LiveStream(record)
    this.streams.set(streamId, stream)
    return stream
  }

  private liveOrThrow(streamId: number): LiveStream {
    const stream = this.live(streamId)
    if (!stream) throw new IngestRefusal(`stream ${streamId} no longer exists`)
    return stream
  }

  info(record: StreamRecord): StreamInfo {
    const stream = this.live(record.id) ?? new LiveStream(record)
    stream.record = record
    return stream.info()
  }

  /** The stream's settings or rules changed: read them again and tell the project. */
  streamChanged(streamId: number): void {
    const record = getStream(this.options.db, streamId)
    const stream = this.live(streamId)
    if (!record || !stream) return
    stream.record = record
    this.publishState(stream)
  }

  streamDeleted(projectId: number, streamId: number): void {
    const stream = this.streams.get(streamId)
    if (stream) {
      for (const peer of [...stream.instruments, ...stream.subscribers])
        peer.close(4404, 'stream deleted')
      for (const frame of stream.queue.splice(0)) frame.series.pending--
      if (stream.batchTimer) clearTimeout(stream.batchTimer)
      this.streams.delete(streamId)
    }
    this.options.publish(projectId, { type: 'stream', streamId, stream: null })
  }

  /** The project is gone: each of its live streams as if deleted. */
  projectDeleted(projectId: number): void {
    for (const stream of [...this.streams.values()])
      if (stream.record.projectId === projectId) this.streamDeleted(projectId, stream.record.id)
  }

  // ── Peers ────────────────────────────────────────────────────────────────────────────────

  attachInstrument(streamId: number, peer: InstrumentPeer): () => void {
    const stream = this.liveOrThrow(streamId)
    stream.instruments.add(peer)
    this.publishState(stream)
    return () => {
      if (!stream.instruments.delete(peer)) return
      // Its series end once their frames are through; no one is left to tell.
      for (const series of stream.running.values()) {
        if (series.owner !== peer) continue
        series.owner = null
        series.ending = true
        this.finishSeries(stream, series)
      }
      if (this.streams.get(streamId) === stream) this.publishState(stream)
    }
  }

  attachSubscriber(streamId: number, peer: StreamPeer): () => void {
    const stream = this.liveOrThrow(streamId)
    stream.subscribers.add(peer)
    return () => stream.subscribers.delete(peer)
  }

  /** Closes every connection made with a revoked token. */
  tokenRevoked(tokenId: number): void {
    for (const stream of this.streams.values())
      for (const peer of stream.instruments)
        if (peer.tokenId === tokenId) peer.close(4401, 'token revoked')
  }

  currentModelName(projectId: number): string {
    try {
      return this.options.versions.currentFor(projectId).name
    } catch {
      return ''
    }
  }

  // ── Messages from an instrument ──────────────────────────────────────────────────────────

  /** Counts a refused message (on the series too, when it names a running one). */
  refused(streamId: number, seriesId?: SeriesId): void {
    const stream = this.streams.get(streamId)
    if (!stream) return
    stream.counters.refused++
    if (seriesId !== undefined) {
      const series = stream.running.get(seriesKey(seriesId))
      if (series) series.counters.refused++
    }
  }

  start(streamId: number, peer: InstrumentPeer, start: StartMessage): SeriesState {
    const stream = this.liveOrThrow(streamId)
    const key = seriesKey(start.series_id)
    if (stream.running.has(key))
      throw new IngestRefusal(
        `series ${key} is already running; end it first or start another series id`,
        start.series_id,
      )
    const backpressure = start.backpressure ?? stream.record.backpressure
    const series: SeriesState = {
      id: start.series_id,
      key,
      height: start.shape[0],
      width: start.shape[1],
      channels: start.channels,
      dtype: start.dtype,
      pixelSize: start.pixel_size ?? null,
      backpressure,
      limit: limitOf(backpressure),
      startedAt: new Date().toISOString(),
      endedAt: null,
      counters: emptyCounters(),
      pending: 0,
      ending: false,
      owner: peer,
    }
    stream.running.set(key, series)
    peer.send({ type: 'started', series_id: start.series_id, backpressure })
    for (const subscriber of stream.subscribers)
      subscriber.send({ type: 'series', state: 'started', series_id: start.series_id })
    this.publishState(stream)
    return series
  }

  /** A frame: checked against its series, queued by the series' policy, pumped. */
  frame(streamId: number, image: ImageMessage): void {
    const receivedMs = performance.now()
    const stream = this.liveOrThrow(streamId)
    const series = stream.running.get(seriesKey(image.series_id))
    if (!series || series.ending)
      throw new IngestRefusal(
        series
          ? `series ${seriesKey(image.series_id)} has ended`
          : `unknown series ${seriesKey(image.series_id)}: send its start first`,
        image.series_id,
        image.image_id,
      )
    let samples: PendingFrame['samples']
    try {
      samples = frameSamples(image.data, series)
    } catch (error) {
      throw new IngestRefusal((error as Error).message, image.series_id, image.image_id)
    }
    const frame: PendingFrame = {
      series,
      frame: image.image_id,
      seq: stream.takeSeq(),
      samples,
      stage: image.stage ?? null,
      acquiredAt: acquiredAt(image.acquired_at),
      receivedAt: new Date().toISOString(),
      receivedMs,
    }
    stream.counters.received++
    series.counters.received++
    series.pending++
    stream.queue.push(frame)
    while (stream.queue.length > series.limit) this.drop(stream, stream.queue.shift()!)
    if (!this.ready.includes(stream)) this.ready.push(stream)
    this.pump()
  }

  end(streamId: number, seriesId: SeriesId): void {
    const stream = this.liveOrThrow(streamId)
    const series = stream.running.get(seriesKey(seriesId))
    if (!series || series.ending)
      throw new IngestRefusal(`unknown series ${seriesKey(seriesId)}`, seriesId)
    series.ending = true
    this.finishSeries(stream, series)
  }

  // ── Reads ────────────────────────────────────────────────────────────────────────────────

  recentFrames(streamId: number, limit: number): FrameSummary[] {
    return this.streams.get(streamId)?.recent.slice(-limit) ?? []
  }

  heldFrame(streamId: number, series: string, frame: number): HeldFrame | null {
    const stream = this.streams.get(streamId)
    if (!stream) return null
    return stream.findHeld(series, frame) ?? this.autoKeep.find(stream, series, frame)
  }

  latestHeld(streamId: number): HeldFrame | null {
    return this.streams.get(streamId)?.held.at(-1) ?? null
  }

  /** Whether the stream saw the frame (processed, among the recent ones). */
  knewFrame(streamId: number, series: string, frame: number): boolean {
    return this.streams.get(streamId)?.findRecent(series, frame) !== undefined
  }

  /** A frame became an image: its summary says so and the stream counts it. */
  markKept(streamId: number, seriesId: SeriesId, frame: number, imageId: number): void {
    const stream = this.streams.get(streamId)
    if (!stream) return
    stream.counters.kept++
    const series = stream.running.get(seriesKey(seriesId))
    if (series) series.counters.kept++
    const key = seriesKey(seriesId)
    const held = stream.findHeld(key, frame)
    if (held) held.summary.keptImageId = imageId
    const summary = stream.findRecent(key, frame)
    if (summary) {
      summary.keptImageId = imageId
      this.queueBatch(stream, summary)
    }
  }

  // ── The pipeline ─────────────────────────────────────────────────────────────────────────

  private drop(stream: LiveStream, frame: PendingFrame): void {
    stream.counters.dropped++
    frame.series.counters.dropped++
    frame.series.pending--
    this.finishSeries(stream, frame.series)
  }

  private pump(): void {
    if (this.closed) return
    this.analyzer ??= this.options.createAnalyzer()
    const analyzer = this.analyzer
    while (this.ready.length > 0 && this.inFlight < analyzer.size && analyzer.idleWorkers > 0) {
      const stream = this.ready.shift()!
      const frame = stream.queue.shift()
      if (!frame) continue
      if (stream.queue.length > 0) this.ready.push(stream)
      this.dispatch(analyzer, stream, frame)
    }
  }

  private dispatch(analyzer: FrameAnalyzer, stream: LiveStream, frame: PendingFrame): void {
    const order = stream.nextDispatch++
    const { projectId } = stream.record
    let version: ModelVersionRow
    try {
      // Looked up per frame: a newly promoted version runs from the next frame on.
      version = this.options.versions.currentFor(projectId)
    } catch (error) {
      this.failed(stream, order, frame, error)
      return
    }
    this.inFlight++
    stream.inFlight++
    const { series } = frame
    analyzer
      .analyze(
        {
          width: series.width,
          height: series.height,
          channels: series.channels,
          dtype: series.dtype,
          samples: frame.samples,
        },
        { versionId: version.id, load: () => this.loadModel(projectId, version) },
      )
      .then(
        (analysis) => this.finish(stream, order, () => this.emit(stream, frame, version, analysis)),
        (error) => this.failed(stream, order, frame, error),
      )
      .finally(() => {
        this.inFlight--
        stream.inFlight--
        this.pump()
      })
  }

  private async loadModel(projectId: number, version: ModelVersionRow): Promise<ModelFiles> {
    const [encoder, decoder] = await Promise.all([
      this.options.versions.readFile(projectId, version.id, 'encoder'),
      this.options.versions.readFile(projectId, version.id, 'decoder'),
    ])
    return {
      versionId: version.id,
      versionName: version.name,
      cardJson: version.cardJson,
      encoder: encoder.bytes,
      decoder: decoder.bytes,
    }
  }

  /** A frame the model could not analyse counts as dropped (it was not processed). */
  private failed(stream: LiveStream, order: number, frame: PendingFrame, error: unknown): void {
    const now = Date.now()
    if (now - this.lastFailureLog > 10_000) {
      this.lastFailureLog = now
      this.options.log.error(
        `stream ${stream.record.id}: frame ${frame.frame} of series ${frame.series.key} was not analysed`,
        error,
      )
    }
    this.finish(stream, order, () => this.drop(stream, frame))
  }

  /** Puts a result in the reorder buffer and emits every result that is next in order. */
  private finish(stream: LiveStream, order: number, emit: () => void): void {
    stream.finished.set(order, emit)
    for (;;) {
      const next = stream.finished.get(stream.nextEmit)
      if (!next) break
      stream.finished.delete(stream.nextEmit)
      stream.nextEmit++
      if (this.streams.get(stream.record.id) !== stream) continue
      try {
        next()
      } catch (error) {
        this.options.log.error(`stream ${stream.record.id}: a result could not be emitted`, error)
      }
    }
  }

  private emit(
    stream: LiveStream,
    frame: PendingFrame,
    version: ModelVersionRow,
    analysis: FrameAnalysis,
  ): void {
    try {
      this.emitResult(stream, frame, version, analysis)
    } finally {
      // Whatever failed on the way, the frame is through: the series can still end.
      frame.series.pending--
      this.finishSeries(stream, frame.series)
    }
  }

  private emitResult(
    stream: LiveStream,
    frame: PendingFrame,
    version: ModelVersionRow,
    analysis: FrameAnalysis,
  ): void {
    const { series } = frame
    const { record } = stream
    const figures = frameFigures(analysis.objects)
    const outcome: FrameOutcome = {
      streamId: record.id,
      frame,
      modelVersion: { id: version.id, name: version.name },
      figures,
      firings: evaluateRules(record.rules, figures),
      inferenceMs: analysis.inferenceMs,
    }
    const summary = frameSummary(outcome, performance.now())
    stream.counters.processed++
    series.counters.processed++
    for (const firing of outcome.firings) {
      const event = recordEvent(this.options.db, feedbackDraft(outcome, firing, performance.now()))
      stream.counters.events++
      series.counters.events++
      for (const peer of stream.instruments) peer.send({ type: 'event', event })
      for (const peer of stream.subscribers) peer.send({ type: 'event', event })
      this.options.publish(record.projectId, { type: 'stream-event', event })
    }
    const flagged = summary.actions.includes('flag')
    if (flagged) {
      stream.counters.flagged++
      series.counters.flagged++
    }
    stream.addRecent(summary)
    const held: HeldFrame = {
      streamId: record.id,
      summary,
      dtype: series.dtype,
      channels: series.channels,
      samples: analysis.samples,
      labels: analysis.labels,
      objects: analysis.objects,
      keptBy: series.owner?.tokenCreatedBy ?? null,
    }
    stream.hold(held)
    if (flagged && record.keepFlagged) this.autoKeep.add(stream, held)
    this.queueBatch(stream, summary)
  }

  /** Sends `ended` once an ending series has nothing left in the pipeline. */
  private finishSeries(stream: LiveStream, series: SeriesState): void {
    if (!series.ending || series.pending > 0 || series.endedAt) return
    series.endedAt = new Date().toISOString()
    stream.running.delete(series.key)
    stream.lastSeries = series
    series.owner?.send({ type: 'ended', series_id: series.id, counters: { ...series.counters } })
    for (const subscriber of stream.subscribers)
      subscriber.send({ type: 'series', state: 'ended', series_id: series.id })
    this.flushBatch(stream)
    this.publishState(stream)
  }

  // ── The live channel ─────────────────────────────────────────────────────────────────────

  private queueBatch(stream: LiveStream, summary: FrameSummary): void {
    stream.batch.push(summary)
    if (stream.batch.length > BATCH_MAX) stream.batch.splice(0, stream.batch.length - BATCH_MAX)
    stream.batchTimer ??= setTimeout(() => this.flushBatch(stream), BATCH_MS)
  }

  private flushBatch(stream: LiveStream): void {
    if (stream.batchTimer) clearTimeout(stream.batchTimer)
    stream.batchTimer = null
    if (stream.batch.length === 0) return
    const frames = stream.batch
    stream.batch = []
    this.options.publish(stream.record.projectId, {
      type: 'stream-frames',
      streamId: stream.record.id,
      frames,
      counters: { ...stream.counters },
    })
  }

  private publishState(stream: LiveStream): void {
    this.options.publish(stream.record.projectId, {
      type: 'stream',
      streamId: stream.record.id,
      stream: stream.info(),
    })
  }

  async close(): Promise<void> {
    this.closed = true
    this.autoKeep.close()
    for (const stream of this.streams.values()) {
      if (stream.batchTimer) clearTimeout(stream.batchTimer)
      for (const peer of [...stream.instruments, ...stream.subscribers])
        peer.close(1001, 'server shutting down')
    }
    this.streams.clear()
    const analyzer = this.analyzer
    this.analyzer = null
    await analyzer?.close()
  }
}

function acquiredAt(value: number | string | undefined): string | null {
  if (value === undefined) return null
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}
