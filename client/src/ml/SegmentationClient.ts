// The main thread's handle on the segmentation worker: typed requests that resolve with the
// worker's reply, and the encoding progress of each open image.
import type { Click } from '../../../shared/ml/clickSimulation.ts'
import type { RawImage, Rect, SessionTimings } from '../../../shared/ml/imageSession.ts'
import type { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import type { ReplyOf, WorkerReply, WorkerRequest } from './protocol.ts'

export interface EncodingProgress {
  encodedTiles: number
  totalTiles: number
  lastTileMs: number
  timings: SessionTimings
  error?: string
}

type Pending = { resolve(value: unknown): void; reject(error: Error): void }
/** Distributes Omit over the request union (plain Omit would merge its members). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never

export class SegmentationClient {
  private worker: Worker
  private nextId = 1
  private pending = new Map<number, Pending>()
  private progressListeners = new Set<(imageKey: string, progress: EncodingProgress) => void>()
  readonly progress = new Map<string, EncodingProgress>()

  constructor() {
    this.worker = new Worker(new URL('./segmentation.worker.ts', import.meta.url), {
      type: 'module',
      name: 'tessera-segmentation',
    })
    this.worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const message = event.data
      if (message.type === 'progress') {
        const { imageKey, ...progress } = message
        this.progress.set(imageKey, progress)
        for (const listener of this.progressListeners) listener(imageKey, progress)
        return
      }
      const waiting = this.pending.get(message.id)
      if (!waiting) return
      this.pending.delete(message.id)
      if (message.ok) waiting.resolve(message.result)
      else waiting.reject(new Error(message.error))
    }
    this.worker.onerror = (event) => {
      const error = new Error(`The segmentation worker failed: ${event.message}`)
      for (const waiting of this.pending.values()) waiting.reject(error)
      this.pending.clear()
    }
  }

  private request<K extends keyof ReplyOf>(
    message: WithoutId<Extract<WorkerRequest, { type: K }>>,
    transfer: Transferable[] = [],
  ): Promise<ReplyOf[K]> {
    const id = this.nextId++
    return new Promise<ReplyOf[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.worker.postMessage({ ...message, id }, transfer)
    })
  }

  onProgress(listener: (imageKey: string, progress: EncodingProgress) => void) {
    this.progressListeners.add(listener)
    return () => this.progressListeners.delete(listener)
  }

  /** Loads a model version; `threads` overrides the wasm thread count (benchmarks). */
  load(model: CurrentModel, threads?: number) {
    return this.request<'load'>({ type: 'load', model, threads })
  }

  /** Opens an image for segmentation; its tiles are encoded in the background from `focus` out. */
  open(imageKey: string, image: RawImage, focus?: Rect, background = true) {
    return this.request<'open'>({ type: 'open', imageKey, image, focus, background })
  }

  focus(imageKey: string, view: Rect) {
    this.worker.postMessage({ type: 'focus', imageKey, view } satisfies WorkerRequest)
  }

  click(imageKey: string, objectKey: number, clicks: Click[]) {
    return this.request<'click'>({ type: 'click', imageKey, objectKey, clicks })
  }

  forget(imageKey: string, objectKey: number) {
    this.worker.postMessage({ type: 'forget', imageKey, objectKey } satisfies WorkerRequest)
  }

  propose(imageKey: string, area: Rect) {
    return this.request<'propose'>({ type: 'propose', imageKey, area })
  }

  close(imageKey: string) {
    this.progress.delete(imageKey)
    this.worker.postMessage({ type: 'close', imageKey } satisfies WorkerRequest)
  }

  parity() {
    return this.request<'parity'>({ type: 'parity' })
  }

  terminate() {
    this.worker.terminate()
    for (const waiting of this.pending.values()) waiting.reject(new Error('Worker stopped'))
    this.pending.clear()
  }
}
