// Per-frame inference off the event loop: a pool of worker threads (frameWorker.ts), each running
// the shared Segmenter on onnxruntime-node, started lazily and replaced when one dies. The main
// thread only routes frames, moves their buffers and loads model files a worker lacks; it never
// runs the model or touches samples.
import { Worker } from 'node:worker_threads'
import type {
  FrameAnalysis,
  FrameAnalyzer,
  FrameInput,
  FrameSamples,
  ModelFiles,
} from './FrameAnalyzer.ts'
import type { FrameReply, FrameRequest } from './frameMessages.ts'

/**
 * One worker with two onnxruntime threads. Measured on the shared 2-core development machine with
 * the shipped v0, 16-bit synthetic nuclei, medians of 5 runs (load average 3–6 from other work;
 * `npx tsx server/src/streams/inference/benchFrameAnalyzer.ts 5`):
 *
 * |                      | 256² fps | 256² one frame p50/p99 | 512² fps | 512² one frame p50/p99 | RSS    |
 * | 1 worker × 2 threads | 35       | 27 / 46 ms             | 8.1      | 118 / 168 ms           | 125 MB |
 * | 2 workers × 1 thread | 33       | 28 / 50 ms             | 9.0      | 113 / 142 ms           | 174 MB |
 *
 * At a steady 15 fps of 256², arrival → result was 31 ms p50, 55 ms p99 (1 × 2). The two are
 * even on throughput; one worker answers a lone frame as fast, leaves a core to the event loop
 * during its single-threaded steps (proposals), and holds each model version once, not twice.
 * (With onnxruntime's default spinning threads, 1 × 2 ran 256² at only 9 fps on the busy machine.)
 */
export const DEFAULT_STREAM_WORKERS = 1
export const DEFAULT_STREAM_THREADS = 2
/** A tiled frame gives up (between tiles) once its analysis has run this long; a 4096² frame is
 * about 100 tiles of 512² (11.5 s measured with the defaults). */
export const DEFAULT_FRAME_TIMEOUT_MS = 120_000

export interface FrameAnalyzerPoolOptions {
  workers: number
  /** onnxruntime's intra-op threads in each worker. */
  threadsPerWorker: number
  frameTimeoutMs?: number
  /** The worker body (a module like frameWorker.ts); tests substitute one that crashes. */
  workerModule?: URL
}

interface Job {
  input: FrameInput
  model: { versionId: number; load: () => Promise<ModelFiles> }
  resolve(analysis: FrameAnalysis): void
  reject(error: Error): void
}

interface Slot {
  worker: Worker
  /** The versions the worker holds (its last reply's word), least recently used first. */
  versions: number[]
  busy: boolean
  /** The frame the worker is analysing now, with its request id. */
  running: { id: number; job: Job } | null
  failure: Error | null
}

const SAMPLE_TYPES = {
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  float32: Float32Array,
} as const

// Node 20 cannot load TypeScript in a worker thread, and neither tsx nor vitest reaches into
// worker threads, so each worker registers tsx's loader before importing its body (as the
// image decode workers do).
const bootstrap = (body: URL) => `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(body.href)}) })`

const FRAME_WORKER = new URL('./frameWorker.ts', import.meta.url)

export function createFrameAnalyzerPool(options: FrameAnalyzerPoolOptions): FrameAnalyzer {
  return new FrameAnalyzerPool(options)
}

class FrameAnalyzerPool implements FrameAnalyzer {
  private readonly slots: Slot[] = []
  private readonly queue: Job[] = []
  /** Model loads in flight, shared by workers that lack the same version at once. */
  private readonly loading = new Map<number, Promise<ModelFiles>>()
  private nextId = 1
  private closing: Promise<void> | null = null
  private readonly frameTimeoutMs: number

  constructor(private readonly options: FrameAnalyzerPoolOptions) {
    if (!(options.workers >= 1) || !(options.threadsPerWorker >= 1))
      throw new Error('A frame analyzer pool needs at least one worker and one thread')
    this.frameTimeoutMs = options.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS
  }

  get size() {
    return this.options.workers
  }

  get idleWorkers() {
    if (this.closing) return 0
    const busy = this.slots.filter((s) => s.busy).length
    return Math.max(0, this.size - busy - this.queue.length)
  }

  analyze(input: FrameInput, model: Job['model']): Promise<FrameAnalysis> {
    if (this.closing) return Promise.reject(new Error('The frame analyzer is closed'))
    const problem = inputProblem(input)
    if (problem) return Promise.reject(new Error(problem))
    return new Promise<FrameAnalysis>((resolve, reject) => {
      this.queue.push({ input, model, resolve, reject })
      this.pump()
    })
  }

