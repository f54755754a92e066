// Per-channel statistics of samples and the percentile normalisation of raw pixels to [0, 1] for
// the model, defined once: the trainer's tessera_trainer/normalization.py gives the same numbers
// (shared fixture). Pure; never changes stored pixels or display contrast.
import type { ChannelStats } from '../schemas/images.ts'
import type { Polarity } from '../schemas/modelCard.ts'

export const PERCENTILE_KEYS = ['0.1', '1', '50', '99', '99.9'] as const
export const LOW_PERCENTILE = '1'
export const HIGH_PERCENTILE = '99.9'

/** Interleaved samples as the server decodes and stores them. */
export type Samples = Uint8Array | Uint16Array | Float32Array

/** Linear interpolation between closest ranks of ascending values (numpy's default). */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new Error('percentile of an empty channel')
  return percentileAt((rank) => sorted[rank], sorted.length, p)
}

/** The p-th percentile of `count` values, given the value at each 0-based rank in ascending order. */
function percentileAt(valueAtRank: (rank: number) => number, count: number, p: number): number {
  const position = (p / 100) * (count - 1)
  const below = Math.floor(position)
  const low = valueAtRank(below)
  const high = valueAtRank(Math.min(below + 1, count - 1))
  return low + (high - low) * (position - below)
}

/** The ranks whose values the statistics need: 0, the last, and both sides of each percentile. */
function ranksNeeded(count: number): number[] {
  const ranks = new Set([0, count - 1])
  for (const key of PERCENTILE_KEYS) {
    const below = Math.floor((Number(key) / 100) * (count - 1))
    ranks.add(below)
    ranks.add(Math.min(below + 1, count - 1))
  }
  return [...ranks].sort((a, b) => a - b)
}

function statsFrom(
  valueAtRank: (rank: number) => number,
  count: number,
  sum: number,
): ChannelStats {
  // A channel without a single finite value has nothing to scale by; zeros leave it dark.
  const value = count === 0 ? () => 0 : valueAtRank
  const percentile = (key: string) => (count === 0 ? 0 : percentileAt(value, count, Number(key)))
  return {
    min: value(0),
    max: value(count - 1),
    mean: count === 0 ? 0 : sum / count,
    percentiles: Object.fromEntries(
      PERCENTILE_KEYS.map((key) => [key, percentile(key)]),
    ) as ChannelStats['percentiles'],
  }
}

/** Exact statistics of one channel of 8/16-bit samples from a histogram: O(n), no copy. */
function integerChannelStats(samples: Uint8Array | Uint16Array, channels: number, channel: number) {
  const histogram = new Float64Array(samples instanceof Uint8Array ? 256 : 65536)
  let sum = 0
  for (let i = channel; i < samples.length; i += channels) {
    histogram[samples[i]]++
    sum += samples[i]
  }
  const count = samples.length / channels
  if (count === 0) return statsFrom(() => 0, 0, 0)
  const values = new Map<number, number>()
  let value = 0
  let seen = histogram[0]
  for (const rank of ranksNeeded(count)) {
    while (seen <= rank) seen += histogram[++value]
    values.set(rank, value)
  }
  return statsFrom((rank) => values.get(rank)!, count, sum)
}

/**
 * Exact statistics of one channel of float32 samples, NaN and ±Infinity left out, by radix
 * selection on the bits ordered like the numbers (two passes of 16-bit histograms): O(n) and no
 * copy, where a sort of 268 million values would take tens of seconds.
 */
