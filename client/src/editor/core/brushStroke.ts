// The brush's stroke as a mask inside a rectangle (the image when painting, the allowed area
// when erasing). The parts of the stroke beyond the rectangle are cut off before rasterising,
// so a stroke that wanders far outside the image never allocates for the pixels it crosses
// there; a stroke too large for one mask is refused with a reason. Pure.
import {
  type BinaryMask,
  combineMasks,
  cropMask,
  rasterizeStroke,
} from '../../../../shared/geometry/mask.ts'
import type { Bounds } from './spatialIndex.ts'

type Segment = { x0: number; y0: number; x1: number; y1: number; t0: number; t1: number }

/** The part of segment a→b inside the rectangle (Liang–Barsky), or null. */
function clipSegment(ax: number, ay: number, bx: number, by: number, r: Bounds): Segment | null {
  const dx = bx - ax
  const dy = by - ay
  const p = [-dx, dx, -dy, dy]
  const q = [ax - r.minX, r.maxX - ax, ay - r.minY, r.maxY - ay]
  let t0 = 0
  let t1 = 1
  for (let i = 0; i < 4; i++) {
    if (p[i] === 0) {
      if (q[i] < 0) return null
      continue
    }
    const t = q[i] / p[i]
    if (p[i] < 0) {
      if (t > t1) return null
      if (t > t0) t0 = t
    } else {
      if (t < t0) return null
      if (t < t1) t1 = t
    }
  }
  return { x0: ax + t0 * dx, y0: ay + t0 * dy, x1: ax + t1 * dx, y1: ay + t1 * dy, t0, t1 }
}

/** The polyline's pieces inside the rectangle, each a flat [x0, y0, x1, y1, …]. */
export function clipPolyline(points: readonly number[], r: Bounds): number[][] {
  if (points.length === 2) {
    const [x, y] = points
    return x >= r.minX && x <= r.maxX && y >= r.minY && y <= r.maxY ? [[x, y]] : []
  }
  const pieces: number[][] = []
  let open = false
  for (let i = 2; i + 1 < points.length; i += 2) {
    const s = clipSegment(points[i - 2], points[i - 1], points[i], points[i + 1], r)
    if (!s) {
      open = false
      continue
    }
    if (open && s.t0 === 0) pieces[pieces.length - 1].push(s.x1, s.y1)
    else pieces.push([s.x0, s.y0, s.x1, s.y1])
    open = s.t1 === 1
  }
  return pieces
}

/** The part of the mask inside the rectangle's pixels; null when none of it is. */
function cropToRectangle(mask: BinaryMask, r: Bounds): BinaryMask | null {
  const x0 = Math.max(mask.x, Math.ceil(r.minX))
  const y0 = Math.max(mask.y, Math.ceil(r.minY))
  const x1 = Math.min(mask.x + mask.width, Math.floor(r.maxX))
  const y1 = Math.min(mask.y + mask.height, Math.floor(r.maxY))
  if (x1 <= x0 || y1 <= y0) return null
  const width = x1 - x0
  const data = new Uint8Array(width * (y1 - y0))
  for (let row = y0; row < y1; row++) {
    const from = (row - mask.y) * mask.width + (x0 - mask.x)
    data.set(mask.data.subarray(from, from + width), (row - y0) * width)
  }
  return { x: x0, y: y0, width, height: y1 - y0, data }
}

/** Throws when the box around both masks holds more than `maxPixels` (before allocating it). */
export function checkCombinedSize(a: BinaryMask, b: BinaryMask, maxPixels: number) {
  const width = Math.max(a.x + a.width, b.x + b.width) - Math.min(a.x, b.x)
  const height = Math.max(a.y + a.height, b.y + b.height) - Math.min(a.y, b.y)
  if (width * height > maxPixels)
    throw new Error(`a mask of ${width}×${height} pixels, more than the limit of ${maxPixels}`)
}

/**
 * The pixels of the rectangle whose centres lie within `radius` of the stroke, cropped to what
 * it covers; null when it covers none. Throws when a piece of the stroke would need a mask of
 * more than `maxPixels`.
 */
export function strokeInside(
  points: readonly number[],
  radius: number,
  rectangle: Bounds,
  maxPixels: number,
): BinaryMask | null {
  // Any point of the stroke that reaches a pixel centre inside lies within radius of it.
  const reach = radius + 1
  const grown = {
    minX: rectangle.minX - reach,
    minY: rectangle.minY - reach,
    maxX: rectangle.maxX + reach,
    maxY: rectangle.maxY + reach,
  }
  let result: BinaryMask | null = null
  for (const piece of clipPolyline(points, grown)) {
    const xs = piece.filter((_, i) => i % 2 === 0)
    const ys = piece.filter((_, i) => i % 2 === 1)
    const pixels =
      (Math.max(...xs) - Math.min(...xs) + 2 * reach) *
      (Math.max(...ys) - Math.min(...ys) + 2 * reach)
    if (pixels > maxPixels)
      throw new Error(
        `a brush stroke over ${Math.round(pixels)} pixels, more than the limit of ${maxPixels}`,
      )
    const inside = cropToRectangle(rasterizeStroke(piece, radius), rectangle)
    if (!inside) continue
    if (result) checkCombinedSize(result, inside, maxPixels)
    result = result ? combineMasks(result, inside, 'union') : cropMask(inside)
  }
  return result
}
