// fast-check generators of dataset images and their annotation records for the formats' round
// trips: star-shaped polygons with holes, pixel outlines, touching objects, masks with loose
// boxes, objects on and across the image border, boxes, points and polylines. Tests only.
import fc from 'fast-check'
import { blobMask, noiseMask, type SizedMask } from '../geometry/arbitraryMasks.ts'
import { cropMask, encodeMaskRle } from '../geometry/mask.ts'
import { maskToPolygons } from '../geometry/maskToPolygons.ts'
import type { AnnotationRecord, Geometry } from '../schemas/annotation.ts'
import { ClassTable, type DatasetClass, type DatasetImage } from './dataset.ts'

/** Project classes with names that need quoting in YAML and escaping in XML and JSON. */
export const testClasses: DatasetClass[] = [
  { id: 3, name: 'nucleus', color: '#ff0000' },
  { id: 7, name: 'cell "A" & <b>', color: '#00ff00' },
  { id: 9, name: 'yes', color: '#0000ff' },
  { id: 11, name: '0: #not a comment', color: '#ffff00' },
]

export const testTable = () => new ClassTable(testClasses)

/** Project class ids, null and one the table does not know (both go to UNCLASSIFIED). */
const classIds = fc.constantFrom<(number | null)[]>(3, 7, 9, 11, null, 42)

export type GeometryKind = Geometry['kind']

export interface ImageSample {
  image: DatasetImage
  annotations: AnnotationRecord[]
}

/** JSON has no −0 (it writes 0), so generated coordinates avoid it. */
const noNegativeZero = (v: number) => v + 0

/**
 * A ring star-shaped around (cx, cy): n vertices at jittered, increasing angles with radii in
 * [rMin, rMax]. Angles move by at most 0.4 of a step, so every edge stays farther than
 * 0.59 · rMin from the centre and anything within that distance lies inside (holes go there).
 */
const starRing = (cx: number, cy: number, rMin: number, rMax: number) =>
  fc.integer({ min: 6, max: 12 }).chain((n) =>
    fc
      .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2 * n, maxLength: 2 * n })
      .map((u) => {
        const ring: number[] = []
        for (let i = 0; i < n; i++) {
          const angle = ((i + 0.8 * (u[2 * i] - 0.5)) * 2 * Math.PI) / n
          const r = rMin + (rMax - rMin) * u[2 * i + 1]
          ring.push(
            noNegativeZero(cx + r * Math.cos(angle)),
            noNegativeZero(cy + r * Math.sin(angle)),
          )
        }
        return ring
      }),
  )

/** Fractional star polygons with 0–2 holes, anywhere from a fifth of the image outside to inside. */
const starPolygon = (width: number, height: number) =>
  fc
    .record({
      cx: fc.double({ min: -0.2 * width, max: 1.2 * width, noNaN: true }),
      cy: fc.double({ min: -0.2 * height, max: 1.2 * height, noNaN: true }),
      rMin: fc.double({ min: 2, max: Math.max(3, Math.min(width, height) / 3), noNaN: true }),
      stretch: fc.double({ min: 1, max: 1.5, noNaN: true }),
      holes: fc.integer({ min: 0, max: 2 }),
      onBorder: fc.boolean(),
    })
    .chain(({ cx, cy, rMin, stretch, holes, onBorder }) => {
      const outer = starRing(cx, cy, rMin, rMin * stretch)
      // One hole at the centre, or two side by side, each well inside 0.59 · rMin.
      const holeRings =
        holes === 0
          ? fc.constant([] as number[][])
          : holes === 1
            ? starRing(cx, cy, 0.25 * rMin, 0.5 * rMin).map((r) => [r])
            : fc.tuple(
                starRing(cx - 0.3 * rMin, cy, 0.1 * rMin, 0.2 * rMin),
                starRing(cx + 0.3 * rMin, cy, 0.1 * rMin, 0.2 * rMin),
              )
      return fc.tuple(outer, holeRings).map(([ring, inner]): Geometry => {
        const rings = [ring, ...inner]
        // On the border: pull every vertex into the image, so some lie exactly on its edges.
        const clamp = (v: number, max: number) => Math.min(max, Math.max(0, v))
        const placed = onBorder
          ? rings.map((r) => r.map((v, i) => clamp(v, i % 2 ? height : width)))
          : rings
        return { kind: 'polygon', geometry: { rings: placed } }
      })
    })

