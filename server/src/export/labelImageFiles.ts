// Label images as files: uint16 labels to 16-bit greyscale PNG (sharp) and TIFF (encodeTiff),
// and any single-channel label PNG or TIFF back to uint16 (8-bit promoted). Values are kept
// exactly; a colour (RGB) label image is refused, never guessed at. Touches no files itself.
import sharp from 'sharp'
import { encodeTiff } from '../images/encodeTiff.ts'

const checkSize = (labels: Uint16Array, width: number, height: number) => {
  if (labels.length !== width * height) {
    throw new Error(`${labels.length} labels for a ${width} × ${height} image`)
  }
}

/** A 16-bit greyscale PNG (colour type 0, bit depth 16) of the labels. */
export async function encodeLabelPng(
  labels: Uint16Array,
  width: number,
  height: number,
): Promise<Uint8Array> {
  checkSize(labels, width, height)
  // A Uint16Array as raw input is read as ushort; without grey16 sharp would write 8-bit sRGB.
  const png = await sharp(labels, { raw: { width, height, channels: 1 } })
    .toColourspace('grey16')
    .png()
    .toBuffer()
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength)
}

/** A 16-bit greyscale TIFF of the labels (one page, one strip, uncompressed). */
export async function encodeLabelTiff(
  labels: Uint16Array,
  width: number,
  height: number,
): Promise<Uint8Array> {
  checkSize(labels, width, height)
  // Uncompressed: the archive deflates it, and every reader opens a baseline strip.
  return encodeTiff([{ width, height, channels: 1, samples: labels }])
}

export interface DecodedLabels {
  width: number
  height: number
  labels: Uint16Array
}

const MAX_LABEL = 65535

/**
 * Reads a label PNG or TIFF: one channel of 8 or 16 bits (or integer-valued 32-bit float),
 * promoted to uint16. A grey image stored as RGB (all channels equal) and an opaque alpha
 * channel are accepted; a colour label image, several pages or values above 65535 are an Error.
 */
export async function decodeLabelImage(bytes: Uint8Array): Promise<DecodedLabels> {
  const meta = await sharp(bytes, { failOn: 'error' }).metadata()
  const { width, height, channels, depth } = meta
  if (!width || !height || !channels) throw new Error('not a readable image')
  if ((meta.pages ?? 1) > 1) {
    throw new Error(`the label image has ${meta.pages} pages; a label image has one`)
  }
  const wide = depth === 'ushort'
  const grey = channels <= 2
  const space = grey ? (wide ? 'grey16' : 'b-w') : wide ? 'rgb16' : 'srgb'
  const rawDepth = depth === 'uchar' || depth === 'ushort' ? depth : 'double'
  const { data, info } = await sharp(bytes, { failOn: 'error' })
    .toColourspace(space)
    .raw({ depth: rawDepth })
    .toBuffer({ resolveWithObject: true })
  const copy = new Uint8Array(data.byteLength)
  copy.set(data)
  const samples =
    rawDepth === 'uchar'
      ? copy
      : rawDepth === 'ushort'
        ? new Uint16Array(copy.buffer)
        : new Float64Array(copy.buffer)
  const n = width * height
  const stride = info.channels
  if (samples.length !== n * stride) {
    throw new Error(`decoded ${samples.length} samples for ${n} pixels of ${stride} channels`)
  }
  const colours = stride >= 3 ? 3 : 1
  const hasAlpha = stride === 2 || stride === 4
  // Float alpha has no single opaque value; such images are read by their first channel alone.
  const opaque = rawDepth === 'uchar' ? 255 : rawDepth === 'ushort' ? 65535 : undefined
  const labels = new Uint16Array(n)
  for (let i = 0, s = 0; i < n; i++, s += stride) {
    const v = samples[s]
    if (colours === 3 && (samples[s + 1] !== v || samples[s + 2] !== v)) {
      throw new Error(
        `the label image is in colour (${stride} channels, pixel ${i % width}, ${Math.floor(i / width)} is not grey): label images must be single-channel greyscale, 8 or 16 bits, one value per object`,
      )
    }
    if (hasAlpha && opaque !== undefined && samples[s + stride - 1] !== opaque) {
      throw new Error('the label image has a transparent alpha channel; label images have none')
    }
    if (!(Number.isInteger(v) && v >= 0 && v <= MAX_LABEL)) {
      throw new Error(`label value ${v} is not an integer from 0 to ${MAX_LABEL}`)
    }
    labels[i] = v
  }
  return { width, height, labels }
}
