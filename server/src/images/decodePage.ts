// Decodes one page of an uploaded PNG, JPEG or TIFF into exact samples (uint8, uint16 or float32,
// 1–4 interleaved channels) using sharp (libvips), as its header (planUpload) announced. Runs in a
// decode worker; never writes anything, and never decodes a page whose header was not checked.
import sharp from 'sharp'
import type { Samples } from '../../../shared/ml/normalization.ts'
import type { ImageDtype } from '../../../shared/schemas/images.ts'
import { HttpError } from '../http/HttpError.ts'
import type { PageHeader } from './planUpload.ts'

export interface DecodedPage {
  width: number
  height: number
  channels: number
  dtype: ImageDtype
  /** In an ArrayBuffer of its own, so that it can be transferred to another thread. */
  samples: Samples
}

const ARRAY_OF = { uint8: Uint8Array, uint16: Uint16Array, float32: Float32Array } as const

/** A copy of sharp's output in a fresh buffer: sharp's own may not be transferred between threads. */
function ownCopy(data: Buffer, dtype: ImageDtype): Samples {
  const copy = new Uint8Array(data.byteLength)
  copy.set(data)
  return dtype === 'uint8' ? copy : new ARRAY_OF[dtype](copy.buffer)
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

export async function decodePage(
  name: string,
  bytes: Uint8Array,
  header: PageHeader,
): Promise<DecodedPage> {
  const { page, pageCount, width, height, channels, dtype, depth } = header
  const where = pageCount > 1 ? `${name} (page ${page + 1} of ${pageCount})` : name
  const input = () =>
    sharp(bytes, { page, limitInputPixels: width * height, failOn: 'error' }).raw({ depth })
  let samples: Samples
  try {
    if (channels === 2 && depth !== 'ushort') {
      // libvips drops the second band of two-band 8-bit and float grey images on the way to
      // raw (and without a colourspace change pads them to four bands); one band at a time
      // keeps both while holding at most one band besides the result.
      samples = new ARRAY_OF[dtype](width * height * 2)
      for (const band of [0, 1] as const) {
        const data = await input().extractChannel(band).toColourspace('b-w').toBuffer()
        const one =
          data.byteOffset % samples.BYTES_PER_ELEMENT === 0
            ? new ARRAY_OF[dtype](data.buffer as ArrayBuffer, data.byteOffset, width * height)
            : ownCopy(data, dtype)
        for (let i = 0; i < one.length; i++) samples[2 * i + band] = one[i]
      }
    } else {
      const decoded = await input()
        .toColourspace(header.space as keyof sharp.ColourspaceEnum)
        .toBuffer({ resolveWithObject: true })
      if (decoded.info.channels !== channels) {
        throw new Error(`decoded ${decoded.info.channels} channels instead of ${channels}`)
      }
      samples = ownCopy(decoded.data, dtype)
    }
  } catch (error) {
    throw new HttpError(
      422,
      `${where} could not be decoded; the file may be truncated or corrupt (${(error as Error).message})`,
    )
  }
  return { width, height, dtype, ...simplifyChannels(samples, channels, header.hasAlpha) }
}
