// Where the editor's own writes may go: offsets and points clamped so that geometry stays inside
// the image's allowed area (shared/doc/validation.ts), for moves, duplicates, pastes and drawn
// vertices. Pure.
import type { Point } from './geometryOf.ts'
import type { Bounds } from './spatialIndex.ts'

/** A hair inside the area, so coordinates moved by a clamped offset never round outside it. */
const EPSILON = 1e-6

/** The bounds of all the given bounds; null for none. */
export function unionBounds(list: readonly Bounds[]): Bounds | null {
  if (list.length === 0) return null
  return {
    minX: Math.min(...list.map((b) => b.minX)),
    minY: Math.min(...list.map((b) => b.minY)),
    maxX: Math.max(...list.map((b) => b.maxX)),
    maxY: Math.max(...list.map((b) => b.maxY)),
  }
}

function clampAxis(
  offset: number,
  min: number,
  max: number,
  areaMin: number,
  areaMax: number,
): number | null {
  const lo = areaMin - min
  const hi = areaMax - max
  if (!(lo <= hi)) return null
  // Compared as the moved coordinates will be computed (min + offset rounds the same way for
  // every coordinate above min). At a bound, stop a hair inside it; where the shape already is
  // inside, never push it back past where it started.
  if (min + offset < areaMin)
    return Math.min(lo + EPSILON, hi, lo <= 0 ? 0 : Number.POSITIVE_INFINITY)
  if (max + offset > areaMax)
    return Math.max(hi - EPSILON, lo, hi >= 0 ? 0 : Number.NEGATIVE_INFINITY)
  return offset
}

/**
 * The offset nearest to `offset` that keeps `bounds` inside `area` once moved; null when the
 * bounds are larger than the area (or not finite).
 */
export function clampOffset(bounds: Bounds, area: Bounds, offset: Point): Point | null {
  const x = clampAxis(offset.x, bounds.minX, bounds.maxX, area.minX, area.maxX)
  const y = clampAxis(offset.y, bounds.minY, bounds.maxY, area.minY, area.maxY)
  return x === null || y === null ? null : { x, y }
}

/** The point moved into the area. */
export function clampPoint(point: Point, area: Bounds): Point {
  return {
    x: Math.min(area.maxX, Math.max(area.minX, point.x)),
    y: Math.min(area.maxY, Math.max(area.minY, point.y)),
  }
}
