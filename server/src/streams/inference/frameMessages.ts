// The messages between FrameAnalyzerPool (main thread) and a frame worker thread: one request
// per frame, carrying the model files only when the worker lacks the version, and one reply.
import type { FrameObject, StreamDtype } from '../../../../shared/schemas/streams.ts'
import type { FrameSamples, ModelFiles } from './FrameAnalyzer.ts'

/** Model versions a worker keeps loaded; a further one releases the least recently used. */
export const MAX_CACHED_VERSIONS = 2

export interface FrameRequest {
  id: number
  versionId: number
  /** Present when the pool believes the worker lacks this version. */
  model?: ModelFiles
  frame: {
    width: number
    height: number
    channels: number
    dtype: StreamDtype
    /** Its buffer is transferred with the request and back with the reply. */
    samples: FrameSamples
  }
}

/** Every reply says which versions the worker holds now, least recently used first. `started`
 * comes when the model is ready and the frame's analysis begins (the frame timeout counts from
 * there, not from worker start-up or model load). */
export type FrameReply =
  | { id: number; versions: number[]; started: true }
  | {
      id: number
      versions: number[]
      result: {
        objects: FrameObject[]
        labels: Uint32Array
        samples: FrameSamples
        inferenceMs: number
      }
    }
  | { id: number; versions: number[]; error: string; samples: FrameSamples }
