// Ultralytics YOLO detection and segmentation: a label file per image, written one image at a
// time as the export streams them, data.yaml for the classes, and a reader that matches label
// files to images and names every problem by file and line. Pure; never reads files.
//
// A line is `c xc yc w h` (detect) or `c x1 y1 x2 y2 …` (segment): c is the class's 0-based
// position in the ClassTable (the project's classes, then 'unclassified'); coordinates are
// divided by the image's width or height, clamped into [0, 1] and written with 6 decimals:
// each value within 0.5e-6 of the exact one, so a vertex comes back within 0.5e-6 × the image's
// size in pixels, and a box's edges (centre ∓ half the size) within 0.75e-6 × size.
//
// Writing (reasons as counted in the ConversionReport):
// - detect: boxes as they are; 'polygon → bounding box' (vertex bounds), 'mask → bounding box'
//   (bounds of its pixels inside the image).
// - segment: a polygon's outer ring ('polygon with holes: outer ring only' when it has holes);
//   'box → polygon' (its 4 corners); 'mask → polygon (pixel outline)': the exact outline of its
//   pixels inside the image, of its largest part by area ('mask in several parts: largest part
//   only', parts as 4-connected components) without holes ('mask with holes: outer outline only').
// - both: 'clamped to the image' when part of an object lies outside the image;
//   'no area inside the image (skipped)' when nothing with an area is left;
//   'points: no area (skipped)', 'polyline: no area (skipped)'.
// Reading: 5 values → box, a class and ≥ 3 x y pairs → polygon; without data.yaml classes are
// named by their number ('no data.yaml: class named by its number').
import { parse as parseYaml } from 'yaml'
import { pointsBounds } from '../geometry/bounds.ts'
import { maskLeavesImage, maskPixelBounds } from '../geometry/maskBounds.ts'
import { maskToPolygons } from '../geometry/maskToPolygons.ts'
import { polygonArea, signedArea } from '../geometry/polygon.ts'
import { rasterizeGeometry } from '../geometry/rasterize.ts'
import type { AnnotationRecord } from '../schemas/annotation.ts'
import {
  type ClassTable,
  type ConversionReport,
  countConversion,
  type DatasetImage,
  emptyDataset,
  fileStem,
  type ImportedDataset,
  type ImportedImage,
} from './dataset.ts'

export type YoloTask = 'detect' | 'segment'

/** What the YOLO writer and reader convert or skip, as the manifest and the dry run show it. */
export const YOLO_REASONS = {
  polygonToBox: 'polygon → bounding box',
  maskToBox: 'mask → bounding box',
  holesDropped: 'polygon with holes: outer ring only',
  boxToPolygon: 'box → polygon',
  maskToPolygon: 'mask → polygon (pixel outline)',
  maskParts: 'mask in several parts: largest part only',
  maskHoles: 'mask with holes: outer outline only',
  clamped: 'clamped to the image',
  noArea: 'no area inside the image (skipped)',
  points: 'points: no area (skipped)',
  polyline: 'polyline: no area (skipped)',
  unnamedClass: 'no data.yaml: class named by its number',
} as const

/** How far a read coordinate may lie outside [0, 1] (rounding in other tools' writers). */
export const YOLO_EPSILON = 1e-6

/** v in [0, 1] with 6 decimals; integer arithmetic, faster than toFixed on millions of values. */
function unit(v: number): string {
  const n = Math.round(v * 1e6)
  if (n >= 1_000_000) return '1.000000'
  if (n <= 0) return '0.000000'
  return `0.${(n + 1_000_000).toString().slice(1)}`
}

const clamp = (v: number, max: number) => (v < 0 ? 0 : v > max ? max : v)