/** A mask of noise or blobs at a whole-pixel position, possibly across the image border. */
const placedMask = (width: number, height: number) =>
  fc
    .record({
      mask: fc.oneof(
        noiseMask(10),
        blobMask({ side: 14, minRadius: 2, maxRadius: 6, maxBlobs: 3, maxHoles: 2, holeRadius: 2 }),
      ),
      x: fc.integer({ min: -4, max: width - 2 }),
      y: fc.integer({ min: -4, max: height - 2 }),
      crop: fc.boolean(),
    })
    .map(({ mask, x, y, crop }): Geometry => {
      const placed = { x, y, width: mask.width, height: mask.height, data: mask.data }
      // Stored masks are usually cropped; loose boxes (background margins) must work too.
      const stored = (crop ? cropMask(placed) : null) ?? placed
      return { kind: 'mask', geometry: encodeMaskRle(stored) }
    })

/** Pixel outlines (whole-pixel vertices, holes) of a blob, each component one polygon. */
const tracedPolygons = (width: number, height: number) =>
  fc
    .record({
      mask: blobMask({
        side: 16,
        minRadius: 2,
        maxRadius: 7,
        maxBlobs: 3,
        maxHoles: 3,
        holeRadius: 3,
      }),
      x: fc.integer({ min: -3, max: width - 3 }),
      y: fc.integer({ min: -3, max: height - 3 }),
    })
    .map(({ mask, x, y }): Geometry[] =>
      maskToPolygons(mask.data, mask.width, mask.height, { originX: x, originY: y }).map(
        ({ rings }) => ({ kind: 'polygon', geometry: { rings } }),
      ),
    )

const splitMask = (mask: SizedMask, column: number, side: 'left' | 'right'): SizedMask => {
  const data = mask.data.slice()
  for (let row = 0; row < mask.height; row++) {
    for (let col = 0; col < mask.width; col++) {
      if (col < column !== (side === 'left')) data[row * mask.width + col] = 0
    }
  }
  return { ...mask, data }
}

/** Two objects that share an edge: boxes, pixel-outline polygons or masks cut at one column. */
const touchingObjects = (
  width: number,
  height: number,
  kinds: readonly ('box' | 'polygon' | 'mask')[],
) =>
  fc
    .record({
      kind: fc.constantFrom(...kinds),
      x: fc.integer({ min: 0, max: width - 2 }),
      y: fc.integer({ min: 0, max: height - 2 }),
      w: fc.integer({ min: 2, max: 12 }),
      h: fc.integer({ min: 1, max: 12 }),
      cut: fc.double({ min: 0.1, max: 0.9, noNaN: true }),
      mask: blobMask({
        side: 12,
        minRadius: 3,
        maxRadius: 6,
        maxBlobs: 2,
        maxHoles: 1,
        holeRadius: 2,
      }),
    })
    .map(({ kind, x, y, w, h, cut, mask }): Geometry[] => {
      const column = Math.max(1, Math.min(w - 1, Math.round(w * cut)))
      if (kind === 'box')
        return [
          { kind: 'box', geometry: { x, y, width: column, height: h } },
          { kind: 'box', geometry: { x: x + column, y, width: w - column, height: h } },
        ]
      const at = Math.max(1, Math.min(mask.width - 1, Math.round(mask.width * cut)))
      const parts = [splitMask(mask, at, 'left'), splitMask(mask, at, 'right')]
      if (kind === 'mask')
        return parts.map((part) => ({
          kind: 'mask',
          geometry: encodeMaskRle({
            x,
            y,
            width: part.width,
            height: part.height,
            data: part.data,
          }),
        }))
      return parts.flatMap((part) =>
        maskToPolygons(part.data, part.width, part.height, { originX: x, originY: y }).map(
          ({ rings }): Geometry => ({ kind: 'polygon', geometry: { rings } }),
        ),
      )
    })

/** Boxes with whole-pixel or fractional edges, some on the border, some partly outside. */
const box = (width: number, height: number) =>
  fc
    .record({
      x: fc.double({ min: -0.2 * width, max: width, noNaN: true }),
      y: fc.double({ min: -0.2 * height, max: height, noNaN: true }),
      w: fc.double({ min: 0, max: width / 2, noNaN: true }),
      h: fc.double({ min: 0, max: height / 2, noNaN: true }),
      whole: fc.boolean(),
      edge: fc.constantFrom('none', 'left', 'top', 'right', 'bottom'),
    })
    .map(({ x, y, w, h, whole, edge }): Geometry => {
      const snap = (v: number) => noNegativeZero(whole ? Math.round(v) : v)
      let bx = snap(x)
      let by = snap(y)
      const bw = snap(w)
      const bh = snap(h)
      if (edge === 'left') bx = 0
      if (edge === 'top') by = 0
      if (edge === 'right') bx = width - bw
      if (edge === 'bottom') by = height - bh
      return { kind: 'box', geometry: { x: bx, y: by, width: bw, height: bh } }
    })

