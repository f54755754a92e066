// The contract between the stream pipeline (server/src/streams/) and the per-frame inference that
// runs off the event loop (worker threads on onnxruntime-node, the shared Segmenter code):
// samples of one frame in, its objects (and label image) out.
import type { FrameObject, StreamDtype } from '../../../../shared/schemas/streams.ts'

export type FrameSamples = Uint8Array | Uint16Array | Uint32Array | Float32Array

/** The model files a worker loads (once per version; workers cache recent versions). */
export interface ModelFiles {
  versionId: number
  versionName: string
  /** The version's card JSON (ModelCard). */
  cardJson: string
  encoder: Uint8Array
  decoder: Uint8Array
}

export interface FrameInput {
  width: number
  height: number
  channels: number
  dtype: StreamDtype
  /** Interleaved samples (height × width × channels). Transferred to the worker: the caller
   * must not use this buffer afterwards (the result hands it back as `samples`). */
  samples: FrameSamples
}

export interface FrameAnalysis {
  objects: FrameObject[]
  /** Instance labels (0 = background, object id otherwise), height × width. */
  labels: Uint32Array
  /** The input's samples, handed back. */
  samples: FrameSamples
  /** Worker time: normalisation + encoder + proposals + per-object figures. */
  inferenceMs: number
}

export interface FrameAnalyzer {
  /**
   * Runs the model on one frame. `model` resolves the files of the version to use (called only
   * when no worker has that version loaded). Rejects with an Error when the frame cannot be
   * analysed (the pipeline counts it and goes on).
   */
  analyze(
    input: FrameInput,
    model: { versionId: number; load: () => Promise<ModelFiles> },
  ): Promise<FrameAnalysis>
  /** Workers free to take a frame now. */
  readonly idleWorkers: number
  readonly size: number
  close(): Promise<void>
}