function detectLine(
  annotation: AnnotationRecord,
  image: DatasetImage,
  classIndex: number,
  report: ConversionReport,
): string | null {
  let minX = Infinity
  let minY = Infinity
  let maxX = -Infinity
  let maxY = -Infinity
  let conversion: string | null = null
  let clamped = false
  switch (annotation.kind) {
    case 'box': {
      const { x, y, width, height } = annotation.geometry
      minX = x
      minY = y
      maxX = x + width
      maxY = y + height
      break
    }
    case 'polygon': {
      // The outer ring bounds the polygon (holes lie inside it).
      ;({ minX, minY, maxX, maxY } = pointsBounds(annotation.geometry.rings[0]))
      conversion = YOLO_REASONS.polygonToBox
      break
    }
    case 'mask': {
      const bounds = maskPixelBounds(annotation.geometry, image.width, image.height)
      if (!bounds) {
        countConversion(report, 'skipped', YOLO_REASONS.noArea)
        return null
      }
      ;({ minX, minY, maxX, maxY } = bounds)
      clamped = maskLeavesImage(annotation.geometry, image.width, image.height)
      conversion = YOLO_REASONS.maskToBox
      break
    }
    case 'points':
      countConversion(report, 'skipped', YOLO_REASONS.points)
      return null
    case 'polyline':
      countConversion(report, 'skipped', YOLO_REASONS.polyline)
      return null
  }
  const { width, height } = image
  const x0 = clamp(minX, width)
  const y0 = clamp(minY, height)
  const x1 = clamp(maxX, width)
  const y1 = clamp(maxY, height)
  if (!(x1 > x0 && y1 > y0)) {
    countConversion(report, 'skipped', YOLO_REASONS.noArea)
    return null
  }
  if (clamped || x0 !== minX || y0 !== minY || x1 !== maxX || y1 !== maxY)
    countConversion(report, 'converted', YOLO_REASONS.clamped)
  if (conversion) countConversion(report, 'converted', conversion)
  return `${classIndex} ${unit((x0 + x1) / 2 / width)} ${unit((y0 + y1) / 2 / height)} ${unit(
    (x1 - x0) / width,
  )} ${unit((y1 - y0) / height)}`
}

/** One ring as `x1 y1 x2 y2 …`, clamped into the image; null when it keeps no area. */
function ringText(
  ring: readonly number[],
  image: DatasetImage,
): { text: string; clamped: boolean } | null {
  const { width, height } = image
  const clamped = new Array<number>(ring.length)
  let moved = false
  for (let i = 0; i < ring.length; i += 2) {
    const x = clamp(ring[i], width)
    const y = clamp(ring[i + 1], height)
    if (x !== ring[i] || y !== ring[i + 1]) moved = true
    clamped[i] = x
    clamped[i + 1] = y
  }
  if (signedArea(clamped) === 0) return null
  let text = ''
  for (let i = 0; i < clamped.length; i += 2)
    text += ` ${unit(clamped[i] / width)} ${unit(clamped[i + 1] / height)}`
  return { text, clamped: moved }
}

function segmentLine(
  annotation: AnnotationRecord,
  image: DatasetImage,
  classIndex: number,
  report: ConversionReport,
): string | null {
  const conversions: string[] = []
  let ring: readonly number[]
  let clamped = false
  switch (annotation.kind) {
    case 'polygon':
      ring = annotation.geometry.rings[0]
      if (annotation.geometry.rings.length > 1) conversions.push(YOLO_REASONS.holesDropped)
      break
    case 'box': {
      const { x, y, width, height } = annotation.geometry
      ring = [x, y, x + width, y, x + width, y + height, x, y + height]
      conversions.push(YOLO_REASONS.boxToPolygon)
      break
    }
    case 'mask': {
      const { x, y, width, height } = annotation.geometry
      const x0 = Math.max(0, x)
      const y0 = Math.max(0, y)
      const x1 = Math.min(image.width, x + width)
      const y1 = Math.min(image.height, y + height)
      const parts =
        x1 > x0 && y1 > y0
          ? maskToPolygons(
              rasterizeGeometry(annotation, x1 - x0, y1 - y0, { x: x0, y: y0 })!,
              x1 - x0,
              y1 - y0,
              { originX: x0, originY: y0 },
            )
          : []
      if (parts.length === 0) {
        countConversion(report, 'skipped', YOLO_REASONS.noArea)
        return null
      }
      let largest = parts[0]
      let largestArea = polygonArea(largest.rings)
      for (let k = 1; k < parts.length; k++) {
        const area = polygonArea(parts[k].rings)
        if (area > largestArea) {
          largest = parts[k]
          largestArea = area
        }
      }
      ring = largest.rings[0]
      clamped = maskLeavesImage(annotation.geometry, image.width, image.height)
      conversions.push(YOLO_REASONS.maskToPolygon)
      if (parts.length > 1) conversions.push(YOLO_REASONS.maskParts)
      if (largest.rings.length > 1) conversions.push(YOLO_REASONS.maskHoles)
      break
    }
    case 'points':
      countConversion(report, 'skipped', YOLO_REASONS.points)
      return null
    case 'polyline':
      countConversion(report, 'skipped', YOLO_REASONS.polyline)
      return null
  }
  const written = ringText(ring, image)
  if (!written) {
    countConversion(report, 'skipped', YOLO_REASONS.noArea)
    return null
  }
  if (clamped || written.clamped) countConversion(report, 'converted', YOLO_REASONS.clamped)
  for (const reason of conversions) countConversion(report, 'converted', reason)
  return `${classIndex}${written.text}`
}

