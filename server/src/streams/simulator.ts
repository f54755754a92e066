// A detector simulator for tests, benchmarks and demos: replays frames (synthetic nuclei or a
// folder of images) as a Stream V2-style series (CBOR start, image…, end) over the ingest socket
// at a steady rate. It only speaks the wire contract (shared/schemas/streams.ts); it must never
// reach into the server's internals.
import { decode, encode } from 'cbor-x'
import WebSocket from 'ws'
import {
  type Backpressure,
  type SeriesId,
  ServerMessage,
  type StreamDtype,
} from '../../../shared/schemas/streams.ts'
import type { SimulatedFrame } from './simulatedFrames.ts'

export * from './simulatedFrames.ts'

export interface SimulatorOptions {
  /** ws URL of the ingest socket, ws://HOST/streams/:streamId/ingest. */
  url: string
  /** An instrument token (tsi_…). */
  token: string
  seriesId: SeriesId
  /** [height, width]. */
  shape: [number, number]
  dtype: StreamDtype
  channels: number
  /** Micrometres per pixel. */
  pixelSize?: { x: number; y: number }
  backpressure?: Backpressure
  metadata?: Record<string, unknown>
  frames: Iterable<SimulatedFrame> | AsyncIterable<SimulatedFrame>
  /** Frames per second; 0 sends as fast as the socket takes them. */
  rate: number
  onMessage?: (message: ServerMessage, at: number) => void
}

export interface SimulatorRun {
  /** Frames sent so far (final once `done` settles). */
  readonly sent: number
  /** image_id → performance.now() when its frame was handed to the socket. */
  sentAt: Map<number, number>
  /** Every message the server sent, in order. */
  messages: ServerMessage[]
  /** Resolves after the server's `ended` for the series; rejects if the server refuses the
   * start, or the socket closes or fails first. */
  done: Promise<void>
  /** Closes the socket now (mid-series if frames are still going). */
  close(): void
}

/** Bytes the client may hold unsent before it waits for the socket to drain. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024

/**
 * Connects, waits for `ready`, sends `start`, and resolves; the frames and `end` then go out in
 * the background (await `run.done`). Rejects when the connection is refused (for example an
 * invalid token) or closes before `ready`.
 */
export async function simulateDetector(options: SimulatorOptions): Promise<SimulatorRun> {
  const messages: ServerMessage[] = []
  const sentAt = new Map<number, number>()
  let sent = 0
  let closedByUs = false
  let ended = false
  let started = false
  const socket = new WebSocket(options.url, {
    headers: { authorization: `Bearer ${options.token}` },
    perMessageDeflate: false,
  })
  socket.binaryType = 'nodebuffer'

  let resolveReady!: () => void
  let rejectReady!: (error: Error) => void
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve
    rejectReady = reject
  })
  let resolveDone!: () => void
  let rejectDone!: (error: Error) => void
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve
    rejectDone = reject
  })
  // A caller that only awaits the connection must not see an unhandled rejection of `done`.
  done.catch(() => {})

  socket.on('unexpected-response', (_request, response) => {
    let body = ''
    response.on('data', (chunk: Buffer) => {
      if (body.length < 2000) body += chunk
    })
    response.on('end', () => {
      const error = new Error(
        `ingest refused: HTTP ${response.statusCode}${body ? ` ${body.trim()}` : ''}`,
      )
      rejectReady(error)
      rejectDone(error)
      socket.terminate()
    })
  })
  socket.on('error', (error) => {
    rejectReady(error)
    rejectDone(error)
  })
  socket.on('close', (code, reason) => {
    const error = new Error(
      closedByUs
        ? 'the simulator was closed before the series ended'
        : `ingest socket closed (${code}${reason.length ? ` ${reason}` : ''}) before the series ended`,
    )
    rejectReady(error)
    if (!ended) rejectDone(error)
  })
  socket.on('message', (data, isBinary) => {
    const at = performance.now()
    let parsed: ReturnType<typeof ServerMessage.safeParse>
    try {
      const raw = isBinary ? decode(data as Buffer) : JSON.parse(String(data))
      parsed = ServerMessage.safeParse(raw)
    } catch {
      return
    }
    if (!parsed.success) return
    const message = parsed.data
    messages.push(message)
    options.onMessage?.(message, at)
    if (message.type === 'ready') resolveReady()
    if (message.type === 'started' && message.series_id === options.seriesId) started = true
    // A refused start means no `ended` will come for this series.
    if (
      message.type === 'error' &&
      !started &&
      (message.series_id === undefined || message.series_id === options.seriesId)
    ) {
      rejectDone(new Error(`the server refused the series: ${message.error}`))
      socket.close(1000)
    }
    if (message.type === 'ended' && message.series_id === options.seriesId) {
      ended = true
      resolveDone()
      socket.close(1000)
    }
  })

  await ready
  const sendMessage = (message: Record<string, unknown>) =>
    new Promise<void>((resolve, reject) => {
      if (socket.readyState !== WebSocket.OPEN) {
        reject(new Error('ingest socket is not open'))
        return
      }
      socket.send(encode(message), { binary: true }, (error) => (error ? reject(error) : resolve()))
    })

  const start: Record<string, unknown> = {
    type: 'start',
    series_id: options.seriesId,
    shape: options.shape,
    dtype: options.dtype,
    channels: options.channels,
  }
  if (options.pixelSize) start.pixel_size = options.pixelSize
  if (options.backpressure) start.backpressure = options.backpressure
  if (options.metadata) start.metadata = options.metadata
  await sendMessage(start)

  const sendFrames = async () => {
    const interval = options.rate > 0 ? 1000 / options.rate : 0
    const startedAt = performance.now()
    let imageId = 0
    for await (const frame of options.frames) {
      if (closedByUs || socket.readyState !== WebSocket.OPEN) return
      // A fixed schedule (start + k × interval): a late frame does not push the later ones back.
      const due = startedAt + imageId * interval
      const wait = due - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      if (closedByUs || socket.readyState !== WebSocket.OPEN) return
      const message: Record<string, unknown> = {
        type: 'image',
        series_id: options.seriesId,
        image_id: imageId,
        acquired_at: Date.now() / 1000,
        data: frame.samples,
      }
      if (frame.stage) message.stage = frame.stage
      if (frame.metadata) message.metadata = frame.metadata
      sentAt.set(imageId, performance.now())
      const written = sendMessage(message)
      sent++
      imageId++
      // Wait for the socket to drain when it holds too much, so that a fast sender's frames pile
      // up at the server's policy, not in this process.
      if (socket.bufferedAmount > HIGH_WATER_BYTES) await written
      else written.catch(() => {})
    }
    if (!closedByUs && socket.readyState === WebSocket.OPEN)
      await sendMessage({ type: 'end', series_id: options.seriesId })
  }
  sendFrames().catch((error: Error) => {
    if (!closedByUs) rejectDone(error)
  })

  return {
    get sent() {
      return sent
    },
    sentAt,
    messages,
    done,
    close() {
      closedByUs = true
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN)
        socket.close(1000)
    },
  }
}
