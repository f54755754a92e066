// A detector simulator for tests, benchmarks and demos: replays frames (synthetic nuclei or a
// folder of images) as a Stream V2-style series (CBOR start, image…, end) over the ingest socket
// at a steady rate. It only speaks the wire contract (shared/schemas/streams.ts); it must never
// reach into the server's internals.
import fs from 'node:fs'
import path from 'node:path'
import { decode, encode } from 'cbor-x'
import sharp from 'sharp'
import WebSocket from 'ws'
import { createRandom } from '../../../shared/random/createRandom.ts'
import {
  type Backpressure,
  type SeriesId,
  ServerMessage,
  type StagePosition,
  type StreamDtype,
} from '../../../shared/schemas/streams.ts'
import { generateNuclei } from '../demo/syntheticNuclei.ts'

export type FrameSamples = Uint8Array | Uint16Array | Uint32Array | Float32Array

export interface SimulatedFrame {
  /** Interleaved samples, height × width × channels, of the series' dtype. */
  samples: FrameSamples
  stage?: StagePosition
  metadata?: Record<string, unknown>
}

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

// ── Frames ──────────────────────────────────────────────────────────────────────────────────

export interface SyntheticFramesOptions {
  width: number
  height: number
  count: number
  seed: number
  dtype: StreamDtype
  /** Samples per pixel (the nuclei plane repeated); 1 by default. */
  channels?: number
  /** Every largeEvery-th frame (image ids largeEvery−1, 2·largeEvery−1, …) gets one clearly
   * larger nucleus; none when absent or 0. */
  largeEvery?: number
}

export interface SyntheticFrames {
  frames: SimulatedFrame[]
  /** image ids of the frames with the large nucleus. */
  large: Set<number>
  /** Smallest area (pixels) a segmentation of a large nucleus can have (its ellipse shrunk by
   * OUTLINE_SLACK px). */
  largeArea: number
  /** Largest area (pixels) a segmentation of a normal nucleus can have (its ellipse grown by
   * OUTLINE_SLACK px). */
  normalMaxArea: number
}

/** Semi-axes of normal and large nuclei in pixels (the generator's ry is 0.6–1 × rx). */
const NORMAL_RADIUS: [number, number] = [6, 9]
const LARGE_RADIUS: [number, number] = [21, 23]
const ELONGATION_MIN = 0.6
/** Pixels a segmentation's outline may stray from the drawn ellipse (blur, the model's edges);
 * largeArea and normalMaxArea allow for it. */
const OUTLINE_SLACK = 2
/** Clear pixels between two nuclei's reaches. */
const GAP = 12

/** Converts 16-bit-range samples to a dtype (uint8: top byte; uint32: × 65536; float32: / 65535). */
export function convertSamples(samples: Uint16Array, dtype: StreamDtype): FrameSamples {
  switch (dtype) {
    case 'uint16':
      return samples
    case 'uint8':
      return Uint8Array.from(samples, (v) => v >> 8)
    case 'uint32':
      return Uint32Array.from(samples, (v) => v * 65536)
    case 'float32':
      return Float32Array.from(samples, (v) => v / 65535)
  }
}

function interleave(plane: FrameSamples, channels: number): FrameSamples {
  if (channels === 1) return plane
  const out = new (plane.constructor as new (length: number) => FrameSamples)(
    plane.length * channels,
  )
  for (let i = 0; i < plane.length; i++)
    for (let c = 0; c < channels; c++) out[i * channels + c] = plane[i]
  return out
}

interface Placement {
  cx: number
  cy: number
  /** Largest semi-axis the nucleus may have. */
  reach: number
  radius: [number, number]
}

/**
 * Centres for the nuclei of one frame, each at least `gap` pixels clear of the others and fully
 * inside the frame; the large one (if any) first. Fewer than asked when the frame is crowded.
 */
function placeNuclei(
  width: number,
  height: number,
  normal: number,
  withLarge: boolean,
  random: () => number,
): Placement[] {
  const wanted: [number, number][] = [
    ...(withLarge ? [LARGE_RADIUS] : []),
    ...Array.from({ length: normal }, () => NORMAL_RADIUS),
  ]
  const placed: Placement[] = []
  for (const radius of wanted) {
    const reach = radius[1]
    const margin = reach + 3
    if (2 * margin > width || 2 * margin > height) continue
    for (let attempt = 0; attempt < 100; attempt++) {
      const cx = margin + random() * (width - 2 * margin)
      const cy = margin + random() * (height - 2 * margin)
      if (placed.every((p) => Math.hypot(p.cx - cx, p.cy - cy) > p.reach + reach + GAP)) {
        placed.push({ cx, cy, reach, radius })
        break
      }
    }
  }
  return placed
}

/**
 * Deterministic fluorescence frames built from the demo generator (server/src/demo): its
 * background (illumination, shot and read noise) over the whole frame, and each nucleus drawn
 * from a small generated image of that one nucleus, taking the brighter sample around it. A few
 * nuclei of radius 6–9 px per frame, at least 12 px apart; in every largeEvery-th frame one more
 * of radius 21–23 px, so that `object_area ≥ T` with normalMaxArea < T < largeArea flags exactly
 * the `large` frames.
 */