/** One image's label file: a line per object, '' when it has none (a background image). */
export function yoloLabelFile(
  image: DatasetImage,
  annotations: readonly AnnotationRecord[],
  table: ClassTable,
  task: YoloTask,
  report: ConversionReport,
): string {
  let text = ''
  for (const annotation of annotations) {
    const classIndex = table.indexOf(annotation.classId)
    const line =
      task === 'detect'
        ? detectLine(annotation, image, classIndex, report)
        : segmentLine(annotation, image, classIndex, report)
    if (line !== null) text += `${line}\n`
  }
  return text
}

/**
 * A double-quoted YAML scalar that PyYAML (YAML 1.1, as Ultralytics reads it) and YAML 1.2
 * readers both read back as `text`: quotes, backslashes, controls and the characters YAML
 * counts as line breaks or refuses are escaped.
 */
export function yamlQuote(text: string): string {
  let out = '"'
  for (const ch of text) {
    const code = ch.codePointAt(0)!
    if (ch === '"' || ch === '\\') out += `\\${ch}`
    else if (
      (code >= 0x20 && code <= 0x7e) ||
      (code >= 0xa0 && code <= 0xd7ff && code !== 0x2028 && code !== 0x2029) ||
      (code >= 0xe000 && code <= 0xfffd && code !== 0xfeff) ||
      code >= 0x10000
    )
      out += ch
    else out += `\\u${code.toString(16).padStart(4, '0')}`
  }
  return `${out}"`
}

/**
 * Ultralytics data.yaml: train and val are the archive's images/ (labels/ beside it), classes by
 * number. No `path:` key: without one Ultralytics takes the folder of data.yaml as the dataset
 * root, whereas a relative `path: .` is taken from the working directory (8.x) or its datasets
 * folder (older versions), so the archive would train only when run from inside it.
 */
export function yoloDataYaml(table: ClassTable, task: YoloTask): string {
  const names = table.classes.map((c, index) => `  ${index}: ${yamlQuote(c.name)}\n`).join('')
  const kind = task === 'detect' ? 'detection' : 'segmentation'
  return (
    `# Ultralytics YOLO ${kind} dataset exported by Tessera; the dataset root is this folder.\n` +
    `train: images\nval: images\nnc: ${table.classes.length}\nnames:\n${names}`
  )
}

export interface YoloInput {
  /** data.yaml's text; without it classes are named by their number. */
  dataYaml?: string
  labelFiles: { path: string; text: string }[]
  /** The images the label files may belong to, with their sizes (labels are normalised). */
  images: { fileName: string; width: number; height: number }[]
}

