// Label images: per image an instance image (uint16, 0 = background, 1..N = objects), a class
// image (0 = background, v = class v of the label map: the 1-based position in the ClassTable)
// and one label map for the export. Writer and reader, pure; file encoding is the server's.
//
// Writing (labelImagesFor) rasterises with rasterizeInstanceLabels, every annotation it is given
// counting: later objects (by createdAt, then id) take the pixels where objects overlap. Counted:
// skipped 'box: not an instance mask', 'points: not an instance mask', 'polyline: not an
// instance mask', 'hidden behind later objects or covering no pixel', 'more than 65535 objects in
// one image'; converted 'partly hidden behind later objects'.
//
// Reading (readLabelImages): one annotation per label value, in value order, its class the most
// frequent value of the class image over its pixels. As 'polygon', the exact pixel outline
// (maskToPolygons); an object of several 4-connected parts becomes one mask instead, converted
// 'label of several separate parts → mask'. As 'mask', its pixels cropped to their box. Also
// counted: 'label over background in the class image: no class', 'label over several classes:
// the most frequent', 'class value missing from the label map: named by its value'. Problems: an
// image whose pixel count does not match its size, a class image of another size.

import { geometryBounds, pixelWindowOf } from '../geometry/bounds.ts'
import { encodeMaskRle } from '../geometry/mask.ts'
import { maskToPolygons } from '../geometry/maskToPolygons.ts'
import { rasterizeGeometry } from '../geometry/rasterize.ts'
import { MAX_INSTANCES, rasterizeInstanceLabels } from '../training/instanceLabels.ts'
import {
  type ClassTable,
  type ConversionReport,
  countConversion,
  type DatasetAnnotation,
  type DatasetImage,
  type ImportedAnnotation,
  type ImportedImage,
  type ImportProblem,
} from './dataset.ts'

export const LABEL_MASK_REASONS = {
  notInstance: (kind: string) => `${kind}: not an instance mask`,
  hidden: 'hidden behind later objects or covering no pixel',
  overflow: `more than ${MAX_INSTANCES} objects in one image`,
  partlyHidden: 'partly hidden behind later objects',
  severalParts: 'label of several separate parts → mask',
  noClass: 'label over background in the class image: no class',
  mixedClasses: 'label over several classes: the most frequent',
  unnamedClass: 'class value missing from the label map: named by its value',
} as const

export interface LabelImages {
  /** Row-major, 0 = background, 1..N = objects. */
  instances: Uint16Array
  /** Row-major, 0 = background, v = the class at position v − 1 of the ClassTable. */
  classes: Uint16Array
  /** Per object: instanceClasses[label − 1] is its class value (the class image's value). */
  instanceClasses: number[]
}

/** The two label images of one image; what they cannot hold goes in `report`. */
export function labelImagesFor(
  image: DatasetImage,
  annotations: readonly DatasetAnnotation[],
  table: ClassTable,
  report: ConversionReport,
): LabelImages {
  const result = rasterizeInstanceLabels(image, annotations, () => true)
  for (const [reason, n] of Object.entries(result.skipped)) {
    const named =
      reason === 'hidden'
        ? LABEL_MASK_REASONS.hidden
        : reason === 'overflow'
          ? LABEL_MASK_REASONS.overflow
          : LABEL_MASK_REASONS.notInstance(reason)
    countConversion(report, 'skipped', named, n)
  }
  const instanceClasses = result.instances.map((instance) => table.indexOf(instance.classId) + 1)
  const lookup = new Uint16Array(instanceClasses.length + 1)
  instanceClasses.forEach((value, k) => {
    lookup[k + 1] = value
  })
  const { labels } = result
  const classes = new Uint16Array(labels.length)
  const area = new Float64Array(instanceClasses.length + 1)
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]
    if (label === 0) continue
    classes[i] = lookup[label]
    area[label]++
  }
  const partlyHidden = countPartlyHidden(image, annotations, result.instances, area)
  if (partlyHidden > 0)
    countConversion(report, 'converted', LABEL_MASK_REASONS.partlyHidden, partlyHidden)
  return { instances: labels, classes, instanceClasses }
}

/**
 * Objects that lost some pixels to later ones. Only objects whose pixel window meets another's
 * can have, so only those are rasterised a second time to compare areas.
 */
function countPartlyHidden(
  image: DatasetImage,
  annotations: readonly DatasetAnnotation[],
  instances: readonly { label: number; annotationId: string }[],
  area: Float64Array,
): number {
  if (instances.length < 2) return 0
  const byId = new Map(annotations.map((a) => [a.id, a]))
  const windows = instances.map((instance) => {
    const w = pixelWindowOf(geometryBounds(byId.get(instance.annotationId)!))
    const x0 = Math.max(0, w.x)
    const y0 = Math.max(0, w.y)
    return {
      instance,
      x0,
      y0,
      x1: Math.min(image.width, w.x + w.width),
      y1: Math.min(image.height, w.y + w.height),
    }
  })
  windows.sort((a, b) => a.x0 - b.x0)
  const candidates = new Set<number>()
  for (let i = 0; i < windows.length; i++) {
    const a = windows[i]
    for (let j = i + 1; j < windows.length && windows[j].x0 < a.x1; j++) {
      const b = windows[j]
      if (b.y0 < a.y1 && a.y0 < b.y1) {
        candidates.add(i)
        candidates.add(j)
      }
    }
  }
  let count = 0
  for (const i of candidates) {
    const { instance, x0, y0, x1, y1 } = windows[i]
    const mask = rasterizeGeometry(byId.get(instance.annotationId)!, x1 - x0, y1 - y0, {
      x: x0,
      y: y0,
    })
    let full = 0
    if (mask) for (let k = 0; k < mask.length; k++) full += mask[k]
    if (area[instance.label] < full) count++
  }
  return count
}