export function syntheticFrames(options: SyntheticFramesOptions): SyntheticFrames {
  const { width, height, count, seed, dtype } = options
  const channels = options.channels ?? 1
  const largeEvery = options.largeEvery ?? 0
  const nucleiPerFrame = Math.max(1, Math.min(24, Math.round((width * height) / 9000)))
  const frames: SimulatedFrame[] = []
  const large = new Set<number>()
  for (let index = 0; index < count; index++) {
    const random = createRandom(seed * 7919 + index)
    const pixels = generateNuclei({
      seed: Math.floor(random() * 2 ** 31),
      width,
      height,
      channels: 1,
      count: 0,
      radius: NORMAL_RADIUS,
    }).pixels
    const withLarge = largeEvery > 0 && (index + 1) % largeEvery === 0
    const placements = placeNuclei(width, height, nucleiPerFrame, withLarge, random)
    if (withLarge) {
      if (placements[0]?.radius !== LARGE_RADIUS)
        throw new Error(`a ${width}×${height} frame has no room for a large nucleus`)
      large.add(index)
    }
    for (const placement of placements) drawNucleus(pixels, width, placement, random)
    frames.push({ samples: interleave(convertSamples(pixels, dtype), channels) })
  }
  return {
    frames,
    large,
    largeArea: Math.floor(
      Math.PI *
        (LARGE_RADIUS[0] - OUTLINE_SLACK) *
        (LARGE_RADIUS[0] * ELONGATION_MIN - OUTLINE_SLACK),
    ),
    normalMaxArea: Math.ceil(Math.PI * (NORMAL_RADIUS[1] + OUTLINE_SLACK) ** 2),
  }
}

/** Generates one nucleus in a small image and draws it, centred on the placement, into `pixels`
 * where it is brighter (its ellipse grown to cover the generator's blur). */
function drawNucleus(
  pixels: Uint16Array,
  width: number,
  placement: Placement,
  random: () => number,
) {
  const half = placement.reach + 3
  const tile = 2 * half
  const one = generateNuclei({
    seed: Math.floor(random() * 2 ** 31),
    width: tile,
    height: tile,
    channels: 1,
    count: 1,
    radius: placement.radius,
  })
  const nucleus = one.nuclei[0]
  if (!nucleus) return
  // Shift so the nucleus's own centre lands on the placement.
  const dx = Math.round(placement.cx - nucleus.cx)
  const dy = Math.round(placement.cy - nucleus.cy)
  const cos = Math.cos(nucleus.angle)
  const sin = Math.sin(nucleus.angle)
  const height = pixels.length / width
  for (let y = 0; y < tile; y++) {
    for (let x = 0; x < tile; x++) {
      const u = ((x + 0.5 - nucleus.cx) * cos + (y + 0.5 - nucleus.cy) * sin) / (nucleus.rx + 2)
      const v = (-(x + 0.5 - nucleus.cx) * sin + (y + 0.5 - nucleus.cy) * cos) / (nucleus.ry + 2)
      if (u * u + v * v >= 1) continue
      const tx = x + dx
      const ty = y + dy
      if (tx < 0 || ty < 0 || tx >= width || ty >= height) continue
      const i = ty * width + tx
      pixels[i] = Math.max(pixels[i], one.pixels[y * tile + x])
    }
  }
}

const IMAGE_EXTENSIONS = new Set(['.png', '.tif', '.tiff', '.jpg', '.jpeg'])

/**
 * Frames from a folder of images (an `images/` subfolder when there is one), in name order:
 * grey, centre-cropped or zero-padded to the shape, scaled from the file's range to the dtype's.
 */
export async function folderFrames(
  dir: string,
  options: { shape: [number, number]; dtype: StreamDtype; channels: number; limit?: number },
): Promise<SimulatedFrame[]> {
  const imagesDir = fs.existsSync(path.join(dir, 'images')) ? path.join(dir, 'images') : dir
  if (!fs.existsSync(imagesDir) || !fs.statSync(imagesDir).isDirectory())
    throw new Error(`${dir} is not a folder of images`)
  const files = fs
    .readdirSync(imagesDir)
    .filter((name) => IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase()))
    .sort()
    .slice(0, options.limit ?? Number.POSITIVE_INFINITY)
  if (files.length === 0) throw new Error(`${imagesDir} holds no PNG, TIFF or JPEG images`)
  const [height, width] = options.shape
  const frames: SimulatedFrame[] = []
  for (const name of files) {
    const file = path.join(imagesDir, name)
    const { data, info } = await sharp(file)
      .greyscale()
      .toColourspace('grey16')
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true })
      .catch((error: Error) => {
        throw new Error(`${file}: ${error.message}`)
      })
    const source = new Uint16Array(
      data.buffer,
      data.byteOffset,
      info.width * info.height * info.channels,
    )
    const stride = info.channels
    const plane = new Uint16Array(width * height)
    const offsetX = Math.floor((info.width - width) / 2)
    const offsetY = Math.floor((info.height - height) / 2)
    for (let y = 0; y < height; y++) {
      const sy = y + offsetY
      if (sy < 0 || sy >= info.height) continue
      for (let x = 0; x < width; x++) {
        const sx = x + offsetX
        if (sx >= 0 && sx < info.width)
          plane[y * width + x] = source[(sy * info.width + sx) * stride]
      }
    }
    frames.push({
      samples: interleave(convertSamples(plane, options.dtype), options.channels),
      metadata: { file: name },
    })
  }
  return frames
}
