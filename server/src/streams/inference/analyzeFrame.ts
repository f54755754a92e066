// One frame through the model, as the browser segments an image: the frame's own per-channel
// statistics, percentile normalisation, the encoder per background tile (one tile up to the
// card's tile size), the automatic head's proposals, then each object's figures over the raw
// samples. Runs in a frame worker thread; never on the server's event loop.
import { planTiles } from '../../../../shared/ml/imageSession.ts'
import { normalizeImage } from '../../../../shared/ml/normalization.ts'
import type { Segmenter } from '../../../../shared/ml/segmenter.ts'
import type { FrameObject } from '../../../../shared/schemas/streams.ts'
import type { FrameSamples } from './FrameAnalyzer.ts'
import { frameChannelStats } from './frameChannelStats.ts'

export interface Frame {
  width: number
  height: number
  channels: number
  samples: FrameSamples
}

export interface LabelledFrame {
  objects: FrameObject[]
  /** 0 = background, else the object's id (1..count), height × width. */
  labels: Uint32Array
}

export async function analyzeFrame(
  segmenter: Segmenter,
  frame: Frame,
  /** A tiled frame gives up once it has run this long (checked before each tile: a tile's
   * encoder run cannot be cut short, and a worker must never be terminated during one). */
  options: { timeoutMs?: number } = {},
): Promise<LabelledFrame> {
  const started = performance.now()
  const { width, height, channels, samples } = frame
  if (!(width >= 1 && height >= 1 && channels >= 1) || samples.length !== width * height * channels)
    throw new Error(
      `A ${width}×${height} frame of ${channels} channel(s) needs ${width * height * channels} samples, got ${samples.length}`,
    )
  const stats = frameChannelStats(samples, channels)
  const input = segmenter.card.input
  const modelChannels = input.channels
  const overlap = Number((input as { tileOverlap?: unknown }).tileOverlap ?? 64)
  const tiles = planTiles(width, height, input.tileSize, overlap)

  const encodeWindow = async (windowSamples: FrameSamples, w: number, h: number) => {
    const data = normalizeImage(windowSamples, w, h, channels, stats, modelChannels, input.polarity)
    const encoded = await segmenter.encode({ data, channels: modelChannels, height: h, width: w })
    return segmenter.propose(encoded)
  }

  if (tiles.length === 1) {
    const { labels, proposals } = await encodeWindow(samples, width, height)
    return objectFigures(
      labels,
      proposals.map((p) => p.score),
      frame,
    )
  }

  // Larger frames: tile by tile as ImageSession does (whole-frame statistics, overlapping tiles,
  // each object kept by the tile whose core holds its box centre); a pixel claimed by two kept
  // objects stays with the first.
  const labels = new Uint32Array(width * height)
  const scores: number[] = []
  const { timeoutMs = Infinity } = options
  for (const [index, { rect, core }] of tiles.entries()) {
    if (performance.now() - started > timeoutMs)
      throw new FrameTimeoutError(timeoutMs, index, tiles.length)
    const windowSamples = copyWindow(frame, rect)
    const tile = await encodeWindow(windowSamples, rect.width, rect.height)
    for (const p of tile.proposals) {
      const cx = rect.x + p.bbox.x + p.bbox.width / 2
      const cy = rect.y + p.bbox.y + p.bbox.height / 2
      if (cx < core.x || cy < core.y || cx >= core.x + core.width || cy >= core.y + core.height)
        continue
      scores.push(p.score)
      const id = scores.length
      for (let y = p.bbox.y; y < p.bbox.y + p.bbox.height; y++) {
        const row = (rect.y + y) * width + rect.x
        for (let x = p.bbox.x; x < p.bbox.x + p.bbox.width; x++) {
          if (tile.labels[y * rect.width + x] === p.id && labels[row + x] === 0)
            labels[row + x] = id
        }
      }
    }
  }
  return objectFigures(labels, scores, frame)
}

/** A tiled frame that ran past its deadline (its worker stays usable). */
export class FrameTimeoutError extends Error {
  constructor(timeoutMs: number, done: number, tiles: number) {
    super(`The frame took longer than ${timeoutMs} ms (${done} of its ${tiles} tiles encoded)`)
  }
}

/** The samples of a window of the frame, in an array of the frame's type. */
function copyWindow(
  frame: Frame,
  rect: { x: number; y: number; width: number; height: number },
): FrameSamples {
  const { channels, samples } = frame
  const rowLength = rect.width * channels
  const out = new (samples.constructor as new (length: number) => FrameSamples)(
    rowLength * rect.height,
  )
  for (let row = 0; row < rect.height; row++) {
    const from = ((rect.y + row) * frame.width + rect.x) * channels
    out.set(samples.subarray(from, from + rowLength), row * rowLength)
  }
  return out
}

/**
 * Area, centroid, box and mean raw intensity per channel of each labelled object. Objects left
 * without pixels are dropped and the rest renumbered 1..count in order (in `labels` too).
 * `scores[l - 1]` is label l's score.
 */
export function objectFigures(
  labels: Uint32Array,
  scores: readonly number[],
  frame: Frame,
): LabelledFrame {
  const { width, channels, samples } = frame
  const count = scores.length
  const area = new Float64Array(count + 1)
  const sumX = new Float64Array(count + 1)
  const sumY = new Float64Array(count + 1)
  const minX = new Int32Array(count + 1).fill(width)
  const minY = new Int32Array(count + 1).fill(frame.height)
  const maxX = new Int32Array(count + 1).fill(-1)
  const maxY = new Int32Array(count + 1).fill(-1)
  const intensity = new Float64Array((count + 1) * channels)
  for (let i = 0, y = 0; y < frame.height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const l = labels[i]
      if (l === 0) continue
      area[l]++
      sumX[l] += x
      sumY[l] += y
      if (x < minX[l]) minX[l] = x
      if (x > maxX[l]) maxX[l] = x
      if (y < minY[l]) minY[l] = y
      if (y > maxY[l]) maxY[l] = y
      for (let c = 0; c < channels; c++) intensity[l * channels + c] += samples[i * channels + c]
    }
  }
  const renumber = new Uint32Array(count + 1)
  const objects: FrameObject[] = []
  for (let l = 1; l <= count; l++) {
    if (area[l] === 0) continue
    const id = objects.length + 1
    renumber[l] = id
    objects.push({
      id,
      area: area[l],
      score: scores[l - 1],
      centroid: { x: sumX[l] / area[l] + 0.5, y: sumY[l] / area[l] + 0.5 },
      bbox: { x: minX[l], y: minY[l], width: maxX[l] - minX[l] + 1, height: maxY[l] - minY[l] + 1 },
      meanIntensity: Array.from(
        { length: channels },
        (_, c) => intensity[l * channels + c] / area[l],
      ),
    })
  }
  if (objects.length !== count)
    for (let i = 0; i < labels.length; i++) labels[i] = renumber[labels[i]]
  return { objects, labels }
}
