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
 * Defaults chosen on the 2-core development machine with the shipped v0 (16-bit frames, medians
 * of several runs, `npx tsx server/src/streams/inference/benchFrameAnalyzer.ts`): see the figures
 * beside each constant and README's stream section.
 */
export const DEFAULT_STREAM_WORKERS = 1
export const DEFAULT_STREAM_THREADS = 2
/** A frame still running after this long has its worker stopped (and replaced); a 4096² frame
 * is about 100 tiles of 512², some 10 s on two cores. */
export const DEFAULT_FRAME_TIMEOUT_MS = 120_000

export interface FrameAnalyzerPoolOptions {
  workers: number
  /** onnxruntime's intra-op threads in each worker. */
  threadsPerWorker: number
  frameTimeoutMs?: number
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
  running: { id: number; job: Job; timer: NodeJS.Timeout | null } | null
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
const BOOTSTRAP = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./frameWorker.ts', import.meta.url).href)}) })`

export function createFrameAnalyzerPool(options: FrameAnalyzerPoolOptions): FrameAnalyzer {
  return new FrameAnalyzerPool(options)
}

class FrameAnalyzerPool implements FrameAnalyzer {
  private readonly slots: Slot[] = []
  private readonly queue: Job[] = []
  /** Model loads in flight, shared by workers that lack the same version at once. */
  private readonly loading = new Map<number, Promise<ModelFiles>>()
  private nextId = 1
  private closed = false
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
    const busy = this.slots.filter((s) => s.busy).length
    return Math.max(0, this.size - busy - this.queue.length)
  }

  analyze(input: FrameInput, model: Job['model']): Promise<FrameAnalysis> {
    if (this.closed) return Promise.reject(new Error('The frame analyzer is closed'))
    const problem = inputProblem(input)
    if (problem) return Promise.reject(new Error(problem))
    return new Promise<FrameAnalysis>((resolve, reject) => {
      this.queue.push({ input, model, resolve, reject })
      this.pump()
    })
  }

  async close(): Promise<void> {
    this.closed = true
    const error = new Error('The frame analyzer was closed')
    for (const job of this.queue.splice(0)) job.reject(error)
    const slots = this.slots.splice(0)
    for (const slot of slots) {
      slot.failure ??= error
      if (slot.running) {
        if (slot.running.timer) clearTimeout(slot.running.timer)
        slot.running.job.reject(error)
        slot.running = null
      }
    }
    await Promise.all(slots.map((slot) => slot.worker.terminate()))
  }

  /** Hands waiting frames to idle workers (those holding the frame's version first). */
  private pump() {
    while (!this.closed && this.queue.length > 0) {
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
    const worker = new Worker(BOOTSTRAP, {
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
    if (slot.failure) {
      // The worker died while the files loaded: the frame waits for the next one.
      this.queue.unshift(job)
      this.pump()
      return
    }
    const id = this.nextId++
    const { samples } = job.input
    const request: FrameRequest = { id, versionId, model, frame: { ...job.input } }
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
    slot.running = { id, job, timer: null }
  }

  /** The worker began the frame (model ready): from now on it has frameTimeoutMs. */
  private startTimer(slot: Slot, id: number) {
    const running = slot.running
    if (!running || running.id !== id || running.timer) return
    running.timer = setTimeout(() => {
      if (slot.running?.id !== id) return
      slot.running = null
      running.job.reject(
        new Error(`The frame took longer than ${this.frameTimeoutMs} ms; its worker was stopped`),
      )
      void slot.worker.terminate()
    }, this.frameTimeoutMs)
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
    if ('started' in reply) {
      this.startTimer(slot, reply.id)
      return
    }
    const running = slot.running
    if (!running || running.id !== reply.id) return
    if (running.timer) clearTimeout(running.timer)
    slot.running = null
    if ('result' in reply) running.job.resolve(reply.result)
    else running.job.reject(new Error(reply.error))
    this.free(slot)
  }

  private free(slot: Slot) {
    slot.busy = false
    slot.worker.unref()
    this.pump()
  }

  /** A worker that ended: its frame fails, and the next frame starts a new worker. */
  private lose(slot: Slot, code: number) {
    const error = new Error(
      `Frame worker stopped${slot.failure ? `: ${slot.failure.message}` : ` (exit code ${code})`}`,
    )
    slot.failure ??= error
    const index = this.slots.indexOf(slot)
    if (index >= 0) this.slots.splice(index, 1)
    if (slot.running) {
      if (slot.running.timer) clearTimeout(slot.running.timer)
      slot.running.job.reject(error)
      slot.running = null
    }
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
