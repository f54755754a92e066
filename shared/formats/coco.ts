// COCO instances JSON as pycocotools, Detectron2 and the field's tools read it: writers that work
// one image at a time (the export streams them into a ZIP) and a reader that checks everything
// and reports each problem by where it is. Pure; never throws for bad content, never reads files.
//
// Categories: id = 1-based position in the ClassTable (the project's classes, then
// 'unclassified'), supercategory 'object'. Project class ids are not used as COCO ids, so that
// ids are dense from 1 and objects without a class have a category too.
//
// Writing, per annotation kind (reasons as counted in the ConversionReport):
// - polygon without holes: polygon segmentation [[x0, y0, …]] with the stored coordinates (not
//   clipped; COCO tools clip when they rasterise), area = polygon area, bbox = vertex bounds.
// - polygon with holes: compressed RLE of its pixels in the image, area = pixel count
//   (converted 'polygon with holes → RLE mask'; COCO's polygon lists cannot express holes).
// - mask: compressed RLE, area = pixel count, bbox = bounds of its pixels; pixels outside the
//   image are dropped (converted 'mask clipped to the image').
// - box: bbox [x, y, width, height] with segmentation [] and area = width × height; COCO's
//   native form, so not a conversion. pycocotools loads it and evaluates it as a box, but its
//   segmentation evaluation cannot rasterise an empty segmentation.
// - points, polylines: no area (skipped 'points: no area (skipped)', 'polyline: no area
//   (skipped)'); a holed polygon or mask with no pixel inside the image is skipped too.
// Every annotation carries a `tessera` key ({ annotationId, origin, modelVersion?, review,
// score? }); COCO readers ignore extra keys, and readCoco takes the score back from it.
//
// Reading: one polygon → polygon; several polygons (one object in parts) → one mask of their
// union (converted); RLE, compressed or not, crowd or not → mask; no segmentation → box from
// bbox. `score` (results files) or tessera.score is kept.
import { z } from 'zod'
import { pixelWindowOf, ringsBounds } from '../geometry/bounds.ts'
import { cropMask, encodeMaskRle, type MaskRle } from '../geometry/mask.ts'
import { maskPixelBounds } from '../geometry/maskBounds.ts'
import { polygonArea } from '../geometry/polygon.ts'
import { rasterizePolygon } from '../geometry/rasterize.ts'
import {
  type CompressedCocoRle,
  cocoRleArea,
  cocoRleToMaskGeometry,
  compressCocoRle,
  maskGeometryToCocoRle,
} from '../geometry/rle.ts'
import type { AnnotationRecord, ReviewDecision } from '../schemas/annotation.ts'
import {
  type ClassTable,
  type ConversionReport,
  countConversion,
  type DatasetImage,
  emptyDataset,
  type ImportedAnnotation,
  type ImportedDataset,
  type ImportedImage,
} from './dataset.ts'

/** What the COCO writer and reader convert or skip, as the manifest and the dry run show it. */
export const COCO_REASONS = {
  holesToRle: 'polygon with holes → RLE mask',
  maskClipped: 'mask clipped to the image',
  holesNoPixel: 'polygon with holes: no pixel inside the image (skipped)',
  maskNoPixel: 'mask: no pixel inside the image (skipped)',
  points: 'points: no area (skipped)',
  polyline: 'polyline: no area (skipped)',
  partsToMask: 'polygon in several parts → one mask',
  partsNoPixel: 'polygon in several parts: no pixel inside the image (skipped)',
  emptyRle: 'RLE mask with no pixel (skipped)',
  sameName: 'categories with the same name merged',
} as const

export interface CocoCategory {
  id: number
  name: string
  supercategory: string
}

export interface CocoImage {
  id: number
  file_name: string
  width: number
  height: number
}

/** Tessera's own key on each annotation: what a round trip needs beyond COCO. */
export interface CocoTesseraExtension {
  annotationId: string
  origin: 'human' | 'model'
  modelVersion?: string
  review: ReviewDecision
  /** A model suggestion's confidence. */
  score?: number
}

