// Decodes an uploaded PNG, JPEG or TIFF into exact samples (uint8, uint16 or float32, 1–4
// interleaved channels), one entry per page, using sharp (libvips). Checks the pixel limit from
// the header before decoding anything. Never writes anything.
import sharp from 'sharp'
import type { ImageDtype } from '../../../shared/schemas/images.ts'
import { HttpError } from '../http/HttpError.ts'
import type { Samples } from './channelStats.ts'
import type { ImageFormat } from './detectFormat.ts'

export interface DecodedPage {
  page: number
  pageCount: number
  width: number
  height: number
  channels: number
  dtype: ImageDtype
  samples: Samples
}

const DTYPE_OF_DEPTH: Record<string, ImageDtype | undefined> = {
  uchar: 'uint8',
  ushort: 'uint16',
  float: 'float32',
}

function typedView(data: Buffer, dtype: ImageDtype): Samples {
  // Copy into a fresh, aligned buffer: sharp's Buffer may sit at an odd offset in a pool.
  const copy = new Uint8Array(data.byteLength)
  copy.set(data)
  if (dtype === 'uint8') return copy
  if (dtype === 'uint16') return new Uint16Array(copy.buffer)
  return new Float32Array(copy.buffer)
}

/** Drops an alpha channel that is fully opaque, and collapses grey stored as R = G = B. */
function simplifyChannels(samples: Samples, channels: number, hasAlpha: boolean) {
  let current = samples
  let count = channels
  const pick = (keep: number[]) => {
    const n = current.length / count
    const out = new (current.constructor as new (length: number) => Samples)(n * keep.length)
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < keep.length; k++) out[i * keep.length + k] = current[i * count + keep[k]]
    }
    current = out
    count = keep.length
  }
  if (hasAlpha && (count === 2 || count === 4)) {
    const opaque = current instanceof Uint16Array ? 65535 : 255
    let allOpaque = !(current instanceof Float32Array)
    for (let i = count - 1; allOpaque && i < current.length; i += count) {
      if (current[i] !== opaque) allOpaque = false
    }
    if (allOpaque) pick(Array.from({ length: count - 1 }, (_, k) => k))
  }
  if (count === 3) {
    let grey = true
    for (let i = 0; grey && i < current.length; i += 3) {
      if (current[i] !== current[i + 1] || current[i] !== current[i + 2]) grey = false
    }
    if (grey) pick([0])
  }
  return { samples: current, channels: count }
}

export async function decodeImage(
  name: string,
  bytes: Uint8Array,
  format: ImageFormat,
  maxPixels: number,
): Promise<DecodedPage[]> {
  let meta: sharp.Metadata
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata()
  } catch (error) {
    throw new HttpError(
      422,
      `${name} could not be read as ${format.toUpperCase()}: ${(error as Error).message}`,
    )
  }
  const pageCount = format === 'tiff' ? (meta.pages ?? 1) : 1
  const pages: DecodedPage[] = []
  for (let page = 0; page < pageCount; page++) {
    const pageMeta =
      page === 0 ? meta : await sharp(bytes, { page, limitInputPixels: false }).metadata()
    const { width = 0, height = 0 } = pageMeta
    const where = pageCount > 1 ? `${name} (page ${page + 1} of ${pageCount})` : name
    if (width * height > maxPixels) {
      throw new HttpError(
        413,
        `${where} has ${width}×${height} = ${(width * height).toLocaleString('en')} pixels, more than this server's limit of ${maxPixels.toLocaleString('en')}`,
      )
    }
    const dtype = DTYPE_OF_DEPTH[pageMeta.depth ?? '']
    if (!dtype) {
      throw new HttpError(
        422,
        `${where} has ${pageMeta.depth} samples; Tessera reads 8-bit, 16-bit unsigned and 32-bit float images`,
      )
    }
    const channels = pageMeta.channels ?? 1
    if (channels > 4)
      throw new HttpError(422, `${where} has ${channels} channels; at most 4 are supported`)
    const input = () => sharp(bytes, { page, limitInputPixels: maxPixels, failOn: 'error' })
    let decoded: { data: Buffer; info: sharp.OutputInfo }
    try {
      decoded = await input()
        .toColourspace(pageMeta.space as keyof sharp.ColourspaceEnum)
        .raw({ depth: pageMeta.depth as 'uchar' })
        .toBuffer({ resolveWithObject: true })
      if (decoded.info.channels !== channels) {
        // libvips drops the second band of two-band 8-bit and float grey images in that path;
        // without a colourspace change it keeps it as the last of four bands.
        const plain = await input()
          .raw({ depth: pageMeta.depth as 'uchar' })
          .toBuffer({ resolveWithObject: true })
        if (!(channels === 2 && plain.info.channels === 4)) {
          throw new Error(`decoded ${decoded.info.channels} channels instead of ${channels}`)
        }
        const all = typedView(plain.data, dtype)
        const two = new (all.constructor as new (length: number) => Samples)(width * height * 2)
        for (let i = 0; i < width * height; i++) {
          two[2 * i] = all[4 * i]
          two[2 * i + 1] = all[4 * i + 3]
        }
        const simplified = simplifyChannels(two, 2, meta.hasAlpha === true && format !== 'tiff')
        pages.push({ page, pageCount, width, height, dtype, ...simplified })
        continue
      }
    } catch (error) {
      if (error instanceof HttpError) throw error
      throw new HttpError(
        422,
        `${where} could not be decoded; the file may be truncated or corrupt (${(error as Error).message})`,
      )
    }
    const samples = typedView(decoded.data, dtype)
    // TIFF extra samples are data (a second fluorescence channel), not transparency.
    const simplified = simplifyChannels(
      samples,
      channels,
      meta.hasAlpha === true && format !== 'tiff',
    )
    pages.push({ page, pageCount, width, height, dtype, ...simplified })
  }
  return pages
}