/** The label map of an export: class image value → class ('0' is the background). */
export function labelMapJson(table: ClassTable): string {
  const map: Record<string, { name: string; color: string }> = {
    '0': { name: 'background', color: '#000000' },
  }
  table.classes.forEach((cls, index) => {
    map[String(index + 1)] = { name: cls.name, color: cls.color }
  })
  return `${JSON.stringify(map, null, 2)}\n`
}

/** Reads a label map back: class image value → class name. */
export function readLabelMap(json: unknown): Map<number, string> {
  const names = new Map<number, string>()
  if (typeof json !== 'object' || json === null) return names
  for (const [key, value] of Object.entries(json)) {
    const v = Number(key)
    if (!Number.isInteger(v) || v <= 0) continue
    const name = typeof value === 'string' ? value : (value as { name?: unknown })?.name
    if (typeof name === 'string') names.set(v, name)
  }
  return names
}

export interface LabelImageInput {
  fileName: string
  width: number
  height: number
  instances: Uint16Array
  classes?: Uint16Array
  /** Class image value → class name (the label map). */
  classNames?: Map<number, string>
}

export interface LabelImagesImport {
  image: ImportedImage
  problems: ImportProblem[]
  converted: Record<string, number>
}

/**
 * One annotation per label value of an instance image. One pass finds each label's box and
 * pixel count, then each label is cut from its box: the cost is the image plus the boxes.
 */
export function readLabelImages(
  input: LabelImageInput,
  options: { as: 'polygon' | 'mask' },
  source: string,
): LabelImagesImport {
  const { fileName, width, height, instances, classes } = input
  const image: ImportedImage = { fileName, width, height, annotations: [] }
  const result: LabelImagesImport = { image, problems: [], converted: {} }
  const count = (reason: string) => {
    result.converted[reason] = (result.converted[reason] ?? 0) + 1
  }
  if (instances.length !== width * height) {
    result.problems.push({
      source,
      message: `the instance image has ${instances.length} pixels, expected ${width} × ${height}`,
    })
    return result
  }
  if (classes && classes.length !== instances.length) {
    result.problems.push({
      source,
      message: `the class image has ${classes.length} pixels, the instance image ${instances.length}`,
    })
    return result
  }
  const minX = new Int32Array(65536).fill(width)
  const minY = new Int32Array(65536).fill(-1)
  const maxX = new Int32Array(65536).fill(-1)
  const maxY = new Int32Array(65536)
  for (let y = 0; y < height; y++) {
    const row = y * width
    for (let x = 0; x < width; x++) {
      const v = instances[row + x]
      if (v === 0) continue
      if (minY[v] < 0) minY[v] = y
      maxY[v] = y
      if (x < minX[v]) minX[v] = x
      if (x > maxX[v]) maxX[v] = x
    }
  }
  for (let v = 1; v < 65536; v++) {
    if (maxX[v] < 0) continue
    const x0 = minX[v]
    const y0 = minY[v]
    const w = maxX[v] - x0 + 1
    const h = maxY[v] - y0 + 1
    const data = new Uint8Array(w * h)
    // Class votes: runs of one class are counted at once, so a map is touched per change only.
    const votes = new Map<number, number>()
    let runClass = -1
    let run = 0
    for (let row = 0; row < h; row++) {
      const from = (y0 + row) * width + x0
      const target = row * w
      for (let col = 0; col < w; col++) {
        if (instances[from + col] !== v) continue
        data[target + col] = 1
        if (!classes) continue
        const c = classes[from + col]
        if (c === runClass) run++
        else {
          if (run > 0) votes.set(runClass, (votes.get(runClass) ?? 0) + run)
          runClass = c
          run = 1
        }
      }
    }
    if (run > 0) votes.set(runClass, (votes.get(runClass) ?? 0) + run)
    const where = `${source}: label ${v}`
    let className: string | null = null
    if (classes) {
      let best = 0
      let bestVotes = -1
      for (const [c, n] of votes) {
        if (n > bestVotes || (n === bestVotes && c < best)) {
          best = c
          bestVotes = n
        }
      }
      if (votes.size > 1) count(LABEL_MASK_REASONS.mixedClasses)
      if (best === 0) count(LABEL_MASK_REASONS.noClass)
      else {
        const name = input.classNames?.get(best)
        if (name === undefined) count(LABEL_MASK_REASONS.unnamedClass)
        className = name ?? `class ${best}`
      }
    }
    const annotation: ImportedAnnotation =
      options.as === 'polygon'
        ? polygonOrMask(data, x0, y0, w, h, className, where, count)
        : {
            kind: 'mask',
            geometry: encodeMaskRle({ x: x0, y: y0, width: w, height: h, data }),
            className,
            source: where,
          }
    image.annotations.push(annotation)
  }
  return result
}

function polygonOrMask(
  data: Uint8Array,
  x: number,
  y: number,
  width: number,
  height: number,
  className: string | null,
  source: string,
  count: (reason: string) => void,
): ImportedAnnotation {
  const polygons = maskToPolygons(data, width, height, { originX: x, originY: y })
  if (polygons.length === 1) {
    return { kind: 'polygon', geometry: { rings: polygons[0].rings }, className, source }
  }
  count(LABEL_MASK_REASONS.severalParts)
  return {
    kind: 'mask',
    geometry: encodeMaskRle({ x, y, width, height, data }),
    className,
    source,
  }
}