export interface CocoAnnotation {
  id: number
  image_id: number
  category_id: number
  /** Polygons (no holes), compressed RLE, or [] for a box. */
  segmentation: number[][] | CompressedCocoRle
  area: number
  bbox: [number, number, number, number]
  iscrowd: 0
  tessera: CocoTesseraExtension
}

export interface CocoDataset {
  info: { description: string }
  licenses: never[]
  images: CocoImage[]
  annotations: CocoAnnotation[]
  categories: CocoCategory[]
}

export function cocoCategories(table: ClassTable): CocoCategory[] {
  return table.classes.map((c, index) => ({ id: index + 1, name: c.name, supercategory: 'object' }))
}

export function cocoImage(image: DatasetImage, cocoImageId: number): CocoImage {
  return { id: cocoImageId, file_name: image.fileName, width: image.width, height: image.height }
}

type CocoShape = Pick<CocoAnnotation, 'segmentation' | 'area' | 'bbox'>

function polygonShape(ring: readonly number[]): CocoShape {
  let minX = Infinity
  let minY = Infinity
  let maxX = -Infinity
  let maxY = -Infinity
  for (let i = 0; i < ring.length; i += 2) {
    const px = ring[i]
    const py = ring[i + 1]
    if (px < minX) minX = px
    if (px > maxX) maxX = px
    if (py < minY) minY = py
    if (py > maxY) maxY = py
  }
  return {
    segmentation: [ring.slice()],
    area: polygonArea([ring]),
    bbox: [minX, minY, maxX - minX, maxY - minY],
  }
}

/** A polygon with holes as the RLE of its pixels in the image; null when it has none. */
function holedPolygonShape(rings: readonly (readonly number[])[], image: DatasetImage) {
  const window = pixelWindowOf(ringsBounds(rings))
  const x0 = Math.max(0, window.x)
  const y0 = Math.max(0, window.y)
  const x1 = Math.min(image.width, window.x + window.width)
  const y1 = Math.min(image.height, window.y + window.height)
  if (x1 <= x0 || y1 <= y0) return null
  const data = rasterizePolygon(rings, x1 - x0, y1 - y0, { x: x0, y: y0 })
  const cropped = cropMask({ x: x0, y: y0, width: x1 - x0, height: y1 - y0, data })
  if (!cropped) return null
  const rle = maskGeometryToCocoRle(encodeMaskRle(cropped), image.width, image.height)
  const shape: CocoShape = {
    segmentation: compressCocoRle(rle),
    area: cocoRleArea(rle),
    bbox: [cropped.x, cropped.y, cropped.width, cropped.height],
  }
  return shape
}

function maskShape(mask: MaskRle, image: DatasetImage, report: ConversionReport) {
  const bounds = maskPixelBounds(mask, image.width, image.height)
  if (!bounds) return null
  const rle = maskGeometryToCocoRle(mask, image.width, image.height)
  const area = cocoRleArea(rle)
  let stored = 0
  for (let k = 1; k < mask.counts.length; k += 2) stored += mask.counts[k]
  if (area < stored) countConversion(report, 'converted', COCO_REASONS.maskClipped)
  const shape: CocoShape = {
    segmentation: compressCocoRle(rle),
    area,
    bbox: [bounds.minX, bounds.minY, bounds.maxX - bounds.minX, bounds.maxY - bounds.minY],
  }
  return shape
}

function cocoShape(
  annotation: AnnotationRecord,
  image: DatasetImage,
  report: ConversionReport,
): CocoShape | null {
  switch (annotation.kind) {
    case 'polygon': {
      const { rings } = annotation.geometry
      if (rings.length === 1) return polygonShape(rings[0])
      const shape = holedPolygonShape(rings, image)
      if (shape) countConversion(report, 'converted', COCO_REASONS.holesToRle)
      else countConversion(report, 'skipped', COCO_REASONS.holesNoPixel)
      return shape
    }
    case 'mask': {
      const shape = maskShape(annotation.geometry, image, report)
      if (!shape) countConversion(report, 'skipped', COCO_REASONS.maskNoPixel)
      return shape
    }
    case 'box': {
      const { x, y, width, height } = annotation.geometry
      return { segmentation: [], area: width * height, bbox: [x, y, width, height] }
    }
    case 'points':
      countConversion(report, 'skipped', COCO_REASONS.points)
      return null
    case 'polyline':
      countConversion(report, 'skipped', COCO_REASONS.polyline)
      return null
  }
}

