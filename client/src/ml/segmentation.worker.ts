// The segmentation worker: onnxruntime-web (WebGPU when the browser has an adapter, else wasm
// with SIMD and threads) runs the project's current model version off the main thread. One job
// runs at a time: clicks first, then Auto's requests, then background tiles nearest the view.
import type * as OrtModule from 'onnxruntime-web'
import { ImageSession, type Rect, type Tile } from '../../../shared/ml/imageSession.ts'
import { checkParity, type ParityFixture } from '../../../shared/ml/parity.ts'
import { type OrtRuntime, Segmenter } from '../../../shared/ml/segmenter.ts'
import type { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import type { LoadResult, WorkerReply, WorkerRequest } from './protocol.ts'

/** The parts of a dedicated worker's global scope used here (the DOM lib types the window). */
declare const self: {
  postMessage(message: WorkerReply): void
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null
  crossOriginIsolated: boolean
}

interface OpenImage {
  session: ImageSession
  focus?: Rect
  /** Whether tiles are encoded in the background now (an encoding error stops it). */
  background: boolean
  /** Whether the page asked for background encoding (a new version starts it again). */
  backgroundWanted: boolean
}

let model: CurrentModel | null = null
let segmenter: Segmenter | null = null
const images = new Map<string, OpenImage>()

type Job = { priority: number; run: () => Promise<void> }
const jobs: Job[] = []
let running = false

function post(message: WorkerReply) {
  self.postMessage(message)
}

function enqueue(priority: number, run: () => Promise<void>) {
  jobs.push({ priority, run })
  void pump()
}

/** Runs queued jobs one by one (highest priority first), then background tiles. */
async function pump() {
  if (running) return
  running = true
  try {
    for (;;) {
      jobs.sort((a, b) => b.priority - a.priority)
      const job = jobs.shift() ?? backgroundTile()
      if (!job) break
      await job.run()
    }
  } finally {
    running = false
  }
}

function backgroundTile(): Job | undefined {
  for (const [imageKey, open] of images) {
    if (!open.background) continue
    const [tile] = open.session.pendingTiles(open.focus)
    if (tile) return { priority: 0, run: () => encodeTile(imageKey, open, tile) }
  }
  return undefined
}

async function encodeTile(imageKey: string, open: OpenImage, tile: Tile) {
  const started = performance.now()
  let error: string | undefined
  try {
    await open.session.encodeTile(tile)
  } catch (e) {
    // The tile would fail again: stop the image's background work and tell the page.
    open.background = false
    error = e instanceof Error ? e.message : String(e)
  }
  const { session } = open
  post({
    type: 'progress',
    imageKey,
    encodedTiles: session.tiles.length - session.pendingTiles().length,
    totalTiles: session.tiles.length,
    lastTileMs: performance.now() - started,
    timings: { ...session.timings },
    ...(error === undefined ? {} : { error }),
  })
}

function reply(id: number, work: () => Promise<unknown>) {
  return async () => {
    try {
      post({ type: 'reply', id, ok: true, result: await work() })
    } catch (error) {
      post({
        type: 'reply',
        id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      })
    }
  }
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url, { credentials: 'same-origin' })
  if (!response.ok) throw new Error(`Could not load ${url}: HTTP ${response.status}`)
  return new Uint8Array(await response.arrayBuffer())
}

async function webGpuAvailable(): Promise<boolean> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu
  if (!gpu) return false
  try {
    return (await gpu.requestAdapter()) !== null
  } catch {
    return false
  }
}

async function load(next: CurrentModel, threadsWanted?: number): Promise<LoadResult> {
  const started = performance.now()
  const webgpu = await webGpuAvailable()
  const ort: typeof OrtModule = webgpu
    ? await import('onnxruntime-web/webgpu')
    : await import('onnxruntime-web/wasm')
  ort.env.wasm.wasmPaths = '/ort/'
  const threads = !self.crossOriginIsolated
    ? 1
    : // One core stays free for the page (canvas, collaboration); at most 4 threads.
      (threadsWanted ?? Math.max(1, Math.min(4, navigator.hardwareConcurrency - 1)))
  ort.env.wasm.numThreads = threads
  const [encoder, decoder] = await Promise.all([
    fetchBytes(next.files.encoder),
    fetchBytes(next.files.decoder),
  ])
  const previous = segmenter
  segmenter = await Segmenter.load(ort as unknown as OrtRuntime, next.card, encoder, decoder, {
    executionProviders: webgpu ? ['webgpu', 'wasm'] : ['wasm'],
    graphOptimizationLevel: 'all',
  })
  model = next
  // A new version invalidates every cached feature and click memory: sessions start again with
  // it, and background encoding resumes from each image's view.
  for (const open of images.values()) {
    open.session = new ImageSession(segmenter, open.session.image)
    open.background = open.backgroundWanted
  }
  await previous?.release()
  return {
    version: next.version,
    backend: webgpu ? 'webgpu' : 'wasm',
    threads,
    loadMs: performance.now() - started,
  }
}

function sessionOf(imageKey: string): ImageSession {
  const open = images.get(imageKey)
  if (!open) throw new Error('This image is not open in the segmentation worker')
  return open.session
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const message = event.data
  switch (message.type) {
    case 'load':
      enqueue(
        3,
        reply(message.id, () => load(message.model, message.threads)),
      )
      break
    case 'open':
      enqueue(
        3,
        reply(message.id, async () => {
          if (!segmenter) throw new Error('No model loaded')
          images.set(message.imageKey, {
            session: new ImageSession(segmenter, message.image),
            focus: message.focus,
            background: message.background ?? true,
            backgroundWanted: message.background ?? true,
          })
          return null
        }),
      )
      break
    case 'focus': {
      const open = images.get(message.imageKey)
      if (open) open.focus = message.view
      break
    }
    case 'click':
      enqueue(
        2,
        reply(message.id, async () => {
          const started = performance.now()
          const session = sessionOf(message.imageKey)
          const result = await session.click(message.objectKey, message.clicks)
          return {
            ...result,
            // The segmenter that answered, not the version wanted: a load may have replaced it.
            modelVersion: session.segmenter.card.version,
            workerMs: performance.now() - started,
            timings: { ...session.timings },
          }
        }),
      )
      break
    case 'forget':
      images.get(message.imageKey)?.session.forget(message.objectKey)
      break
    case 'propose':
      enqueue(
        1,
        reply(message.id, async () => {
          const started = performance.now()
          const session = sessionOf(message.imageKey)
          for (const tile of session.tilesMissingFor(message.area)) await session.encodeTile(tile)
          return {
            proposals: session.proposalsIn(message.area),
            workerMs: performance.now() - started,
          }
        }),
      )
      break
    case 'close':
      images.delete(message.imageKey)
      break
    case 'parity':
      enqueue(
        2,
        reply(message.id, async () => {
          if (!segmenter || !model?.files.parity) throw new Error('The model has no parity fixture')
          const fixture = (await (await fetch(model.files.parity)).json()) as ParityFixture
          return checkParity(segmenter, fixture)
        }),
      )
      break
  }
}
