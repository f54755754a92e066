// Per-channel statistics of a stream frame's interleaved samples, the numbers the browser's
// normalisation reads (shared/ml/normalization.ts), for every stream dtype. Exact: never an
// approximation of computeChannelStats, only a faster way to the same values. Pure.
import { channelStats, computeChannelStats } from '../../../../shared/ml/normalization.ts'
import type { ChannelStats } from '../../../../shared/schemas/images.ts'
import type { FrameSamples } from './FrameAnalyzer.ts'

/** Integers below this are exact in float32, so uint32 frames under it take the float path. */
const FLOAT32_EXACT_LIMIT = 2 ** 24

/**
 * Statistics per channel: uint8/uint16/float32 by the shared histogram and radix paths; uint32 by
 * the float32 path when every sample is below 2^24 (exact there, the usual case for counting
 * detectors), else by sorting each channel (the plain definition; slow on large frames).
 */
export function frameChannelStats(samples: FrameSamples, channels: number): ChannelStats[] {
  if (!(samples instanceof Uint32Array)) return channelStats(samples, channels)
  let max = 0
  for (let i = 0; i < samples.length; i++) if (samples[i] > max) max = samples[i]
  if (max < FLOAT32_EXACT_LIMIT) return channelStats(Float32Array.from(samples), channels)
  if (samples.length % channels !== 0) {
    throw new Error(`${samples.length} samples do not divide into ${channels} channels`)
  }
  return Array.from({ length: channels }, (_, channel) => {
    const values = new Float64Array(samples.length / channels)
    for (let i = 0; i < values.length; i++) values[i] = samples[i * channels + channel]
    return computeChannelStats(values)
  })
}