function tesseraExtension(annotation: AnnotationRecord): CocoTesseraExtension {
  const { origin } = annotation
  return origin.type === 'model'
    ? {
        annotationId: annotation.id,
        origin: 'model',
        modelVersion: origin.modelVersion,
        review: annotation.review,
        score: origin.score,
      }
    : { annotationId: annotation.id, origin: 'human', review: annotation.review }
}

/**
 * One image's annotations, with ids from firstAnnotationId on (skipped ones take none: the
 * next image starts at firstAnnotationId + the returned length).
 */
export function cocoAnnotations(
  image: DatasetImage,
  cocoImageId: number,
  annotations: readonly AnnotationRecord[],
  table: ClassTable,
  firstAnnotationId: number,
  report: ConversionReport,
): CocoAnnotation[] {
  const out: CocoAnnotation[] = []
  for (const annotation of annotations) {
    const shape = cocoShape(annotation, image, report)
    if (!shape) continue
    out.push({
      id: firstAnnotationId + out.length,
      image_id: cocoImageId,
      category_id: table.indexOf(annotation.classId) + 1,
      segmentation: shape.segmentation,
      area: shape.area,
      bbox: shape.bbox,
      iscrowd: 0,
      tessera: tesseraExtension(annotation),
    })
  }
  return out
}

/** A whole dataset at once (small exports and tests); images get ids 1, 2, … in order. */
export function writeCoco(
  images: readonly { image: DatasetImage; annotations: readonly AnnotationRecord[] }[],
  table: ClassTable,
  report: ConversionReport,
): CocoDataset {
  const dataset: CocoDataset = {
    info: { description: 'Exported by Tessera' },
    licenses: [],
    images: [],
    annotations: [],
    categories: cocoCategories(table),
  }
  images.forEach(({ image, annotations }, index) => {
    dataset.images.push(cocoImage(image, index + 1))
    const written = cocoAnnotations(
      image,
      index + 1,
      annotations,
      table,
      dataset.annotations.length + 1,
      report,
    )
    for (const annotation of written) dataset.annotations.push(annotation)
  })
  return dataset
}

// Reading. The schemas check each entry's fields; the reader then checks what relates entries
// (ids, references) and geometry (polygons, RLE), so that every problem names its entry.

const missingOr = (message: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? 'missing' : message
const Finite = z.number({ error: missingOr('expected a finite number') })
const CocoId = z.union([z.number().int(), z.string().min(1)], {
  error: missingOr('expected an integer or a string id'),
})
type CocoId = z.infer<typeof CocoId>

const CocoFile = z.object(
  {
    images: z.array(z.unknown(), { error: missingOr('expected a list of images') }),
    annotations: z.array(z.unknown(), { error: 'expected a list of annotations' }).default([]),
    categories: z.array(z.unknown(), { error: 'expected a list of categories' }).default([]),
  },
  { error: 'expected a COCO object with images, annotations and categories' },
)

const CategoryEntry = z.object({
  id: CocoId,
  name: z.string({ error: missingOr('expected a name') }),
})

const ImageEntry = z.object({
  id: CocoId,
  file_name: z.string({ error: missingOr('expected a file name') }).min(1, 'empty file name'),
  width: z
    .number({ error: missingOr('expected a width') })
    .int()
    .positive(),
  height: z
    .number({ error: missingOr('expected a height') })
    .int()
    .positive(),
})

const AnnotationEntry = z.object({
  id: CocoId,
  image_id: CocoId,
  category_id: CocoId,
  segmentation: z.unknown().optional(),
  bbox: z
    .tuple([Finite, Finite, Finite, Finite], { error: 'expected [x, y, width, height]' })
    .optional(),
  score: Finite.optional(),
  tessera: z.object({ score: Finite.optional() }).optional(),
})

const RleEntry = z.object({
  size: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()], {
    error: missingOr('expected [height, width]'),
  }),
  counts: z.union([z.string(), z.array(z.number().int().nonnegative())], {
    error: missingOr('expected a string or a list of non-negative integers'),
  }),
})

