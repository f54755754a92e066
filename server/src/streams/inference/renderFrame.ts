// The live view's picture of a frame: each channel auto-contrasted between the percentiles the
// model's normalisation uses, composited in the app's channel colours, the detected objects'
// outlines drawn on top, at most maxSide pixels on the longer side, as PNG. Display only.
import sharp from 'sharp'
import { DEFAULT_CHANNEL_COLORS } from '../../../../shared/imaging/channelColors.ts'
import { normalizationRange } from '../../../../shared/ml/normalization.ts'
import type { ChannelStats } from '../../../../shared/schemas/images.ts'
import type { FrameSamples } from './FrameAnalyzer.ts'
import { frameChannelStats } from './frameChannelStats.ts'

export const DEFAULT_RENDER_MAX_SIDE = 1024
/** Outlines in bright yellow: apart from every channel colour and from grey. */
export const OUTLINE_COLOR: readonly [number, number, number] = [255, 221, 0]

export interface RenderableFrame {
  width: number
  height: number
  channels: number
  samples: FrameSamples
}

export async function renderFramePng(
  frame: RenderableFrame,
  labels: Uint32Array | null,
  options: { maxSide?: number } = {},
): Promise<Buffer> {
  const { width, height } = frame
  if (frame.samples.length !== width * height * frame.channels)
    throw new Error('The frame samples do not match its size and channels')
  if (labels && labels.length !== width * height)
    throw new Error('The label image does not match the frame size')
  const maxSide = Math.max(1, Math.floor(options.maxSide ?? DEFAULT_RENDER_MAX_SIDE))
  const scale = Math.min(1, maxSide / Math.max(width, height))
  const outWidth = Math.max(1, Math.round(width * scale))
  const outHeight = Math.max(1, Math.round(height * scale))
  const rgb = compositeFrame(frame)
  const png = { compressionLevel: 3, adaptiveFiltering: false }

  if (outWidth === width && outHeight === height) {
    if (labels) drawOutlines(rgb, 3, labels, width, height)
    return sharp(rgb, { raw: { width, height, channels: 3 } })
      .png(png)
      .toBuffer()
  }
  // Downscaled: outlines are drawn at the output size (labels sampled at each output pixel's
  // centre) so that they stay one crisp pixel wide instead of being averaged away.
  const resized = sharp(rgb, {
    raw: { width, height, channels: 3 },
    limitInputPixels: false,
  }).resize(outWidth, outHeight, { fit: 'fill' })
  if (!labels) return resized.png(png).toBuffer()
  const sampled = new Uint32Array(outWidth * outHeight)
  for (let y = 0; y < outHeight; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / outHeight))
    for (let x = 0; x < outWidth; x++) {
      const sx = Math.min(width - 1, Math.floor(((x + 0.5) * width) / outWidth))
      sampled[y * outWidth + x] = labels[sy * width + sx]
    }
  }
  const overlay = new Uint8Array(outWidth * outHeight * 4)
  drawOutlines(overlay, 4, sampled, outWidth, outHeight)
  return resized
    .composite([
      {
        input: Buffer.from(overlay.buffer),
        raw: { width: outWidth, height: outHeight, channels: 4 },
      },
    ])
    .png(png)
    .toBuffer()
}

/** 8-bit RGB of the frame: per-channel p1–p99.9 contrast, channel colours added and clipped. */
function compositeFrame(frame: RenderableFrame): Uint8Array {
  const { width, height, channels, samples } = frame
  const n = width * height
  const colours = DEFAULT_CHANNEL_COLORS[channels] ?? DEFAULT_CHANNEL_COLORS[1]
  const stats = frameChannelStats(samples, channels)
  const rgb = new Uint8Array(n * 3)
  if (channels === 1) {
    const grey = contrastedChannel(samples, 1, 0, n, stats[0])
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      const v = grey[i]
      rgb[j] = v
      rgb[j + 1] = v
      rgb[j + 2] = v
    }
    return rgb
  }
  const sum = new Float32Array(n * 3)
  for (let c = 0; c < channels; c++) {
    const [r, g, b] = colours[c] ?? [0, 0, 0]
    const value = contrastedChannel(samples, channels, c, n, stats[c])
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      const v = value[i]
      sum[j] += v * r
      sum[j + 1] += v * g
      sum[j + 2] += v * b
    }
  }
  for (let j = 0; j < sum.length; j++) rgb[j] = sum[j] > 255 ? 255 : sum[j] + 0.5
  return rgb
}

/** One channel mapped to 0..255 between the normalisation's low and high ends (rounded). */
function contrastedChannel(
  samples: FrameSamples,
  channels: number,
  channel: number,
  n: number,
  stats: ChannelStats,
): Uint8ClampedArray {
  const { low, high } = normalizationRange(stats)
  const gain = high > low ? 255 / (high - low) : 0
  const out = new Uint8ClampedArray(n)
  // 8/16-bit samples go through a lookup table; Uint8ClampedArray clips and rounds (NaN → 0).
  if (samples instanceof Uint8Array || samples instanceof Uint16Array) {
    const table = new Uint8ClampedArray(samples instanceof Uint8Array ? 256 : 65536)
    for (let v = 0; v < table.length; v++) table[v] = (v - low) * gain
    for (let i = 0, k = channel; i < n; i++, k += channels) out[i] = table[samples[k]]
  } else {
    for (let i = 0, k = channel; i < n; i++, k += channels) out[i] = (samples[k] - low) * gain
  }
  return out
}

/** Colours every labelled pixel one of whose 4-neighbours (inside the image) has another label. */
function drawOutlines(
  pixels: Uint8Array,
  stride: 3 | 4,
  labels: Uint32Array,
  width: number,
  height: number,
) {
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const l = labels[i]
      if (l === 0) continue
      const edge =
        (x > 0 && labels[i - 1] !== l) ||
        (x < width - 1 && labels[i + 1] !== l) ||
        (y > 0 && labels[i - width] !== l) ||
        (y < height - 1 && labels[i + width] !== l)
      if (!edge) continue
      pixels[i * stride] = OUTLINE_COLOR[0]
      pixels[i * stride + 1] = OUTLINE_COLOR[1]
      pixels[i * stride + 2] = OUTLINE_COLOR[2]
      if (stride === 4) pixels[i * stride + 3] = 255
    }
  }
}
