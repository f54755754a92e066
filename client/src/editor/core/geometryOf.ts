// Drawing and hit-testing facts of an annotation's geometry: bounds, outline points, and
// whether a point lies on or inside it. Pure.
import type { AnnotationRecord } from '../../../../shared/schemas/annotation.ts'
import type { Bounds } from './spatialIndex.ts'

export type Point = { x: number; y: number }

function flatBounds(points: number[], b: Bounds) {
  for (let i = 0; i < points.length; i += 2) {
    if (points[i] < b.minX) b.minX = points[i]
    if (points[i] > b.maxX) b.maxX = points[i]
    if (points[i + 1] < b.minY) b.minY = points[i + 1]
    if (points[i + 1] > b.maxY) b.maxY = points[i + 1]
  }
}

export function boundsOf(annotation: AnnotationRecord): Bounds {
  const b = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity }
  switch (annotation.kind) {
    case 'polygon':
      for (const ring of annotation.geometry.rings) flatBounds(ring, b)
      break
    case 'points':
    case 'polyline':
      flatBounds(annotation.geometry.points, b)
      break
    case 'box':
    case 'mask': {
      const g = annotation.geometry
      return { minX: g.x, minY: g.y, maxX: g.x + g.width, maxY: g.y + g.height }
    }
  }
  return b
}

function insideRing(ring: number[], x: number, y: number): boolean {
  let inside = false
  for (let i = 0, j = ring.length - 2; i < ring.length; j = i, i += 2) {
    const xi = ring[i]
    const yi = ring[i + 1]
    const xj = ring[j]
    const yj = ring[j + 1]
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside
  }
  return inside
}

function distanceToSegment(p: Point, ax: number, ay: number, bx: number, by: number) {
  const dx = bx - ax
  const dy = by - ay
  const t =
    dx || dy
      ? Math.max(0, Math.min(1, ((p.x - ax) * dx + (p.y - ay) * dy) / (dx * dx + dy * dy)))
      : 0
  return Math.hypot(p.x - (ax + t * dx), p.y - (ay + t * dy))
}

/** Whether the point hits the annotation, with a tolerance in image pixels for thin shapes. */
export function hitTest(annotation: AnnotationRecord, p: Point, tolerance: number): boolean {
  switch (annotation.kind) {
    case 'polygon': {
      const [outer, ...holes] = annotation.geometry.rings
      return insideRing(outer, p.x, p.y) && !holes.some((h) => insideRing(h, p.x, p.y))
    }
    case 'box':
    case 'mask': {
      const g = annotation.geometry
      return p.x >= g.x && p.x <= g.x + g.width && p.y >= g.y && p.y <= g.y + g.height
    }
    case 'points': {
      const pts = annotation.geometry.points
      for (let i = 0; i < pts.length; i += 2)
        if (Math.hypot(pts[i] - p.x, pts[i + 1] - p.y) <= tolerance * 2) return true
      return false
    }
    case 'polyline': {
      const pts = annotation.geometry.points
      for (let i = 2; i < pts.length; i += 2) {
        if (distanceToSegment(p, pts[i - 2], pts[i - 1], pts[i], pts[i + 1]) <= tolerance)
          return true
      }
      return false
    }
  }
}

/** The geometry moved by (dx, dy). */
export function translateGeometry(
  annotation: AnnotationRecord,
  dx: number,
  dy: number,
): AnnotationRecord['geometry'] {
  const shift = (points: number[]) => points.map((v, i) => v + (i % 2 === 0 ? dx : dy))
  switch (annotation.kind) {
    case 'polygon':
      return { rings: annotation.geometry.rings.map(shift) }
    case 'points':
    case 'polyline':
      return { points: shift(annotation.geometry.points) }
    case 'box':
      return {
        ...annotation.geometry,
        x: annotation.geometry.x + dx,
        y: annotation.geometry.y + dy,
      }
    case 'mask':
      return {
        ...annotation.geometry,
        x: annotation.geometry.x + Math.round(dx),
        y: annotation.geometry.y + Math.round(dy),
      }
  }
}
