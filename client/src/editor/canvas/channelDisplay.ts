// Window/level per channel: raw samples (8/16-bit or float) to an RGBA image for the canvas,
// as a view setting that never changes the data. Pure.
import { DEFAULT_CHANNEL_COLORS } from '../../../../shared/imaging/channelColors.ts'
import type { ChannelStats, ImageDtype } from '../../../../shared/schemas/images.ts'

export interface ChannelSetting {
  visible: boolean
  /** Sample values mapped to black and to full colour. */
  low: number
  high: number
  /** Colour as [r, g, b] in 0..1. */
  color: [number, number, number]
}

export function defaultChannelSettings(stats: ChannelStats[]): ChannelSetting[] {
  return stats.map((s, c) => ({
    visible: true,
    low: s.percentiles['0.1'],
    high: s.percentiles['99.9'] > s.percentiles['0.1'] ? s.percentiles['99.9'] : s.max,
    color: DEFAULT_CHANNEL_COLORS[stats.length][c],
  }))
}

export type RawSamples = Uint8Array | Uint16Array | Float32Array

export function samplesOf(buffer: ArrayBuffer, dtype: ImageDtype): RawSamples {
  if (dtype === 'uint8') return new Uint8Array(buffer)
  if (dtype === 'uint16') return new Uint16Array(buffer)
  return new Float32Array(buffer)
}

/** Composites the visible channels additively into RGBA pixels. */
export function composeDisplay(
  samples: RawSamples,
  pixelCount: number,
  channels: number,
  settings: ChannelSetting[],
  out: Uint8ClampedArray,
): void {
  out.fill(0)
  const lookup = !(samples instanceof Float32Array)
  for (let c = 0; c < channels; c++) {
    const s = settings[c]
    if (!s.visible) continue
    const range = s.high > s.low ? s.high - s.low : 1
    const [r, g, b] = s.color
    let table: Float32Array | null = null
    if (lookup) {
      table = new Float32Array(samples instanceof Uint8Array ? 256 : 65536)
      for (let v = 0; v < table.length; v++)
        table[v] = Math.min(255, Math.max(0, ((v - s.low) / range) * 255))
    }
    for (let i = 0; i < pixelCount; i++) {
      const v = samples[i * channels + c]
      const level = table ? table[v] : Math.min(255, Math.max(0, ((v - s.low) / range) * 255))
      const o = i * 4
      out[o] += level * r
      out[o + 1] += level * g
      out[o + 2] += level * b
    }
  }
  for (let i = 3; i < out.length; i += 4) out[i] = 255
}
