// Decodes uploads in worker threads, so that the event loop (health checks, collaboration
// websockets) keeps answering during a large upload. At most one upload decodes at a time, so
// parallel uploads cannot multiply the peak memory; a few more wait their turn in order, and
// beyond those an upload is refused with 503 and Retry-After rather than held for minutes.
import { Worker } from 'node:worker_threads'
import type { ChannelStats, ImageDtype } from '../../../shared/schemas/images.ts'
import type { AppContext } from '../app.ts'
import { HttpError } from '../http/HttpError.ts'
import type { ImageFormat } from './detectFormat.ts'
import type { PageHeader } from './planUpload.ts'
import type { TileGrid } from './renditions.ts'

/** Uploads decoding at once. Each holds up to a page of samples and its display image. */
export const DECODE_WORKERS = 1
/** Uploads that may wait for a decode worker; the next is refused with 503. */
export const MAX_WAITING_UPLOADS = 8
export const RETRY_AFTER_SECONDS = 30
/** An idle worker is ended after this long, giving its memory back. */
const IDLE_MS = 10_000

export type DecodeRequest =
  | { method: 'open'; name: string; format: ImageFormat; bytes: Uint8Array }
  | { method: 'decode'; header: PageHeader; tileSize: number }
  | { method: 'tile'; index: number }
  | { method: 'thumbnail' }
  | { method: 'close' }

export interface DecodedResult {
  /** After dropping an opaque alpha channel or collapsing R = G = B grey. */
  channels: number
  dtype: ImageDtype
  stats: ChannelStats[]
  grid: TileGrid
  /** The samples, little-endian and interleaved, moved (not copied) out of the worker. */
  raw: KeyedBytes
}

/** Bytes for the blob store with their sha256, computed in the worker, off the event loop. */
export interface KeyedBytes {
  bytes: Uint8Array
  sha256: string
}

export type DecodeReply =
  | { id: number; result: unknown }
  | { id: number; error: { status: number; message: string } }

// Node 20 cannot load TypeScript in a worker thread, and neither tsx (npm start) nor vitest
// reaches into worker threads, so each worker registers tsx's loader before importing its body.
const BOOTSTRAP = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./decodeWorker.ts', import.meta.url).href)}) })`

/** One worker thread, asked one thing at a time about the file it was given. */
export class PageDecoder {
  readonly worker = new Worker(BOOTSTRAP, { eval: true })
  private nextId = 1
  private readonly pending = new Map<
    number,
    { resolve(result: unknown): void; reject(error: Error): void }
  >()
  private failure: Error | null = null

  constructor() {
    this.worker.on('message', (reply: DecodeReply) => {
      const call = this.pending.get(reply.id)
      this.pending.delete(reply.id)
      if (!call) return
      if ('result' in reply) call.resolve(reply.result)
      else if (reply.error.status < 500)
        call.reject(new HttpError(reply.error.status, reply.error.message))
      else call.reject(new Error(`Decode worker: ${reply.error.message}`))
    })
    this.worker.on('error', (error) => this.fail(error))
    this.worker.on('exit', (code) => this.fail(new Error(`Decode worker exited (code ${code})`)))
  }

  get broken(): boolean {
    return this.failure !== null
  }

  private fail(error: Error) {
    this.failure ??= error
    for (const call of this.pending.values()) call.reject(this.failure)
    this.pending.clear()
  }

  private call<T>(request: DecodeRequest): Promise<T> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject })
      this.worker.postMessage({ id, request })
    })
  }

  /** Hands the worker a file (its compressed bytes are copied, not moved). */
  open(file: { name: string; format: ImageFormat; bytes: Uint8Array }): Promise<void> {
    return this.call({ method: 'open', ...file })
  }

  decode(header: PageHeader, tileSize: number): Promise<DecodedResult> {
    return this.call({ method: 'decode', header, tileSize })
  }

  /** The PNG of one display tile of the page decoded last, row-major. */
  tile(index: number): Promise<KeyedBytes> {
    return this.call({ method: 'tile', index })
  }

  thumbnail(): Promise<KeyedBytes> {
    return this.call({ method: 'thumbnail' })
  }

  /** Lets the worker drop the file and the display image. */
  close(): Promise<void> {
    return this.call({ method: 'close' })
  }
}

export class DecodeWorkers {
  private readonly idle: { decoder: PageDecoder; timer: NodeJS.Timeout }[] = []
  private busy = 0
  private readonly waiting: (() => void)[] = []

  constructor(
    private readonly limits = { workers: DECODE_WORKERS, maxWaiting: MAX_WAITING_UPLOADS },
  ) {}

  /** Runs task with a worker of its own, once one is free; a 503 when too many are waiting. */
  async run<T>(task: (decoder: PageDecoder) => Promise<T>): Promise<T> {
    await this.acquire()
    const decoder = this.takeIdle() ?? new PageDecoder()
    decoder.worker.ref()
    try {
      return await task(decoder)
    } finally {
      await decoder.close().catch(() => undefined)
      this.release(decoder)
    }
  }

  private async acquire(): Promise<void> {
    if (this.busy < this.limits.workers) {
      this.busy++
      return
    }
    if (this.waiting.length >= this.limits.maxWaiting) {
      throw new HttpError(
        503,
        `The server is decoding ${this.busy + this.waiting.length} other uploads; try again in ${RETRY_AFTER_SECONDS} seconds`,
        { retryAfterSeconds: RETRY_AFTER_SECONDS },
      )
    }
    // The releasing upload hands its place over without decrementing busy.
    await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  private takeIdle(): PageDecoder | null {
    while (this.idle.length > 0) {
      const { decoder, timer } = this.idle.pop()!
      clearTimeout(timer)
      if (!decoder.broken) return decoder
    }
    return null
  }

  private release(decoder: PageDecoder) {
    if (decoder.broken) {
      void decoder.worker.terminate()
    } else {
      // An idle worker must not keep the process alive, and goes after a while (a worker is
      // never ended mid-decode: libvips in a thread being torn down can take the process along).
      decoder.worker.unref()
      const timer = setTimeout(() => {
        const index = this.idle.findIndex((entry) => entry.decoder === decoder)
        if (index >= 0) this.idle.splice(index, 1)
        void decoder.worker.terminate()
      }, IDLE_MS)
      timer.unref()
      this.idle.push({ decoder, timer })
    }
    const next = this.waiting.shift()
    if (next) next()
    else this.busy--
  }
}

const perApp = new WeakMap<AppContext, DecodeWorkers>()

/** The decode workers of one app, made on first use (AppContext has no place for them yet). */
export function decodeWorkersOf(context: AppContext): DecodeWorkers {
  let workers = perApp.get(context)
  if (!workers) {
    workers = new DecodeWorkers()
    perApp.set(context, workers)
  }
  return workers
}
