// Turns the encoder's automatic head (per-pixel foreground probability and a centre-ness /
// distance map) into instance proposals: seeds at local maxima of the distance map inside the
// foreground, then a watershed flood on the inverted distance that never leaves the foreground.
// Pure and allocation-light: it runs in the browser worker and the evaluation CLI.

export interface ProposalMaps {
  width: number
  height: number
  /** Foreground probability in [0, 1]. */
  foreground: Float32Array
  /** Larger towards object centres (e.g. a normalised distance to the boundary). */
  distance: Float32Array
}

export interface ProposalOptions {
  foregroundThreshold: number
  /** Minimum distance value for a seed. */
  seedThreshold: number
  /** Seeds closer than this many pixels to a higher seed are merged into it. */
  minSeedSeparation: number
  minArea: number
}

export interface Proposal {
  id: number
  /** Mean foreground probability over the instance. */
  score: number
  area: number
  bbox: { x: number; y: number; width: number; height: number }
}

export const DEFAULT_PROPOSAL_OPTIONS: ProposalOptions = {
  foregroundThreshold: 0.5,
  seedThreshold: 0.1,
  minSeedSeparation: 3,
  minArea: 8,
}

/** A binary max-heap of pixel indices keyed by a float priority. */
class PixelHeap {
  private indices: Int32Array
  private keys: Float32Array
  size = 0
  constructor(capacity: number) {
    this.indices = new Int32Array(capacity)
    this.keys = new Float32Array(capacity)
  }
  push(index: number, key: number) {
    if (this.size === this.indices.length) {
      const indices = new Int32Array(this.size * 2)
      indices.set(this.indices)
      const keys = new Float32Array(this.size * 2)
      keys.set(this.keys)
      this.indices = indices
      this.keys = keys
    }
    let i = this.size++
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.keys[parent] >= key) break
      this.indices[i] = this.indices[parent]
      this.keys[i] = this.keys[parent]
      i = parent
    }
    this.indices[i] = index
    this.keys[i] = key
  }
  pop(): number {
    const top = this.indices[0]
    const lastIndex = this.indices[--this.size]
    const lastKey = this.keys[this.size]
    let i = 0
    for (;;) {
      let child = 2 * i + 1
      if (child >= this.size) break
      if (child + 1 < this.size && this.keys[child + 1] > this.keys[child]) child++
      if (this.keys[child] <= lastKey) break
      this.indices[i] = this.indices[child]
      this.keys[i] = this.keys[child]
      i = child
    }
    this.indices[i] = lastIndex
    this.keys[i] = lastKey
    return top
  }
}

function findSeeds(maps: ProposalMaps, options: ProposalOptions): number[] {
  const { width, height, foreground, distance } = maps
  const candidates: number[] = []
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x
      const d = distance[i]
      if (foreground[i] < options.foregroundThreshold || d < options.seedThreshold) continue
      let isMax = true
      for (let dy = -1; dy <= 1 && isMax; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const u = x + dx
          const v = y + dy
          if ((dx || dy) && u >= 0 && v >= 0 && u < width && v < height) {
            const n = distance[v * width + u]
            // Ties go to the earlier pixel so plateaus give one seed.
            if (n > d || (n === d && v * width + u < i)) {
              isMax = false
              break
            }
          }
        }
      }
      if (isMax) candidates.push(i)
    }
  }
  // Suppress seeds near a stronger one (a plateau or noisy ridge inside one object).
  candidates.sort((a, b) => distance[b] - distance[a])
  const kept: number[] = []
  const r2 = options.minSeedSeparation ** 2
  for (const c of candidates) {
    const cx = c % width
    const cy = (c - cx) / width
    const near = kept.some((k) => {
      const kx = k % width
      return (kx - cx) ** 2 + ((k - kx) / width - cy) ** 2 < r2
    })
    if (!near) kept.push(c)
  }
  return kept
}

export function proposeInstances(
  maps: ProposalMaps,
  options: ProposalOptions = DEFAULT_PROPOSAL_OPTIONS,
): { labels: Uint32Array; proposals: Proposal[] } {
  const { width, height, foreground, distance } = maps
  const labels = new Uint32Array(width * height)
  const seeds = findSeeds(maps, options)
  const heap = new PixelHeap(Math.max(16, seeds.length * 4))
  seeds.forEach((seed, k) => {
    labels[seed] = k + 1
    heap.push(seed, distance[seed])
  })
  while (heap.size > 0) {
    const i = heap.pop()
    const x = i % width
    const label = labels[i]
    const neighbours = [
      x > 0 ? i - 1 : -1,
      x < width - 1 ? i + 1 : -1,
      i >= width ? i - width : -1,
      i < width * (height - 1) ? i + width : -1,
    ]
    for (const n of neighbours) {
      if (n < 0 || labels[n] !== 0 || foreground[n] < options.foregroundThreshold) continue
      labels[n] = label
      heap.push(n, distance[n])
    }
  }
  // Statistics per label, then drop the small ones and renumber densely.
  const count = seeds.length
  const area = new Float64Array(count + 1)
  const score = new Float64Array(count + 1)
  const minX = new Int32Array(count + 1).fill(width)
  const minY = new Int32Array(count + 1).fill(height)
  const maxX = new Int32Array(count + 1).fill(-1)
  const maxY = new Int32Array(count + 1).fill(-1)
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]
    if (!l) continue
    const x = i % width
    const y = (i - x) / width
    area[l]++
    score[l] += foreground[i]
    if (x < minX[l]) minX[l] = x
    if (x > maxX[l]) maxX[l] = x
    if (y < minY[l]) minY[l] = y
    if (y > maxY[l]) maxY[l] = y
  }
  const renumber = new Uint32Array(count + 1)
  const proposals: Proposal[] = []
  for (let l = 1; l <= count; l++) {
    if (area[l] < options.minArea) continue
    const id = proposals.length + 1
    renumber[l] = id
    proposals.push({
      id,
      score: score[l] / area[l],
      area: area[l],
      bbox: { x: minX[l], y: minY[l], width: maxX[l] - minX[l] + 1, height: maxY[l] - minY[l] + 1 },
    })
  }
  for (let i = 0; i < labels.length; i++) labels[i] = renumber[labels[i]]
  return { labels, proposals }
}