function zodMessage(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const path = issue.path
        .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
        .join('')
      return path ? `${path}: ${issue.message}` : issue.message
    })
    .join('; ')
}

type ReadGeometry =
  | { kind: 'polygon' | 'box' | 'mask'; geometry: ImportedAnnotation['geometry'] }
  | { skipped: string }
  | { problem: string }

/** Checks a list of COCO polygons; the first problem found, or null. */
function polygonListProblem(polygons: unknown[]): string | null {
  for (let k = 0; k < polygons.length; k++) {
    const polygon = polygons[k]
    if (!Array.isArray(polygon)) return `segmentation[${k}]: expected a list of coordinates`
    for (let j = 0; j < polygon.length; j++) {
      if (typeof polygon[j] !== 'number' || !Number.isFinite(polygon[j]))
        return `segmentation[${k}][${j}]: expected a finite number`
    }
    if (polygon.length % 2 !== 0)
      return `segmentation[${k}]: an odd count of coordinates (${polygon.length}); they come in x, y pairs`
    if (polygon.length < 6)
      return `segmentation[${k}]: ${polygon.length / 2} vertices; a polygon needs at least 3`
  }
  return null
}

/** Several polygons of one object as one mask of their union, clipped to the image. */
function unionMask(polygons: number[][], width: number, height: number): MaskRle | null {
  const window = pixelWindowOf(ringsBounds(polygons))
  const x0 = Math.max(0, window.x)
  const y0 = Math.max(0, window.y)
  const x1 = Math.min(width, window.x + window.width)
  const y1 = Math.min(height, window.y + window.height)
  if (x1 <= x0 || y1 <= y0) return null
  const data = new Uint8Array((x1 - x0) * (y1 - y0))
  for (const polygon of polygons) {
    const part = rasterizePolygon([polygon], x1 - x0, y1 - y0, { x: x0, y: y0 })
    for (let i = 0; i < data.length; i++) data[i] |= part[i]
  }
  const cropped = cropMask({ x: x0, y: y0, width: x1 - x0, height: y1 - y0, data })
  return cropped ? encodeMaskRle(cropped) : null
}

function readGeometry(
  segmentation: unknown,
  bbox: [number, number, number, number] | undefined,
  image: { width: number; height: number },
): ReadGeometry {
  const empty =
    segmentation === undefined ||
    segmentation === null ||
    (Array.isArray(segmentation) && segmentation.length === 0)
  if (empty) {
    if (!bbox) return { problem: 'no segmentation and no bbox' }
    const [x, y, width, height] = bbox
    if (width < 0 || height < 0)
      return { problem: `bbox with a negative size (${width} × ${height})` }
    return { kind: 'box', geometry: { x, y, width, height } }
  }
  if (Array.isArray(segmentation)) {
    const problem = polygonListProblem(segmentation)
    if (problem) return { problem }
    const polygons = segmentation as number[][]
    if (polygons.length === 1) return { kind: 'polygon', geometry: { rings: [polygons[0]] } }
    const mask = unionMask(polygons, image.width, image.height)
    return mask ? { kind: 'mask', geometry: mask } : { skipped: COCO_REASONS.partsNoPixel }
  }
  const rle = RleEntry.safeParse(segmentation)
  if (!rle.success)
    return {
      problem: `segmentation: expected polygons or an RLE object (${zodMessage(rle.error)})`,
    }
  const [h, w] = rle.data.size
  if (h !== image.height || w !== image.width)
    return {
      problem: `RLE size [${h}, ${w}] does not match the image's height and width [${image.height}, ${image.width}]`,
    }
  try {
    const mask = cocoRleToMaskGeometry({ size: [h, w], counts: rle.data.counts } as Parameters<
      typeof cocoRleToMaskGeometry
    >[0])
    return mask ? { kind: 'mask', geometry: mask } : { skipped: COCO_REASONS.emptyRle }
  } catch (error) {
    return { problem: `RLE: ${(error as Error).message}` }
  }
}

