// What an annotation may hold on its image, beyond the record's schema: every coordinate inside
// the image plus a margin, and a bounded number of rings, vertices, mask pixels and mask runs,
// so that any entry a document holds can be drawn, hit-tested and rasterised in bounded time and
// memory. Pure; the server enforces it on every update, the editor checks before it writes.
import type { AnnotationRecord, Geometry } from '../schemas/annotation.ts'

export interface ImageExtent {
  width: number
  height: number
}

export const ANNOTATION_LIMITS = {
  /** How far geometry may reach outside the image, as a fraction of its larger side… */
  marginFraction: 0.25,
  /** …and at least this many pixels. */
  minMarginPixels: 16,
  /** Rings of one polygon (outer ring and holes). */
  maxRings: 1_000,
  /** Vertices of one annotation: all rings of a polygon, all points of points or a polyline. */
  maxVertices: 50_000,
  /** Pixels of a mask's box (width × height). */
  maxMaskPixels: 8192 * 8192,
  /** Run lengths of one mask. */
  maxMaskRuns: 1_000_000,
  /** Attributes of one annotation, and the length of an attribute's name. */
  maxAttributes: 64,
  maxAttributeNameLength: 100,
} as const

export type AnnotationLimits = typeof ANNOTATION_LIMITS

/** The margin around the image inside which geometry may lie, in pixels. */
export function annotationMargin(image: ImageExtent, limits: AnnotationLimits = ANNOTATION_LIMITS) {
  return Math.max(
    limits.minMarginPixels,
    Math.ceil(limits.marginFraction * Math.max(image.width, image.height)),
  )
}

/** The area geometry may occupy: the image grown by the margin on every side. */
export function allowedArea(image: ImageExtent, limits: AnnotationLimits = ANNOTATION_LIMITS) {
  const margin = annotationMargin(image, limits)
  return {
    minX: -margin,
    minY: -margin,
    maxX: image.width + margin,
    maxY: image.height + margin,
  }
}

function pointsProblem(
  points: readonly number[],
  area: ReturnType<typeof allowedArea>,
): string | null {
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i]
    const y = points[i + 1]
    if (!(x >= area.minX && x <= area.maxX && y >= area.minY && y <= area.maxY)) {
      return `vertex (${x}, ${y}) lies outside the image and its margin (${area.minX} to ${area.maxX}, ${area.minY} to ${area.maxY})`
    }
  }
  return null
}

/**
 * Why a schema-valid geometry cannot be stored on this image, or null when it can. Checks sizes
 * before coordinates, so an absurd entry is refused without looking at all of it.
 */
export function geometryProblem(
  geometry: Geometry,
  image: ImageExtent,
  limits: AnnotationLimits = ANNOTATION_LIMITS,
): string | null {
  const area = allowedArea(image, limits)
  switch (geometry.kind) {
    case 'polygon': {
      const { rings } = geometry.geometry
      if (rings.length > limits.maxRings)
        return `${rings.length} rings, more than the limit of ${limits.maxRings}`
      let vertices = 0
      for (const ring of rings) vertices += ring.length / 2
      if (vertices > limits.maxVertices)
        return `${vertices} vertices, more than the limit of ${limits.maxVertices}`
      for (const ring of rings) {
        const problem = pointsProblem(ring, area)
        if (problem) return problem
      }
      return null
    }
    case 'points':
    case 'polyline': {
      const { points } = geometry.geometry
      if (points.length / 2 > limits.maxVertices)
        return `${points.length / 2} vertices, more than the limit of ${limits.maxVertices}`
      return pointsProblem(points, area)
    }
    case 'box':
    case 'mask': {
      const { x, y, width, height } = geometry.geometry
      if (geometry.kind === 'mask') {
        if (width * height > limits.maxMaskPixels)
          return `a mask of ${width}×${height} pixels, more than the limit of ${limits.maxMaskPixels}`
        if (geometry.geometry.counts.length > limits.maxMaskRuns)
          return `${geometry.geometry.counts.length} mask runs, more than the limit of ${limits.maxMaskRuns}`
      }
      return pointsProblem([x, y, x + width, y + height], area)
    }
  }
}

/** Why a schema-valid record cannot be stored on this image, or null when it can. */
export function annotationProblem(
  record: AnnotationRecord,
  image: ImageExtent,
  limits: AnnotationLimits = ANNOTATION_LIMITS,
): string | null {
  const names = Object.keys(record.attributes)
  if (names.length > limits.maxAttributes)
    return `${names.length} attributes, more than the limit of ${limits.maxAttributes}`
  const long = names.find((name) => name.length > limits.maxAttributeNameLength)
  if (long !== undefined)
    return `an attribute name of ${long.length} characters, more than ${limits.maxAttributeNameLength}`
  return geometryProblem(record as Geometry, image, limits)
}
