// Messages between the editor and the segmentation worker. Every request with an id gets one
// reply with the same id; progress messages arrive on their own.
import type { Click } from '../../../shared/ml/clickSimulation.ts'
import type {
  ObjectMask,
  ProposalShape,
  RawImage,
  Rect,
  SessionTimings,
} from '../../../shared/ml/imageSession.ts'
import type { ParityReport } from '../../../shared/ml/parity.ts'
import type { CurrentModel } from '../../../shared/schemas/modelCard.ts'

export interface LoadResult {
  version: string
  backend: 'wasm' | 'webgpu'
  threads: number
  loadMs: number
}

export interface ClickResult extends ObjectMask {
  /** The version whose weights computed this mask (the session's model card). */
  modelVersion: string
  /** Time in the worker from taking the job to the mask's polygon (encode included if any). */
  workerMs: number
  timings: SessionTimings
}

export interface ProposeResult {
  proposals: ProposalShape[]
  workerMs: number
}

export type WorkerRequest =
  | { type: 'load'; id: number; model: CurrentModel; threads?: number }
  | {
      type: 'open'
      id: number
      imageKey: string
      image: RawImage
      focus?: Rect
      /** Encode the image's tiles in the background (default true). */
      background?: boolean
    }
  | { type: 'focus'; imageKey: string; view: Rect }
  | { type: 'click'; id: number; imageKey: string; objectKey: number; clicks: Click[] }
  | { type: 'forget'; imageKey: string; objectKey: number }
  | { type: 'propose'; id: number; imageKey: string; area: Rect }
  | { type: 'close'; imageKey: string }
  | { type: 'parity'; id: number }

export type WorkerReply =
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string }
  | {
      type: 'progress'
      imageKey: string
      encodedTiles: number
      totalTiles: number
      /** Milliseconds of the last tile's encoder pass and proposals. */
      lastTileMs: number
      timings: SessionTimings
      /** Set when encoding failed; the image's background work stopped. */
      error?: string
    }

export type ReplyOf = {
  load: LoadResult
  open: null
  click: ClickResult
  propose: ProposeResult
  parity: ParityReport
}