/** The class names of data.yaml by number (names as a list or a mapping); problems as text. */
function readNames(text: string): { names: Map<number, string> } | { problem: string } {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (error) {
    return { problem: `not valid YAML: ${(error as Error).message}` }
  }
  const raw = (doc as { names?: unknown; nc?: unknown } | null)?.names
  const names = new Map<number, string>()
  const nameOf = (v: unknown) =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : null
  if (Array.isArray(raw)) {
    for (const [index, value] of raw.entries()) {
      const name = nameOf(value)
      if (name === null) return { problem: `names[${index}] is not a name` }
      names.set(index, name)
    }
  } else if (raw && typeof raw === 'object') {
    for (const [key, value] of Object.entries(raw)) {
      const name = nameOf(value)
      if (!/^\d+$/.test(key)) return { problem: `names: ${key} is not a class number` }
      if (name === null) return { problem: `names: ${key} has no name` }
      names.set(Number(key), name)
    }
  } else return { problem: 'no names: expected a list or a mapping of class numbers to names' }
  const nc = (doc as { nc?: unknown }).nc
  if (nc !== undefined && nc !== names.size)
    return { problem: `nc is ${JSON.stringify(nc)} but names lists ${names.size} classes` }
  return { names }
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

const normalisePath = (path: string) => path.replace(/\\/g, '/').replace(/^(\.\/|\/)+/, '')

/** Ultralytics' rule: the last images/ folder becomes labels/, the extension .txt. */
function labelPathOf(imagePath: string): string {
  const path = `/${normalisePath(imagePath)}`
  const at = path.lastIndexOf('/images/')
  const swapped = at < 0 ? path : `${path.slice(0, at)}/labels/${path.slice(at + 8)}`
  const dot = swapped.lastIndexOf('.')
  return normalisePath(`${dot > swapped.lastIndexOf('/') ? swapped.slice(0, dot) : swapped}.txt`)
}

export function readYolo(input: YoloInput): ImportedDataset {
  const dataset = emptyDataset()
  const problem = (source: string, message: string) => dataset.problems.push({ source, message })
  let names: Map<number, string> | null = null
  if (input.dataYaml !== undefined) {
    const read = readNames(input.dataYaml)
    if ('problem' in read) problem('data.yaml', read.problem)
    else {
      names = read.names
      for (const index of [...names.keys()].sort((a, b) => a - b))
        dataset.classes.push({ name: names.get(index)! })
    }
  }
  const unnamed = new Set<number>()

  const images: (ImportedImage & { width: number; height: number })[] = []
  const byLabelPath = new Map<string, number>()
  const byStem = new Map<string, number[]>()
  for (const { fileName, width, height } of input.images) {
    if (images.some((image) => image.fileName === fileName)) continue
    const index = images.push({ fileName, width, height, annotations: [] }) - 1
    byLabelPath.set(labelPathOf(fileName), index)
    const stem = fileStem(fileName)
    byStem.set(stem, [...(byStem.get(stem) ?? []), index])
  }
  const labelledBy = new Map<number, string>()

  for (const file of input.labelFiles) {
    let index = byLabelPath.get(normalisePath(file.path))
    if (index === undefined) {
      const candidates = byStem.get(fileStem(file.path)) ?? []
      if (candidates.length > 1) {
        problem(
          file.path,
          `its name matches several images: ${candidates.map((i) => images[i].fileName).join(', ')}`,
        )
        continue
      }
      if (candidates.length === 0) {
        problem(file.path, `no image named ${fileStem(file.path)}.* for these labels`)
        continue
      }
      index = candidates[0]
    }
    const image = images[index]
    const earlier = labelledBy.get(index)
    if (earlier !== undefined) {
      problem(file.path, `${image.fileName} already has labels in ${earlier}`)
      continue
    }
    labelledBy.set(index, file.path)
    const lines = file.text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/)
    for (const [j, raw] of lines.entries()) {
      const line = raw.trim()
      if (line === '') continue
      const source = `${file.path}: line ${j + 1}`
      const tokens = line.split(/\s+/)
      const n = tokens.length
      if (!(n === 5 || (n >= 7 && n % 2 === 1))) {
        problem(
          source,
          `expected 5 values (class, x centre, y centre, width, height) or a class and at least 3 x y pairs; found ${n}`,
        )
        continue
      }
      if (!/^\d+$/.test(tokens[0])) {
        problem(source, `class ${tokens[0]} is not a class number`)
        continue
      }
      const classIndex = Number(tokens[0])
      let className: string
      if (names) {
        const name = names.get(classIndex)
        if (name === undefined) {
          problem(source, `class ${classIndex} is not among data.yaml's names`)
          continue
        }
        className = name
      } else {
        className = String(classIndex)
        unnamed.add(classIndex)
        dataset.converted[YOLO_REASONS.unnamedClass] =
          (dataset.converted[YOLO_REASONS.unnamedClass] ?? 0) + 1
      }
      const values: number[] = []
      let bad: string | null = null
      for (let k = 1; k < n && bad === null; k++) {
        const v = DECIMAL.test(tokens[k]) ? Number(tokens[k]) : Number.NaN
        if (!Number.isFinite(v)) bad = `value ${k + 1} (${tokens[k]}) is not a finite number`
        else if (v < -YOLO_EPSILON || v > 1 + YOLO_EPSILON)
          bad = `value ${k + 1} (${tokens[k]}) lies outside [0, 1]`
        values.push(v)
      }
      if (bad !== null) {
        problem(source, bad)
        continue
      }
      const { width, height } = image
      if (n === 5) {
        const [xc, yc, w, h] = values
        image.annotations.push({
          kind: 'box',
          geometry: {
            x: (xc - w / 2) * width,
            y: (yc - h / 2) * height,
            // A size a rounding step below 0 is 0.
            width: Math.max(0, w) * width,
            height: Math.max(0, h) * height,
          },
          className,
          source,
        })
      } else {
        const ring = values.map((v, k) => v * (k % 2 === 0 ? width : height))
        image.annotations.push({ kind: 'polygon', geometry: { rings: [ring] }, className, source })
      }
    }
  }
  if (!names) {
    for (const index of [...unnamed].sort((a, b) => a - b))
      dataset.classes.push({ name: String(index) })
  }
  dataset.images = images
  return dataset
}
