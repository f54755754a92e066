// Segmentation metrics on instance label images (0 = background, 1..N = objects): mask IoU,
// one-to-one matching at an IoU threshold, and the DSB2018 / StarDist average precision
// AP = TP / (TP + FP + FN). Pure.

export function maskIoU(a: Uint8Array, b: Uint8Array): number {
  let intersection = 0
  let union = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0
    const y = b[i] !== 0
    if (x && y) intersection++
    if (x || y) union++
  }
  return union === 0 ? 1 : intersection / union
}

export interface Matching {
  truePositives: number
  falsePositives: number
  falseNegatives: number
  /** Mean IoU of the matched pairs (0 when none matched). */
  meanMatchedIoU: number
  /** TP / (TP + FP + FN), the DSB2018 / StarDist "AP" at this threshold. */
  averagePrecision: number
}

/** Pairwise IoUs between the objects of two label images, as a sparse list of overlaps. */
export function overlapIoUs(truth: ArrayLike<number>, predicted: ArrayLike<number>) {
  const areaTruth = new Map<number, number>()
  const areaPredicted = new Map<number, number>()
  const intersections = new Map<string, number>()
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]
    const p = predicted[i]
    if (t) areaTruth.set(t, (areaTruth.get(t) ?? 0) + 1)
    if (p) areaPredicted.set(p, (areaPredicted.get(p) ?? 0) + 1)
    if (t && p) {
      const key = `${t},${p}`
      intersections.set(key, (intersections.get(key) ?? 0) + 1)
    }
  }
  const pairs: { truth: number; predicted: number; iou: number }[] = []
  for (const [key, inter] of intersections) {
    const [t, p] = key.split(',').map(Number)
    const union = (areaTruth.get(t) ?? 0) + (areaPredicted.get(p) ?? 0) - inter
    pairs.push({ truth: t, predicted: p, iou: inter / union })
  }
  return { pairs, truthCount: areaTruth.size, predictedCount: areaPredicted.size }
}

/**
 * Matches predicted to true objects one to one at IoU > threshold. For threshold ≥ 0.5 such
 * matches are unique, so a greedy pass in decreasing IoU is exact.
 */
export function matchInstances(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  threshold = 0.5,
): Matching {
  const { pairs, truthCount, predictedCount } = overlapIoUs(truth, predicted)
  pairs.sort((a, b) => b.iou - a.iou)
  const usedTruth = new Set<number>()
  const usedPredicted = new Set<number>()
  let sumIoU = 0
  for (const pair of pairs) {
    if (pair.iou <= threshold) break
    if (usedTruth.has(pair.truth) || usedPredicted.has(pair.predicted)) continue
    usedTruth.add(pair.truth)
    usedPredicted.add(pair.predicted)
    sumIoU += pair.iou
  }
  const tp = usedTruth.size
  const fp = predictedCount - tp
  const fn = truthCount - tp
  const denominator = tp + fp + fn
  return {
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    meanMatchedIoU: tp === 0 ? 0 : sumIoU / tp,
    averagePrecision: denominator === 0 ? 1 : tp / denominator,
  }
}
