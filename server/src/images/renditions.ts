// Derived renditions of an image for the browser: an 8-bit display image auto-contrasted per
// channel (0.1–99.9 percentiles) and composited in fixed channel colours, cut into PNG tiles
// above the tile size, and a PNG thumbnail. The stored original is never changed.
import sharp from 'sharp'
import { DEFAULT_CHANNEL_COLORS } from '../../../shared/imaging/channelColors.ts'
import type { Samples } from '../../../shared/ml/normalization.ts'
import type { ChannelStats } from '../../../shared/schemas/images.ts'

export const THUMBNAIL_SIZE = 256

export interface DisplayImage {
  width: number
  height: number
  channels: 1 | 3
  data: Uint8Array
}

/** A function from a sample value to 0..255 under the channel's auto-contrast. */
function contrast(stats: ChannelStats) {
  const low = stats.percentiles['0.1']
  const high = stats.percentiles['99.9'] > low ? stats.percentiles['99.9'] : stats.max
  const scale = high > low ? 255 / (high - low) : 0
  return (v: number) => {
    const x = (v - low) * scale
    return x <= 0 ? 0 : x >= 255 ? 255 : x
  }
}

export function displayImage(
  samples: Samples,
  width: number,
  height: number,
  channels: number,
  stats: ChannelStats[],
): DisplayImage {
  const n = width * height
  const maps = stats.map(contrast)
  // 8/16-bit samples go through a lookup table per channel.
  const tables =
    samples instanceof Float32Array
      ? null
      : maps.map((map) => {
          const size = samples instanceof Uint8Array ? 256 : 65536
          const table = new Float32Array(size)
          for (let v = 0; v < size; v++) table[v] = map(v)
          return table
        })
  const value = (i: number, c: number) => {
    const v = samples[i * channels + c]
    return tables ? tables[c][v] : maps[c](v)
  }
  if (channels === 1) {
    const data = new Uint8Array(n)
    for (let i = 0; i < n; i++) data[i] = value(i, 0)
    return { width, height, channels: 1, data }
  }
  const colours = DEFAULT_CHANNEL_COLORS[channels]
  const data = new Uint8Array(n * 3)
  for (let i = 0; i < n; i++) {
    let r = 0
    let g = 0
    let b = 0
    for (let c = 0; c < channels; c++) {
      const v = value(i, c)
      r += v * colours[c][0]
      g += v * colours[c][1]
      b += v * colours[c][2]
    }
    data[3 * i] = r > 255 ? 255 : r
    data[3 * i + 1] = g > 255 ? 255 : g
    data[3 * i + 2] = b > 255 ? 255 : b
  }
  return { width, height, channels: 3, data }
}

const rawInput = (image: DisplayImage) => {
  const input = sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels },
    // Our own display image, already within the server's pixel limit; sharp's default limit
    // (16383², just under the documented 16384²) refused images at the limit with a 500.
    limitInputPixels: false,
  })
  // Without this libvips writes a one-channel image as RGB.
  return image.channels === 1 ? input.toColourspace('b-w') : input
}

export interface TileGrid {
  tileSize: number
  columns: number
  rows: number
}

export function tileGrid(width: number, height: number, tileSize: number): TileGrid {
  return { tileSize, columns: Math.ceil(width / tileSize), rows: Math.ceil(height / tileSize) }
}

/** The PNG of one tile of the display image, row-major index (the whole image when one tile). */
export async function displayTile(image: DisplayImage, grid: TileGrid, index: number) {
  const left = (index % grid.columns) * grid.tileSize
  const top = Math.floor(index / grid.columns) * grid.tileSize
  let pipeline = rawInput(image)
  if (grid.columns > 1 || grid.rows > 1) {
    pipeline = pipeline.extract({
      left,
      top,
      width: Math.min(grid.tileSize, image.width - left),
      height: Math.min(grid.tileSize, image.height - top),
    })
  }
  return pipeline.png({ compressionLevel: 4 }).toBuffer()
}

export async function thumbnail(image: DisplayImage): Promise<Buffer> {
  return rawInput(image)
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
    .png()
    .toBuffer()
}
