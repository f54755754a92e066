// Drawing and hit-testing facts of an annotation's geometry: bounds, outline points, and
// whether a point lies on or inside it. Pure.
import type { AnnotationRecord, Geometry } from '../../../../shared/schemas/annotation.ts'
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

export function boundsOf(annotation: Geometry): Bounds {
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
  annotation: Geometry,
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

/** Vertex lists of a polygon (its rings) or polyline (one list); none for other kinds. */
export function vertexLists(annotation: AnnotationRecord): number[][] {
  if (annotation.kind === 'polygon') return annotation.geometry.rings
  if (annotation.kind === 'polyline') return [annotation.geometry.points]
  return []
}

function withLists(annotation: AnnotationRecord, lists: number[][]): AnnotationRecord['geometry'] {
  return annotation.kind === 'polygon' ? { rings: lists } : { points: lists[0] }
}

export interface VertexRef {
  list: number
  index: number
}

/** The vertex within `tolerance` of the point, if any. */
export function vertexAt(
  annotation: AnnotationRecord,
  p: Point,
  tolerance: number,
): VertexRef | null {
  const lists = vertexLists(annotation)
  for (let list = 0; list < lists.length; list++) {
    const points = lists[list]
    for (let i = 0; i < points.length; i += 2) {
      if (Math.hypot(points[i] - p.x, points[i + 1] - p.y) <= tolerance)
        return { list, index: i / 2 }
    }
  }
  return null
}

/** The edge within `tolerance` of the point, as the index a new vertex there would take. */
export function edgeAt(
  annotation: AnnotationRecord,
  p: Point,
  tolerance: number,
): VertexRef | null {
  const lists = vertexLists(annotation)
  const closed = annotation.kind === 'polygon'
  for (let list = 0; list < lists.length; list++) {
    const points = lists[list]
    const n = points.length / 2
    for (let i = 0; i < (closed ? n : n - 1); i++) {
      const j = (i + 1) % n
      if (
        distanceToSegment(p, points[2 * i], points[2 * i + 1], points[2 * j], points[2 * j + 1]) <=
        tolerance
      ) {
        return { list, index: i + 1 }
      }
    }
  }
  return null
}

export function moveVertex(
  annotation: AnnotationRecord,
  ref: VertexRef,
  p: Point,
): AnnotationRecord['geometry'] {
  const lists = vertexLists(annotation).map((points) => [...points])
  lists[ref.list][2 * ref.index] = p.x
  lists[ref.list][2 * ref.index + 1] = p.y
  return withLists(annotation, lists)
}

export function insertVertex(
  annotation: AnnotationRecord,
  ref: VertexRef,
  p: Point,
): AnnotationRecord['geometry'] {
  const lists = vertexLists(annotation).map((points) => [...points])
  lists[ref.list].splice(2 * ref.index, 0, p.x, p.y)
  return withLists(annotation, lists)
}

/** The geometry without the vertex, or null when that would leave too few vertices. */
export function removeVertex(
  annotation: AnnotationRecord,
  ref: VertexRef,
): AnnotationRecord['geometry'] | null {
  const lists = vertexLists(annotation).map((points) => [...points])
  const minimum = annotation.kind === 'polygon' ? 6 : 4
  if (lists[ref.list].length - 2 < minimum) return null
  lists[ref.list].splice(2 * ref.index, 2)
  return withLists(annotation, lists)
}
