// Per-channel percentile normalisation of raw pixels to [0, 1] for the model, defined once:
// the trainer's tessera_trainer/normalization.py gives the same float32 numbers (shared fixture).
// Pure; never changes stored pixels or display contrast.
import type { ChannelStats } from '../schemas/images.ts'

export const PERCENTILE_KEYS = ['0.1', '1', '50', '99', '99.9'] as const
export const LOW_PERCENTILE = '1'
export const HIGH_PERCENTILE = '99.9'

/** Linear interpolation between closest ranks of ascending values (numpy's default). */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new Error('percentile of an empty channel')
  const position = (p / 100) * (sorted.length - 1)
  const below = Math.floor(position)
  const above = Math.min(below + 1, sorted.length - 1)
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below)
}

/** The statistics the server records for one channel's values. */
export function computeChannelStats(values: ArrayLike<number>): ChannelStats {
  const sorted = Float64Array.from(values).sort()
  let sum = 0
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]
  const percentiles = Object.fromEntries(
    PERCENTILE_KEYS.map((key) => [key, percentileOfSorted(sorted, Number(key))]),
  ) as ChannelStats['percentiles']
  return {
    min: sorted[0],
    max: sorted[sorted.length - 1],
    mean: sum / sorted.length,
    percentiles,
  }
}

/** Low and high ends of the scaling: p1 and p99.9, or p1 and max when the histogram is flat. */
export function normalizationRange(stats: ChannelStats): { low: number; high: number } {
  const low = stats.percentiles[LOW_PERCENTILE]
  let high = stats.percentiles[HIGH_PERCENTILE]
  // Sparse images (few bright pixels) can have p99.9 == p1; the maximum still separates them.
  if (!(high > low)) high = stats.max
  return { low, high }
}

/**
 * Interleaved raw pixels (height × width × channels) → planar float32 (modelChannels × height ×
 * width): x' = min(max((x − low) / (high − low), 0), 1) in float64, rounded once to float32.
 * Model channel k takes image channel k; a channel the image lacks, or one whose high ≤ low, is 0.
 */
export function normalizeImage(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  stats: readonly ChannelStats[],
  modelChannels: number,
): Float32Array {
  const area = width * height
  if (pixels.length !== area * channels) {
    throw new Error(`expected ${area * channels} pixel values, got ${pixels.length}`)
  }
  const out = new Float32Array(modelChannels * area)
  for (let c = 0; c < Math.min(channels, modelChannels); c++) {
    const channelStats = stats[c]
    if (!channelStats) throw new Error(`no statistics for channel ${c}`)
    const { low, high } = normalizationRange(channelStats)
    if (!(high > low)) continue
    const span = high - low
    const plane = c * area
    for (let i = 0; i < area; i++) {
      const value = (pixels[i * channels + c] - low) / span
      out[plane + i] = Math.min(Math.max(value, 0), 1)
    }
  }
  return out
}
