// Axis-aligned bounds of geometries and masks in continuous image pixels (ARCHITECTURE
// decision 3), and the range of whole pixels whose centres such bounds can contain. Pure.
import type { Geometry } from '../schemas/annotation.ts'

export interface Bounds {
  minX: number
  minY: number
  maxX: number
  maxY: number
}

/** Bounds that contain nothing; growing them with any point gives that point. */
export const emptyBounds = (): Bounds => ({
  minX: Infinity,
  minY: Infinity,
  maxX: -Infinity,
  maxY: -Infinity,
})

export const isEmptyBounds = (b: Bounds) => !(b.minX <= b.maxX && b.minY <= b.maxY)

/** Grows `into` by a flat list of points [x0, y0, x1, y1, …] and returns it. */
export function extendBounds(into: Bounds, points: readonly number[]): Bounds {
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i]
    const y = points[i + 1]
    if (x < into.minX) into.minX = x
    if (x > into.maxX) into.maxX = x
    if (y < into.minY) into.minY = y
    if (y > into.maxY) into.maxY = y
  }
  return into
}

export const pointsBounds = (points: readonly number[]) => extendBounds(emptyBounds(), points)

export function ringsBounds(rings: readonly (readonly number[])[]): Bounds {
  const b = emptyBounds()
  for (const ring of rings) extendBounds(b, ring)
  return b
}

/** Bounds of any annotation geometry; a mask's are its box (run lengths are not scanned). */
export function geometryBounds(geometry: Geometry): Bounds {
  switch (geometry.kind) {
    case 'polygon':
      return ringsBounds(geometry.geometry.rings)
    case 'points':
    case 'polyline':
      return pointsBounds(geometry.geometry.points)
    case 'box':
    case 'mask': {
      const { x, y, width, height } = geometry.geometry
      return { minX: x, minY: y, maxX: x + width, maxY: y + height }
    }
  }
}

export function unionBounds(a: Bounds, b: Bounds): Bounds {
  return {
    minX: Math.min(a.minX, b.minX),
    minY: Math.min(a.minY, b.minY),
    maxX: Math.max(a.maxX, b.maxX),
    maxY: Math.max(a.maxY, b.maxY),
  }
}

export const boundsIntersect = (a: Bounds, b: Bounds) =>
  a.minX <= b.maxX && b.minX <= a.maxX && a.minY <= b.maxY && b.minY <= a.maxY

/** A pixel window: the top-left pixel (x, y) and a size in whole pixels. */
export interface PixelWindow {
  x: number
  y: number
  width: number
  height: number
}

/**
 * The image column (or row) of the first pixel whose centre c + ½ is at or after v. Computed in
 * image coordinates, before the window's origin is subtracted: v − ½ is exact wherever it could
 * round to a whole number (|v| ≥ ¼), whereas v − origin − ½ may round for a v just off a half
 * pixel, so a window and the whole image could disagree about a pixel.
 */
export function firstCentreAtOrAfter(v: number): number {
  return Math.ceil(v - 0.5)
}

/**
 * The smallest window of pixels holding every pixel whose centre lies in [minX, maxX) ×
 * [minY, maxY), the rule by which shapes are rasterised; width or height 0 when none does.
 */
export function pixelWindowOf(b: Bounds): PixelWindow {
  if (isEmptyBounds(b)) return { x: 0, y: 0, width: 0, height: 0 }
  // Centre c + 0.5 lies in [min, max) for c from firstCentreAtOrAfter(min) to that of max − 1.
  const x = firstCentreAtOrAfter(b.minX)
  const y = firstCentreAtOrAfter(b.minY)
  return {
    x,
    y,
    width: Math.max(0, firstCentreAtOrAfter(b.maxX) - x),
    height: Math.max(0, firstCentreAtOrAfter(b.maxY) - y),
  }
}

/** The tight window around the non-zero pixels of a row-major mask; null when it is empty. */
export function maskBounds(mask: Uint8Array, width: number, height: number): PixelWindow | null {
  let minRow = -1
  let maxRow = -1
  let minCol = width
  let maxCol = -1
  for (let row = 0; row < height; row++) {
    const start = row * width
    let first = -1
    let last = -1
    for (let col = 0; col < width; col++) {
      if (mask[start + col] !== 0) {
        if (first < 0) first = col
        last = col
      }
    }
    if (first < 0) continue
    if (minRow < 0) minRow = row
    maxRow = row
    if (first < minCol) minCol = first
    if (last > maxCol) maxCol = last
  }
  if (minRow < 0) return null
  return { x: minCol, y: minRow, width: maxCol - minCol + 1, height: maxRow - minRow + 1 }
}
