// COCO run-length encoding of binary masks, as pycocotools reads and writes it: runs over the
// whole image in column-major order (down each column, columns left to right), alternating
// background and foreground, starting with background; `size` is [height, width]. Two forms:
// uncompressed (`counts` a number array, COCO's iscrowd annotations) and compressed (`counts`
// the string of rleToString in pycocotools' maskApi.c). Pure; never reads or writes files.
import { cropMask, decodeMaskRle, encodeMaskRle, type MaskRle } from './mask.ts'

export interface CocoRle {
  /** [height, width] of the image, COCO's order. */
  size: [number, number]
  counts: number[]
}

export interface CompressedCocoRle {
  size: [number, number]
  counts: string
}

/** Collects runs that start with background, merging equal neighbours. */
class RunBuilder {
  readonly counts: number[] = []
  private value = 0
  private run = 0
  add(value: number, length: number) {
    if (length <= 0) return
    if (value === this.value) this.run += length
    else {
      this.counts.push(this.run)
      this.value = value
      this.run = length
    }
  }
  finish(): number[] {
    this.counts.push(this.run)
    return this.counts
  }
}

/** Encodes a row-major mask (non-zero = foreground) of width × height. */
export function encodeCocoRle(mask: Uint8Array, width: number, height: number): CocoRle {
  const runs = new RunBuilder()
  for (let col = 0; col < width; col++) {
    for (let row = 0; row < height; row++) runs.add(mask[row * width + col] !== 0 ? 1 : 0, 1)
  }
  return { size: [height, width], counts: runs.finish() }
}

/** Decodes either form into a row-major mask (1 = foreground); throws on counts that do not fit. */
export function decodeCocoRle(rle: CocoRle | CompressedCocoRle): Uint8Array {
  const [height, width] = rle.size
  const counts = typeof rle.counts === 'string' ? decompressCocoCounts(rle.counts) : rle.counts
  const mask = new Uint8Array(width * height)
  let position = 0
  for (let k = 0; k < counts.length; k++) {
    const count = counts[k]
    if (!Number.isInteger(count) || count < 0 || position + count > width * height)
      throw new Error(`COCO RLE counts do not fit a ${width}×${height} mask`)
    if (k % 2 === 1) {
      for (let p = position; p < position + count; p++) {
        // Position p runs down column floor(p / height).
        const col = Math.floor(p / height)
        mask[(p - col * height) * width + col] = 1
      }
    }
    position += count
  }
  if (position !== width * height)
    throw new Error(`COCO RLE counts cover ${position} of ${width * height} pixels`)
  return mask
}

/** pycocotools' string form: each count (minus the count two before it, from the fourth on) in 5-bit groups, 6 bits per character from '0'. */
export function compressCocoCounts(counts: readonly number[]): string {
  const chars: number[] = []
  for (let i = 0; i < counts.length; i++) {
    // maskApi.c subtracts from i > 2, not i >= 2; follow it to stay byte-identical.
    let x = i > 2 ? counts[i] - counts[i - 2] : counts[i]
    let more = true
    while (more) {
      let c = ((x % 32) + 32) % 32
      x = Math.floor(x / 32) // an arithmetic shift, also for negative differences
      more = c & 0x10 ? x !== -1 : x !== 0
      if (more) c |= 0x20
      chars.push(c + 48)
    }
  }
  return String.fromCharCode(...chars)
}

export function decompressCocoCounts(text: string): number[] {
  const counts: number[] = []
  let p = 0
  while (p < text.length) {
    let x = 0
    let k = 0
    let more = true
    while (more) {
      if (p >= text.length) throw new Error('COCO RLE string ends inside a count')
      const c = text.charCodeAt(p) - 48
      if (c < 0 || c > 63) throw new Error(`COCO RLE string has an invalid character at ${p}`)
      x += (c & 0x1f) * 2 ** (5 * k)
      more = (c & 0x20) !== 0
      p++
      k++
      if (!more && c & 0x10) x -= 2 ** (5 * k)
    }
    if (counts.length > 2) x += counts[counts.length - 2]
    counts.push(x)
  }
  return counts
}

export const compressCocoRle = (rle: CocoRle): CompressedCocoRle => ({
  size: [rle.size[0], rle.size[1]],
  counts: compressCocoCounts(rle.counts),
})

export const decompressCocoRle = (rle: CompressedCocoRle): CocoRle => ({
  size: [rle.size[0], rle.size[1]],
  counts: decompressCocoCounts(rle.counts),
})

/** Foreground pixel count. */
export function cocoRleArea(rle: CocoRle): number {
  let area = 0
  for (let k = 1; k < rle.counts.length; k += 2) area += rle.counts[k]
  return area
}

/**
 * A stored mask annotation (row-major runs inside its box, see MaskGeometry) as COCO RLE of
 * the whole image; the parts of the box outside the image are dropped. Cost: image width plus
 * box area, not the image's pixel count.
 */
export function maskGeometryToCocoRle(
  geometry: MaskRle,
  imageWidth: number,
  imageHeight: number,
): CocoRle {
  const box = decodeMaskRle(geometry)
  const runs = new RunBuilder()
  const top = Math.min(imageHeight, Math.max(0, box.y))
  const bottom = Math.min(imageHeight, Math.max(0, box.y + box.height))
  for (let col = 0; col < imageWidth; col++) {
    const boxCol = col - box.x
    if (boxCol < 0 || boxCol >= box.width || bottom <= top) {
      runs.add(0, imageHeight)
      continue
    }
    runs.add(0, top)
    for (let row = top; row < bottom; row++)
      runs.add(box.data[(row - box.y) * box.width + boxCol], 1)
    runs.add(0, imageHeight - bottom)
  }
  return { size: [imageHeight, imageWidth], counts: runs.finish() }
}

/** COCO RLE (either form) as a stored mask geometry cropped to its foreground; null when empty. */
export function cocoRleToMaskGeometry(rle: CocoRle | CompressedCocoRle): MaskRle | null {
  const [height, width] = rle.size
  const data = decodeCocoRle(rle)
  const cropped = cropMask({ x: 0, y: 0, width, height, data })
  return cropped ? encodeMaskRle(cropped) : null
}
