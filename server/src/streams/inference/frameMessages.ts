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
  /** The analysis gives up between tiles once it has run this long (model load not counted). */
  timeoutMs: number
  frame: {
    width: number
    height: number
    channels: number
    dtype: StreamDtype
    /** Its buffer is transferred with the request and back with the reply. */
    samples: FrameSamples
  }
}

/** Every reply says which versions the worker holds now, least recently used first. */
export type FrameReply =
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
