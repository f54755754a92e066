// Evaluates a model version on labelled images with the simulated-click protocol (RITM): per
// object, clicks until IoU 0.85 / 0.90 (at most 20), IoU after one click; and the automatic
// proposals' AP at IoU 0.5 (DSB2018 / StarDist: TP / (TP + FP + FN)) and matched IoU. Uses the
// same Segmenter as the browser.
import { type Click, firstClick, nextClick } from '../../../shared/ml/clickSimulation.ts'
import { matchInstances } from '../../../shared/ml/metrics.ts'
import { computeChannelStats, normalizeImage } from '../../../shared/ml/normalization.ts'
import type { Segmenter } from '../../../shared/ml/segmenter.ts'
import type { LabelledImage } from './labelledFolder.ts'

export const MAX_CLICKS = 20

export interface EvaluationResult {
  noc85: number
  noc90: number
  iou_at_1click: number
  auto_ap50: number
  auto_mean_matched_iou: number
  n_images: number
  n_objects: number
  seconds: number
}

/** Clicks until the IoU first reaches the threshold; MAX_CLICKS when it never does. */
export function clicksToReach(ious: number[], threshold: number): number {
  const index = ious.findIndex((iou) => iou >= threshold)
  return index < 0 ? MAX_CLICKS : index + 1
}

/** IoUs after each simulated click on one object (stops once 0.90 is reached). */
async function clickObject(
  segmenter: Segmenter,
  encoded: Awaited<ReturnType<Segmenter['encode']>>,
  image: LabelledImage,
  label: number,
): Promise<number[]> {
  const { width, height, labels } = image
  let area = 0
  const full = new Uint8Array(width * height)
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === label) {
      full[i] = 1
      area++
    }
  }
  const start = firstClick(full, width, height)
  if (!start) return []
  const crop = segmenter.cropAround(encoded, start.x, start.y)
  // The object and the prediction inside the crop (the decoder cannot act outside it).
  const object = new Uint8Array(crop.width * crop.height)
  for (let row = 0; row < crop.height; row++) {
    const y = crop.y + row
    if (y >= height) break
    for (let col = 0; col < crop.width; col++) {
      const x = crop.x + col
      if (x < width) object[row * crop.width + col] = full[y * width + x]
    }
  }
  const clicks: Click[] = [start]
  const ious: number[] = []
  let previous: Float32Array | null = null
  const threshold = segmenter.card.clickEncoding.maskThreshold
  for (let k = 0; k < MAX_CLICKS; k++) {
    const result = await segmenter.decode(encoded, crop, clicks, previous)
    previous = result.lowRes
    const prediction = new Uint8Array(object.length)
    let intersection = 0
    let predicted = 0
    for (let i = 0; i < prediction.length; i++) {
      const row = Math.floor(i / crop.width)
      const inside = crop.y + row < height && crop.x + (i - row * crop.width) < width
      if (inside && result.logits[i] > threshold) {
        prediction[i] = 1
        predicted++
        if (object[i]) intersection++
      }
    }
    ious.push(intersection / (area + predicted - intersection))
    if (ious[k] >= 0.9) break
    const next = nextClick(object, prediction, crop.width, crop.height)
    if (!next) break
    clicks.push({ x: next.x + crop.x, y: next.y + crop.y, positive: next.positive })
  }
  return ious
}

/** Normalises a labelled image with its own statistics (as the browser does) and encodes it. */
export async function encodeLabelledImage(segmenter: Segmenter, image: LabelledImage) {
  const { width, height, channels } = image
  const stats = Array.from({ length: channels }, (_, c) =>
    computeChannelStats(image.pixels.filter((_, i) => i % channels === c)),
  )
  const { channels: modelChannels, polarity } = segmenter.card.input
  const data = normalizeImage(image.pixels, width, height, channels, stats, modelChannels, polarity)
  return segmenter.encode({ data, channels: modelChannels, height, width })
}

export async function evaluateModel(
  segmenter: Segmenter,
  images: AsyncIterable<LabelledImage> | Iterable<LabelledImage>,
  onImage: (id: string, objects: number) => void = () => {},
): Promise<EvaluationResult> {
  const started = performance.now()
  const noc85: number[] = []
  const noc90: number[] = []
  const firstIoU: number[] = []
  const ap: number[] = []
  const matchedIoU: number[] = []
  let nImages = 0
  for await (const image of images) {
    nImages++
    const encoded = await encodeLabelledImage(segmenter, image)
    const objects = [...new Set(image.labels)].filter((l) => l !== 0)
    for (const label of objects) {
      const ious = await clickObject(segmenter, encoded, image, label)
      if (ious.length === 0) continue
      firstIoU.push(ious[0])
      noc85.push(clicksToReach(ious, 0.85))
      noc90.push(clicksToReach(ious, 0.9))
    }
    const { labels } = segmenter.propose(encoded)
    const matching = matchInstances(image.labels, labels, 0.5)
    ap.push(matching.averagePrecision)
    if (matching.truePositives > 0) matchedIoU.push(matching.meanMatchedIoU)
    onImage(image.id, objects.length)
  }
  const mean = (values: number[]) =>
    values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0
  return {
    noc85: mean(noc85),
    noc90: mean(noc90),
    iou_at_1click: mean(firstIoU),
    auto_ap50: mean(ap),
    auto_mean_matched_iou: mean(matchedIoU),
    n_images: nImages,
    n_objects: noc85.length,
    seconds: (performance.now() - started) / 1000,
  }
}
