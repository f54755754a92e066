// The annotation record and the image's review state as stored in an image's Y.Doc, checked by
// zod whenever they are read back (remote data is never trusted). Coordinates are continuous
// image pixels, origin at the top-left corner of the top-left pixel (ARCHITECTURE decision 3).
import { z } from 'zod'
import { ImageStatus } from './images.ts'

const Coordinate = z.number().finite()
/** A flat list of x, y pairs: [x0, y0, x1, y1, …]. */
const FlatPoints = z
  .array(Coordinate)
  .refine((a) => a.length % 2 === 0, 'Points come in x, y pairs')

/** Polygon: outer ring first, holes after; each ring a flat [x0, y0, x1, y1, …], not closed. */
export const PolygonGeometry = z.object({
  rings: z
    .array(FlatPoints.refine((r) => r.length >= 6, 'A ring needs at least 3 vertices'))
    .min(1),
})
export const BoxGeometry = z.object({
  x: Coordinate,
  y: Coordinate,
  width: z.number().finite().nonnegative(),
  height: z.number().finite().nonnegative(),
})
export const PointsGeometry = z.object({
  points: FlatPoints.refine((p) => p.length >= 2, 'At least one point'),
})
export const PolylineGeometry = z.object({
  points: FlatPoints.refine((p) => p.length >= 4, 'A polyline needs at least 2 vertices'),
})
/**
 * Raster mask inside its bounding box (x, y, width, height in whole pixels): run lengths over
 * the box's pixels in row-major order, alternating background and foreground, starting with
 * background (a leading 0 when the first pixel is foreground). Conversion to COCO RLE lives
 * in shared/geometry.
 */
export const MaskGeometry = z
  .object({
    x: z.number().int(),
    y: z.number().int(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    counts: z.array(z.number().int().nonnegative()),
  })
  .refine(
    (m) => m.counts.reduce((a, b) => a + b, 0) === m.width * m.height,
    'Mask run lengths must cover its box',
  )

export const AnnotationKind = z.enum(['polygon', 'box', 'points', 'polyline', 'mask'])
export type AnnotationKind = z.infer<typeof AnnotationKind>

export const Geometry = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('polygon'), geometry: PolygonGeometry }),
  z.object({ kind: z.literal('box'), geometry: BoxGeometry }),
  z.object({ kind: z.literal('points'), geometry: PointsGeometry }),
  z.object({ kind: z.literal('polyline'), geometry: PolylineGeometry }),
  z.object({ kind: z.literal('mask'), geometry: MaskGeometry }),
])
export type Geometry = z.infer<typeof Geometry>

export const AnnotationOrigin = z.discriminatedUnion('type', [
  z.object({ type: z.literal('human') }),
  z.object({
    type: z.literal('model'),
    modelVersion: z.string(),
    score: z.number().min(0).max(1),
    /** Clicks a person gave the click tool for this mask (absent for automatic suggestions). */
    clicks: z.number().int().positive().max(10_000).optional(),
  }),
])
export type AnnotationOrigin = z.infer<typeof AnnotationOrigin>

/** A reviewer's decision on an annotation; model suggestions are 'pending' until decided. */
export const ReviewDecision = z.enum(['pending', 'accepted', 'rejected'])
export type ReviewDecision = z.infer<typeof ReviewDecision>

export const AttributeValue = z.union([z.string().max(1000), z.number().finite(), z.boolean()])

export const AnnotationFields = z.object({
  classId: z.number().int().nullable(),
  /** User id of the creator; null for a model suggestion. */
  author: z.number().int().nullable(),
  updatedBy: z.number().int().nullable(),
  createdAt: z.number().finite(),
  updatedAt: z.number().finite(),
  origin: AnnotationOrigin,
  review: ReviewDecision,
  attributes: z.record(z.string(), AttributeValue),
})

export const AnnotationRecord = z.intersection(
  AnnotationFields.extend({ id: z.string().min(1).max(64) }),
  Geometry,
)
export type AnnotationRecord = z.infer<typeof AnnotationRecord>

export const ReviewState = z.object({
  status: ImageStatus,
  updatedBy: z.number().int().nullable(),
  updatedAt: z.number().finite(),
  /** The reviewer's note; absent until one is written. */
  note: z.string().max(2000).default(''),
})
export type ReviewState = z.infer<typeof ReviewState>