function floatChannelStats(samples: Float32Array, channels: number, channel: number) {
  const bits = new Uint32Array(samples.buffer, samples.byteOffset, samples.length)
  // Flipping the sign bit of positives and every bit of negatives orders the words like the
  // numbers (−0 just before +0, as a sort orders them).
  const orderedKey = (word: number) => (word & 0x80000000 ? ~word : word | 0x80000000) >>> 0
  const high = new Float64Array(65536)
  let sum = 0
  let count = 0
  for (let i = channel; i < samples.length; i += channels) {
    const word = bits[i]
    if ((word & 0x7f800000) === 0x7f800000) continue // NaN or ±Infinity
    high[orderedKey(word) >>> 16]++
    sum += samples[i]
    count++
  }
  if (count === 0) return statsFrom(() => 0, 0, 0)
  // First pass: the high half of each needed rank's key, and its rank within that bucket.
  const ranks = ranksNeeded(count)
  const bucketOf = new Map<number, { bucket: number; within: number }>()
  let bucket = 0
  let before = 0
  for (const rank of ranks) {
    while (before + high[bucket] <= rank) before += high[bucket++]
    bucketOf.set(rank, { bucket, within: rank - before })
  }
  // Second pass: histograms of the low halves, only in the buckets the ranks fell in.
  const buckets = [...new Set([...bucketOf.values()].map((b) => b.bucket))]
  const slotOf = new Int32Array(65536).fill(-1)
  buckets.forEach((b, slot) => {
    slotOf[b] = slot
  })
  const low = new Float64Array(buckets.length * 65536)
  for (let i = channel; i < samples.length; i += channels) {
    const word = bits[i]
    if ((word & 0x7f800000) === 0x7f800000) continue
    const key = orderedKey(word)
    const slot = slotOf[key >>> 16]
    if (slot >= 0) low[slot * 65536 + (key & 0xffff)]++
  }
  const scratch = new Uint32Array(1)
  const asFloat = new Float32Array(scratch.buffer)
  const values = new Map<number, number>()
  for (const [rank, { bucket, within }] of bucketOf) {
    const base = slotOf[bucket] * 65536
    let lowBits = 0
    let seen = low[base]
    while (seen <= within) seen += low[base + ++lowBits]
    const key = ((bucket << 16) | lowBits) >>> 0
    scratch[0] = key & 0x80000000 ? key & 0x7fffffff : ~key
    values.set(rank, asFloat[0])
  }
  return statsFrom((rank) => values.get(rank)!, count, sum)
}

/**
 * The statistics the server records for each channel of interleaved samples, and the model's
 * normalisation reads: min, max, mean and the 0.1/1/50/99/99.9 percentiles of the finite values
 * (linear interpolation between closest ranks, as numpy and the trainer compute them). Exact.
 */
export function channelStats(samples: Samples, channels: number): ChannelStats[] {
  if (samples.length % channels !== 0) {
    throw new Error(`${samples.length} samples do not divide into ${channels} channels`)
  }
  return Array.from({ length: channels }, (_, channel) =>
    samples instanceof Float32Array
      ? floatChannelStats(samples, channels, channel)
      : integerChannelStats(samples, channels, channel),
  )
}

/**
 * The same statistics for one channel's values. Typed 8/16-bit and float32 arrays take the
 * exact fast paths; any other values are sorted (the plain definition the fast paths must equal).
 */
export function computeChannelStats(values: ArrayLike<number>): ChannelStats {
  if (
    values instanceof Uint8Array ||
    values instanceof Uint16Array ||
    values instanceof Float32Array
  ) {
    return channelStats(values, 1)[0]
  }
  let sum = 0
  const finite: number[] = []
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) {
      finite.push(values[i])
      sum += values[i]
    }
  }
  const sorted = Float64Array.from(finite).sort()
  return statsFrom((rank) => sorted[rank], sorted.length, sum)
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
 * width): x' = min(max((x − low) / (high − low), 0), 1) in float64, rounded once to float32;
 * NaN gives 0. Model channel k takes image channel k; a channel the image lacks, or one whose
 * high ≤ low, is 0. With polarity 'dark' (the card's input.polarity) every channel the image has
 * becomes 1 − x' (a NaN sample 1, the background's value), so dark objects come in bright.
 */
export function normalizeImage(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  stats: readonly ChannelStats[],
  modelChannels: number,
  polarity: Polarity = 'bright',
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
    const dark = polarity === 'dark'
    for (let i = 0; i < area; i++) {
      let value = Math.min(Math.max((pixels[i * channels + c] - low) / span, 0), 1)
      // A NaN sample (a masked float pixel) would spread through every convolution it reaches.
      if (Number.isNaN(value)) value = 0
      out[plane + i] = dark ? 1 - value : value
    }
  }
  return out
}
