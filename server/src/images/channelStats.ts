// Per-channel statistics of interleaved samples: min, max, mean and the 0.1/1/50/99/99.9
// percentiles, with linear interpolation between closest ranks (numpy's default, as the
// trainer's normalisation uses). Exact: histograms for 8/16-bit, a sort for float32. Pure.
import type { ChannelStats } from '../../../shared/schemas/images.ts'

export type Samples = Uint8Array | Uint16Array | Float32Array

const PERCENTILES = [0.1, 1, 50, 99, 99.9] as const

function fromHistogram(histogram: Float64Array, count: number, sum: number): ChannelStats {
  let min = 0
  while (histogram[min] === 0) min++
  let max = histogram.length - 1
  while (histogram[max] === 0) max--
  // Value at rank r (0-based) of the sorted samples.
  const valueAtRank = (rank: number) => {
    let seen = 0
    for (let v = min; v <= max; v++) {
      seen += histogram[v]
      if (seen > rank) return v
    }
    return max
  }
  const percentile = (p: number) => {
    const position = (p / 100) * (count - 1)
    const below = Math.floor(position)
    const low = valueAtRank(below)
    const high = valueAtRank(Math.min(below + 1, count - 1))
    return low + (high - low) * (position - below)
  }
  return statsOf(min, max, sum / count, percentile)
}

function statsOf(min: number, max: number, mean: number, percentile: (p: number) => number) {
  const [p01, p1, p50, p99, p999] = PERCENTILES.map(percentile)
  return {
    min,
    max,
    mean,
    percentiles: { '0.1': p01, '1': p1, '50': p50, '99': p99, '99.9': p999 },
  }
}

export function channelStats(samples: Samples, channels: number): ChannelStats[] {
  const count = samples.length / channels
  const stats: ChannelStats[] = []
  for (let c = 0; c < channels; c++) {
    if (samples instanceof Float32Array) {
      const values = new Float32Array(count)
      let sum = 0
      let finite = 0
      for (let i = 0; i < count; i++) {
        const v = samples[i * channels + c]
        if (Number.isFinite(v)) {
          values[finite++] = v
          sum += v
        }
      }
      const sorted = values.subarray(0, finite).sort()
      if (finite === 0) {
        stats.push(statsOf(0, 0, 0, () => 0))
        continue
      }
      const percentile = (p: number) => {
        const position = (p / 100) * (finite - 1)
        const below = Math.floor(position)
        const above = Math.min(below + 1, finite - 1)
        return sorted[below] + (sorted[above] - sorted[below]) * (position - below)
      }
      stats.push(statsOf(sorted[0], sorted[finite - 1], sum / finite, percentile))
    } else {
      const histogram = new Float64Array(samples instanceof Uint8Array ? 256 : 65536)
      let sum = 0
      for (let i = c; i < samples.length; i += channels) {
        histogram[samples[i]]++
        sum += samples[i]
      }
      stats.push(fromHistogram(histogram, count, sum))
    }
  }
  return stats
}