  /**
   * Rejects every waiting and running frame at once; resolves when the workers have ended. A
   * worker in the middle of a frame ends when that frame is done: terminating a thread while
   * onnxruntime runs in it aborts the whole process.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const error = new Error('The frame analyzer was closed')
      for (const job of this.queue.splice(0)) job.reject(error)
      const slots = [...this.slots]
      const ended = slots.map(
        (slot) => new Promise<void>((resolve) => slot.worker.once('exit', () => resolve())),
      )
      for (const slot of slots) {
        slot.running?.job.reject(error)
        if (!slot.busy) void slot.worker.terminate()
      }
      await Promise.all(ended)
    })()
    return this.closing
  }

  /** Hands waiting frames to idle workers (those holding the frame's version first). */
  private pump() {
    while (!this.closing && this.queue.length > 0) {
      const versionId = this.queue[0].model.versionId
      const idle = this.slots.filter((s) => !s.busy)
      const slot =
        idle.find((s) => s.versions.includes(versionId)) ??
        idle[0] ??
        (this.slots.length < this.size ? this.startWorker() : undefined)
      if (!slot) return
      void this.run(slot, this.queue.shift()!)
    }
  }

  private startWorker(): Slot {
    const worker = new Worker(bootstrap(this.options.workerModule ?? FRAME_WORKER), {
      eval: true,
      workerData: { threads: this.options.threadsPerWorker },
    })
    const slot: Slot = { worker, versions: [], busy: false, running: null, failure: null }
    worker.on('message', (reply: FrameReply) => this.settle(slot, reply))
    worker.on('error', (error) => {
      slot.failure ??= error
    })
    worker.on('exit', (code) => this.lose(slot, code))
    this.slots.push(slot)
    return slot
  }

  private async run(slot: Slot, job: Job) {
    slot.busy = true
    slot.worker.ref()
    const { versionId } = job.model
    let model: ModelFiles | undefined
    try {
      if (!slot.versions.includes(versionId)) model = await this.filesOf(job.model)
    } catch (error) {
      job.reject(asError(error, `Model version ${versionId} could not be loaded`))
      this.free(slot)
      return
    }
    if (this.closing) {
      job.reject(new Error('The frame analyzer was closed'))
      this.free(slot)
      return
    }
    if (slot.failure) {
      // The worker died before it got the frame (at start-up, say): the frame fails rather than
      // waiting for a new worker, so that a worker that cannot start never loops.
      job.reject(new Error(`Frame worker stopped: ${slot.failure.message}`))
      return
    }
    const id = this.nextId++
    const { samples } = job.input
    const request: FrameRequest = {
      id,
      versionId,
      model,
      timeoutMs: this.frameTimeoutMs,
      frame: { ...job.input },
    }
    try {
      slot.worker.postMessage(request, [samples.buffer as ArrayBuffer])
    } catch {
      // An untransferable buffer (Node's shared Buffer pool, a SharedArrayBuffer): send a copy.
      const copy = samples.slice() as FrameSamples
      request.frame.samples = copy
      try {
        slot.worker.postMessage(request, [copy.buffer as ArrayBuffer])
      } catch (error) {
        job.reject(asError(error, 'The frame could not be sent to its worker'))
        this.free(slot)
        return
      }
    }
    slot.running = { id, job }
  }

  private filesOf(model: Job['model']): Promise<ModelFiles> {
    let files = this.loading.get(model.versionId)
    if (!files) {
      files = model.load().then((loaded) => {
        if (loaded.versionId !== model.versionId)
          throw new Error(`Asked for model version ${model.versionId}, got ${loaded.versionId}`)
        return loaded
      })
      this.loading.set(model.versionId, files)
      const forget = () => this.loading.delete(model.versionId)
      files.then(forget, forget)
    }
    return files
  }

  private settle(slot: Slot, reply: FrameReply) {
    slot.versions = reply.versions
    const running = slot.running
    if (!running || running.id !== reply.id) return
    slot.running = null
    if ('result' in reply) running.job.resolve(reply.result)
    else running.job.reject(new Error(reply.error))
    this.free(slot)
  }

  private free(slot: Slot) {
    slot.busy = false
    if (this.closing) {
      void slot.worker.terminate()
      return
    }
    slot.worker.unref()
    this.pump()
  }

  /** A worker that ended: its frame fails, and the next frame starts a new worker. */
  private lose(slot: Slot, code: number) {
    const error = new Error(
      `Frame worker stopped${slot.failure ? `: ${slot.failure.message}` : ` (exit code ${code})`}`,
    )
    slot.failure ??= error
    slot.busy = false
    const index = this.slots.indexOf(slot)
    if (index >= 0) this.slots.splice(index, 1)
    slot.running?.job.reject(error)
    slot.running = null
    this.pump()
  }
}

function inputProblem(input: FrameInput): string | null {
  const { width, height, channels, dtype, samples } = input
  const type = SAMPLE_TYPES[dtype]
  if (!type) return `Unknown dtype ${dtype}`
  if (!(samples instanceof type)) return `${dtype} samples must come as a ${type.name}`
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1))
    return `Invalid frame size ${width}×${height}`
  if (!(Number.isInteger(channels) && channels >= 1)) return `Invalid channel count ${channels}`
  if (samples.length !== width * height * channels)
    return `A ${width}×${height}×${channels} frame needs ${width * height * channels} samples, got ${samples.length}`
  return null
}

function asError(error: unknown, fallback: string): Error {
  return error instanceof Error ? error : new Error(`${fallback}: ${String(error)}`)
}
