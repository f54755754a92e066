// Per-frame inference of live streams: the FrameAnalyzer contract, its worker-thread pool on
// onnxruntime-node, and the live view's picture of a frame. What the stream pipeline imports.
export type {
  FrameAnalysis,
  FrameAnalyzer,
  FrameInput,
  FrameSamples,
  ModelFiles,
} from './FrameAnalyzer.ts'
export {
  createFrameAnalyzerPool,
  DEFAULT_FRAME_TIMEOUT_MS,
  DEFAULT_STREAM_THREADS,
  DEFAULT_STREAM_WORKERS,
  type FrameAnalyzerPoolOptions,
} from './FrameAnalyzerPool.ts'
export { readModelFolder } from './readModelFolder.ts'
export { DEFAULT_RENDER_MAX_SIDE, OUTLINE_COLOR, renderFramePng } from './renderFrame.ts'