/** Reads COCO instances JSON (already parsed); `source` names the file in problems. */
export function readCoco(json: unknown, source: string): ImportedDataset {
  const dataset = emptyDataset()
  const problem = (where: string | null, message: string) =>
    dataset.problems.push({ source: where ? `${source}: ${where}` : source, message })
  const convert = (reason: string) => {
    dataset.converted[reason] = (dataset.converted[reason] ?? 0) + 1
  }
  const file = CocoFile.safeParse(json)
  if (!file.success) {
    problem(null, zodMessage(file.error))
    return dataset
  }

  const categories = new Map<CocoId, { name: string; where: string }>()
  const classNames = new Set<string>()
  for (const [i, raw] of file.data.categories.entries()) {
    const where = `categories[${i}]`
    const entry = CategoryEntry.safeParse(raw)
    if (!entry.success) {
      problem(where, zodMessage(entry.error))
      continue
    }
    const { id, name } = entry.data
    const earlier = categories.get(id)
    if (earlier) {
      problem(where, `duplicate category id ${JSON.stringify(id)} (also ${earlier.where})`)
      continue
    }
    categories.set(id, { name, where })
    if (classNames.has(name)) convert(COCO_REASONS.sameName)
    else {
      classNames.add(name)
      dataset.classes.push({ name })
    }
  }

  const images = new Map<
    CocoId,
    { image: ImportedImage; width: number; height: number; where: string }
  >()
  const fileNames = new Map<string, string>()
  for (const [i, raw] of file.data.images.entries()) {
    const where = `images[${i}]`
    const entry = ImageEntry.safeParse(raw)
    if (!entry.success) {
      problem(where, zodMessage(entry.error))
      continue
    }
    const { id, file_name, width, height } = entry.data
    const earlier = images.get(id)
    if (earlier) {
      problem(where, `duplicate image id ${JSON.stringify(id)} (also ${earlier.where})`)
      continue
    }
    const sameName = fileNames.get(file_name)
    if (sameName) {
      problem(where, `duplicate file name ${file_name} (also ${sameName})`)
      continue
    }
    fileNames.set(file_name, where)
    const image: ImportedImage = { fileName: file_name, width, height, annotations: [] }
    images.set(id, { image, width, height, where })
    dataset.images.push(image)
  }

  const annotationIds = new Map<CocoId, string>()
  for (const [i, raw] of file.data.annotations.entries()) {
    const where = `annotations[${i}]`
    const entry = AnnotationEntry.safeParse(raw)
    if (!entry.success) {
      problem(where, zodMessage(entry.error))
      continue
    }
    const { id, image_id, category_id, segmentation, bbox, score, tessera } = entry.data
    const earlier = annotationIds.get(id)
    if (earlier) {
      problem(where, `duplicate annotation id ${JSON.stringify(id)} (also ${earlier})`)
      continue
    }
    annotationIds.set(id, where)
    const image = images.get(image_id)
    if (!image) {
      problem(where, `image_id ${JSON.stringify(image_id)} names no image`)
      continue
    }
    const category = categories.get(category_id)
    if (!category) {
      problem(where, `category_id ${JSON.stringify(category_id)} names no category`)
      continue
    }
    const read = readGeometry(segmentation, bbox, image)
    if ('problem' in read) {
      problem(where, read.problem)
      continue
    }
    if ('skipped' in read) {
      convert(read.skipped)
      continue
    }
    if (read.kind === 'mask' && Array.isArray(segmentation)) convert(COCO_REASONS.partsToMask)
    const annotation: ImportedAnnotation = {
      kind: read.kind,
      geometry: read.geometry,
      className: category.name,
      source: `${source}: ${where}`,
    }
    const confidence = score ?? tessera?.score
    if (confidence !== undefined) annotation.score = confidence
    image.image.annotations.push(annotation)
  }
  return dataset
}
