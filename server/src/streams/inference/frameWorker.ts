// The body of a frame worker thread (started by FrameAnalyzerPool): keeps the Segmenters of the
// model versions it was sent (at most MAX_CACHED_VERSIONS, least recently used released first)
// and analyses one frame at a time on onnxruntime-node. Never touches the database or blobs.
import { parentPort, workerData } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import { type OrtRuntime, Segmenter } from '../../../../shared/ml/segmenter.ts'
import { ModelCard } from '../../../../shared/schemas/modelCard.ts'
import { analyzeFrame } from './analyzeFrame.ts'
import { type FrameReply, type FrameRequest, MAX_CACHED_VERSIONS } from './frameMessages.ts'

const { threads } = workerData as { threads: number }
/** Insertion order is use order: the first entry is the least recently used. */
const segmenters = new Map<number, Segmenter>()

async function segmenterFor(request: FrameRequest): Promise<Segmenter> {
  const cached = segmenters.get(request.versionId)
  if (cached) {
    segmenters.delete(request.versionId)
    segmenters.set(request.versionId, cached)
    return cached
  }
  const files = request.model
  if (!files || files.versionId !== request.versionId)
    throw new Error(`Model version ${request.versionId} is not loaded in this worker`)
  const card = ModelCard.parse(JSON.parse(files.cardJson))
  const segmenter = await Segmenter.load(
    ort as unknown as OrtRuntime,
    card,
    files.encoder,
    files.decoder,
    {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      // Spinning intra-op threads starve everything else on a shared small machine: with two
      // threads on two busy cores, 256² frames ran at 9 fps spinning and 33 fps without.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    },
  )
  segmenters.set(request.versionId, segmenter)
  while (segmenters.size > MAX_CACHED_VERSIONS) {
    const [oldest, old] = segmenters.entries().next().value as [number, Segmenter]
    segmenters.delete(oldest)
    await old.release()
  }
  return segmenter
}

async function answer(
  request: FrameRequest,
): Promise<{ reply: FrameReply; transfer: ArrayBuffer[] }> {
  const { frame } = request
  const transfer = [frame.samples.buffer as ArrayBuffer]
  try {
    const segmenter = await segmenterFor(request)
    const started = performance.now()
    const { objects, labels } = await analyzeFrame(segmenter, frame, {
      timeoutMs: request.timeoutMs,
    })
    const inferenceMs = performance.now() - started
    transfer.push(labels.buffer as ArrayBuffer)
    const versions = [...segmenters.keys()]
    return {
      reply: {
        id: request.id,
        versions,
        result: { objects, labels, samples: frame.samples, inferenceMs },
      },
      transfer,
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return {
      reply: {
        id: request.id,
        versions: [...segmenters.keys()],
        error: message,
        samples: frame.samples,
      },
      transfer,
    }
  }
}

const port = parentPort!
// One frame at a time: the pool never sends a second before the first's reply, and this chain
// keeps it so if it ever did.
let queue = Promise.resolve()
port.on('message', (request: FrameRequest) => {
  queue = queue.then(async () => {
    const { reply, transfer } = await answer(request)
    port.postMessage(reply, transfer)
  })
})