const inImage = (width: number, height: number, min: number, max: number) =>
  fc
    .array(
      fc.tuple(
        fc.double({ min: 0, max: width, noNaN: true }),
        fc.double({ min: 0, max: height, noNaN: true }),
      ),
      { minLength: min, maxLength: max },
    )
    .map((pairs) => pairs.flat().map(noNegativeZero))

const pointsOrPolyline = (width: number, height: number, kind: 'points' | 'polyline') =>
  inImage(width, height, kind === 'points' ? 1 : 2, 5).map(
    (points): Geometry => ({ kind, geometry: { points } }),
  )

/** Geometries of the given kinds on a width × height image (one draw may give several). */
export const geometries = (width: number, height: number, kinds: readonly GeometryKind[]) => {
  const options: fc.Arbitrary<Geometry[]>[] = []
  if (kinds.includes('polygon'))
    options.push(
      starPolygon(width, height).map((g) => [g]),
      tracedPolygons(width, height),
    )
  if (kinds.includes('mask')) options.push(placedMask(width, height).map((g) => [g]))
  if (kinds.includes('box')) options.push(box(width, height).map((g) => [g]))
  if (kinds.includes('points'))
    options.push(pointsOrPolyline(width, height, 'points').map((g) => [g]))
  if (kinds.includes('polyline'))
    options.push(pointsOrPolyline(width, height, 'polyline').map((g) => [g]))
  const areaKinds = (['box', 'polygon', 'mask'] as const).filter((k) => kinds.includes(k))
  if (areaKinds.length > 0) options.push(touchingObjects(width, height, areaKinds))
  return fc.oneof(...options)
}

const recordFields = fc.record({
  classId: classIds,
  origin: fc.oneof(
    fc.constant({ type: 'human' as const }),
    fc.record({
      type: fc.constant('model' as const),
      modelVersion: fc.constantFrom('v1', 'v2'),
      score: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  ),
  review: fc.constantFrom('pending' as const, 'accepted' as const, 'rejected' as const),
})

const ALL_KINDS: readonly GeometryKind[] = ['polygon', 'box', 'mask', 'points', 'polyline']

/**
 * One image (8–40 pixels a side) with up to `maxObjects` draws of annotations of `kinds`;
 * ids are unique within the image.
 */
export const imageSample = (
  options: { kinds?: readonly GeometryKind[]; maxObjects?: number; id?: number } = {},
): fc.Arbitrary<ImageSample> => {
  const kinds = options.kinds ?? ALL_KINDS
  return fc
    .record({ width: fc.integer({ min: 8, max: 40 }), height: fc.integer({ min: 8, max: 40 }) })
    .chain(({ width, height }) =>
      fc
        .array(fc.tuple(geometries(width, height, kinds), recordFields), {
          maxLength: options.maxObjects ?? 6,
        })
        .map((draws): ImageSample => {
          const id = options.id ?? 1
          const image: DatasetImage = {
            id,
            fileName: `image-${id}.png`,
            stem: `image-${id}`,
            width,
            height,
          }
          const annotations: AnnotationRecord[] = []
          for (const [shapes, fields] of draws) {
            for (const shape of shapes) {
              annotations.push({
                ...shape,
                ...fields,
                id: `a${annotations.length}`,
                author: fields.origin.type === 'human' ? 1 : null,
                updatedBy: null,
                createdAt: 0,
                updatedAt: 0,
                attributes: {},
              } as AnnotationRecord)
            }
          }
          return { image, annotations }
        }),
    )
}

/** A record around a geometry, for hand-written cases. */
export function record(
  geometry: Geometry,
  fields: Partial<Omit<AnnotationRecord, 'kind' | 'geometry'>> = {},
): AnnotationRecord {
  return {
    id: 'a',
    classId: 3,
    author: 1,
    updatedBy: null,
    createdAt: 0,
    updatedAt: 0,
    origin: { type: 'human' },
    review: 'accepted',
    attributes: {},
    ...fields,
    ...geometry,
  } as AnnotationRecord
}
