// Intersection over union of masks and boxes: how much two shapes agree, for tests of
// conversions, for matching suggestions to annotations and for evaluation. Pure.
import type { BinaryMask } from './mask.ts'
import type { Box } from './rasterize.ts'

/** IoU of two row-major masks of the same size (non-zero = in); two empty masks agree fully: 1. */
export function maskIoU(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`Masks differ in size: ${a.length} and ${b.length}`)
  let intersection = 0
  let union = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0
    const y = b[i] !== 0
    if (x && y) intersection++
    if (x || y) union++
  }
  return union === 0 ? 1 : intersection / union
}

const countOf = (mask: BinaryMask) => {
  let n = 0
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i] !== 0) n++
  return n
}

/** IoU of two masks placed in the image by their own boxes (e.g. two mask annotations). */
export function placedMaskIoU(a: BinaryMask, b: BinaryMask): number {
  const x0 = Math.max(a.x, b.x)
  const y0 = Math.max(a.y, b.y)
  const x1 = Math.min(a.x + a.width, b.x + b.width)
  const y1 = Math.min(a.y + a.height, b.y + b.height)
  let intersection = 0
  for (let y = y0; y < y1; y++) {
    const rowA = (y - a.y) * a.width - a.x
    const rowB = (y - b.y) * b.width - b.x
    for (let x = x0; x < x1; x++)
      if (a.data[rowA + x] !== 0 && b.data[rowB + x] !== 0) intersection++
  }
  const union = countOf(a) + countOf(b) - intersection
  return union === 0 ? 1 : intersection / union
}

/** IoU of two boxes by area (continuous coordinates); two empty boxes agree fully: 1. */
export function boxIoU(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x))
  const h = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y))
  const intersection = w * h
  const union = a.width * a.height + b.width * b.height - intersection
  return union === 0 ? 1 : intersection / union
}
