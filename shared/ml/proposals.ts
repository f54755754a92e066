// Turns the encoder's automatic head (foreground and centre-distance logits) into instance
// proposals, step for step as the trainer's propose_instances
// (trainer/tessera_trainer/proposals.py), so that browser, evaluation CLI and trainer agree:
// 1. foreground = sigmoid(fg) > 0.5; 2. seeds = 4-connected components of foreground where
// sigmoid(distance) > 0.5, of at least minSeedArea pixels; 3. seeds grow through the
// foreground one pixel layer at a time (a pixel reached by several seeds in one layer takes the
// smallest label); 4. foreground parts no seed reached become objects of their own; 5. objects
// under minArea pixels are dropped; score = mean foreground probability. Pure.

export interface HeadLogits {
  width: number
  height: number
  foreground: Float32Array
  distance: Float32Array
}

export interface ProposalOptions {
  foregroundThreshold: number
  seedThreshold: number
  minSeedArea: number
  minArea: number
}

export interface Proposal {
  /** Label of the object in the returned label image (1..K). */
  id: number
  /** Mean foreground probability over the object. */
  score: number
  area: number
  bbox: { x: number; y: number; width: number; height: number }
}

export const DEFAULT_PROPOSAL_OPTIONS: ProposalOptions = {
  foregroundThreshold: 0.5,
  seedThreshold: 0.5,
  minSeedArea: 3,
  minArea: 8,
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-Math.max(-60, Math.min(60, x))))

/**
 * 4-connected components of `mask`, written into `labels` (which must be 0 there) starting at
 * `firstLabel`, numbered in raster order of each component's first pixel. Returns the count.
 */
function labelComponents(
  mask: Uint8Array,
  labels: Uint32Array,
  width: number,
  firstLabel: number,
): number {
  const stack = new Int32Array(mask.length)
  let next = firstLabel
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue
    let top = 0
    stack[top++] = start
    labels[start] = next
    while (top > 0) {
      const i = stack[--top]
      const x = i % width
      if (x > 0 && mask[i - 1] && !labels[i - 1]) {
        labels[i - 1] = next
        stack[top++] = i - 1
      }
      if (x < width - 1 && mask[i + 1] && !labels[i + 1]) {
        labels[i + 1] = next
        stack[top++] = i + 1
      }
      if (i >= width && mask[i - width] && !labels[i - width]) {
        labels[i - width] = next
        stack[top++] = i - width
      }
      if (i + width < mask.length && mask[i + width] && !labels[i + width]) {
        labels[i + width] = next
        stack[top++] = i + width
      }
    }
    next++
  }
  return next - firstLabel
}

/** Drops labels with fewer than minArea pixels and renumbers the rest densely, in order. */
function removeSmall(labels: Uint32Array, count: number, minArea: number): number {
  const area = new Uint32Array(count + 1)
  for (let i = 0; i < labels.length; i++) area[labels[i]]++
  const lookup = new Uint32Array(count + 1)
  let kept = 0
  for (let l = 1; l <= count; l++) if (area[l] >= minArea) lookup[l] = ++kept
  for (let i = 0; i < labels.length; i++) labels[i] = lookup[labels[i]]
  return kept
}

/** Grows labels through `region` one 4-connected layer at a time, smallest label winning ties. */
function growLabels(labels: Uint32Array, region: Uint8Array, width: number): void {
  const n = labels.length
  let frontier: number[] = []
  for (let i = 0; i < n; i++) if (labels[i]) frontier.push(i)
  const candidate = new Uint32Array(n)
  while (frontier.length > 0) {
    const reached: number[] = []
    for (const i of frontier) {
      const x = i % width
      const neighbours = [
        x > 0 ? i - 1 : -1,
        x < width - 1 ? i + 1 : -1,
        i >= width ? i - width : -1,
        i + width < n ? i + width : -1,
      ]
      for (const j of neighbours) {
        if (j < 0 || !region[j] || labels[j]) continue
        if (!candidate[j]) reached.push(j)
        if (!candidate[j] || labels[i] < candidate[j]) candidate[j] = labels[i]
      }
    }
    for (const j of reached) {
      labels[j] = candidate[j]
      candidate[j] = 0
    }
    frontier = reached
  }
}

export function proposeInstances(
  head: HeadLogits,
  options: ProposalOptions = DEFAULT_PROPOSAL_OPTIONS,
): { labels: Uint32Array; proposals: Proposal[] } {
  const { width, height } = head
  const n = width * height
  const probability = new Float64Array(n)
  const foreground = new Uint8Array(n)
  const cores = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    probability[i] = sigmoid(head.foreground[i])
    foreground[i] = probability[i] > options.foregroundThreshold ? 1 : 0
    cores[i] = foreground[i] && sigmoid(head.distance[i]) > options.seedThreshold ? 1 : 0
  }
  const labels = new Uint32Array(n)
  const seedCount = removeSmall(
    labels,
    labelComponents(cores, labels, width, 1),
    options.minSeedArea,
  )
  growLabels(labels, foreground, width)
  const orphans = new Uint8Array(n)
  for (let i = 0; i < n; i++) orphans[i] = foreground[i] && !labels[i] ? 1 : 0
  const orphanCount = labelComponents(orphans, labels, width, seedCount + 1)
  const count = removeSmall(labels, seedCount + orphanCount, options.minArea)

  const area = new Float64Array(count + 1)
  const total = new Float64Array(count + 1)
  const minX = new Int32Array(count + 1).fill(width)
  const minY = new Int32Array(count + 1).fill(height)
  const maxX = new Int32Array(count + 1).fill(-1)
  const maxY = new Int32Array(count + 1).fill(-1)
  for (let i = 0; i < n; i++) {
    const l = labels[i]
    if (!l) continue
    const x = i % width
    const y = (i - x) / width
    area[l]++
    total[l] += probability[i]
    if (x < minX[l]) minX[l] = x
    if (x > maxX[l]) maxX[l] = x
    if (y < minY[l]) minY[l] = y
    if (y > maxY[l]) maxY[l] = y
  }
  const proposals: Proposal[] = []
  for (let l = 1; l <= count; l++) {
    proposals.push({
      id: l,
      score: total[l] / area[l],
      area: area[l],
      bbox: { x: minX[l], y: minY[l], width: maxX[l] - minX[l] + 1, height: maxY[l] - minY[l] + 1 },
    })
  }
  return { labels, proposals }
}
