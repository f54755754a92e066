// Pascal VOC XML (boxes): one annotation file per image, written one image at a time as the
// export streams them, and a reader that refuses DTDs and entity declarations before it parses
// anything (no entity expansion, nothing external). Pure; never reads files.
//
// Pixel convention. VOC numbers pixels from 1 and its boxes are inclusive: xmin is the first
// column of the box, xmax the last. Here pixel column c (from 0) covers [c, c + 1), and a box
// holds the columns whose centres c + ½ lie in [x, x + width), the rule shapes are rasterised
// by: c0 = ceil(x − ½), c1 = ceil(x + width − ½) − 1, written xmin = c0 + 1, xmax = c1 + 1
// (rows likewise). Whole-pixel boxes come back exactly (xmin = x + 1, xmax = x + width);
// fractional edges move to the nearest pixel boundary, by ½ pixel at most. Reading: x = xmin − 1,
// width = xmax − xmin + 1, fractional values taken as they are.
//
// Writing (reasons as counted in the ConversionReport): 'polygon → bounding box' (the outer
// ring's bounds), 'mask → bounding box' (its pixels inside the image), 'box snapped to whole
// pixels' (a box with a fractional edge), 'clamped to the image', 'covers no pixel of the image
// (skipped)', 'points: no area (skipped)', 'polyline: no area (skipped)', and 'characters XML
// cannot hold replaced by �' in names. truncated is 1 when the box touches the image's edge.
// Reading: 'box edge at 0 (VOC counts pixels from 1): clamped to the image'.
import { XMLParser } from 'fast-xml-parser'
import { pointsBounds } from '../geometry/bounds.ts'
import { maskLeavesImage, maskPixelBounds } from '../geometry/maskBounds.ts'
import type { AnnotationRecord } from '../schemas/annotation.ts'
import {
  type ClassTable,
  type ConversionReport,
  countConversion,
  type DatasetImage,
  type ImportedImage,
  type ImportProblem,
} from './dataset.ts'

/** What the VOC writer and reader convert or skip, as the manifest and the dry run show it. */
export const VOC_REASONS = {
  polygonToBox: 'polygon → bounding box',
  maskToBox: 'mask → bounding box',
  snapped: 'box snapped to whole pixels',
  clamped: 'clamped to the image',
  noPixel: 'covers no pixel of the image (skipped)',
  points: 'points: no area (skipped)',
  polyline: 'polyline: no area (skipped)',
  invalidCharacters: 'characters XML cannot hold replaced by �',
  zeroEdge: 'box edge at 0 (VOC counts pixels from 1): clamped to the image',
} as const

export interface VocOptions {
  /** The folder the images are in (VOC's <folder>, JPEGImages in the devkit's layout). */
  folder: string
  /** Channels of the image (<size><depth>). */
  depth: number
}

/** Characters XML 1.0 cannot hold, even escaped (controls, lone surrogates, U+FFFE/FFFF). */
const NOT_XML = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u
const ALL_NOT_XML = new RegExp(NOT_XML.source, 'gu')

/** Element text: markup escaped, \r kept (parsers turn a bare one into \n). */
function xmlText(text: string, report: ConversionReport): string {
  let clean = text
  if (NOT_XML.test(text)) {
    countConversion(report, 'converted', VOC_REASONS.invalidCharacters)
    clean = text.replace(ALL_NOT_XML, '\uFFFD')
  }
  return clean
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#13;')
}

/** First pixel (from 0) whose centre is at or after v. */
const firstCentre = (v: number) => Math.ceil(v - 0.5)

interface VocBox {
  xmin: number
  ymin: number
  xmax: number
  ymax: number
  truncated: 0 | 1
}

function vocBox(
  annotation: AnnotationRecord,
  image: DatasetImage,
  report: ConversionReport,
): VocBox | null {
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
      if (
        !Number.isInteger(minX) ||
        !Number.isInteger(minY) ||
        !Number.isInteger(maxX) ||
        !Number.isInteger(maxY)
      )
        conversion = VOC_REASONS.snapped
      break
    }
    case 'polygon': {
      // The outer ring bounds the polygon (holes lie inside it).
      ;({ minX, minY, maxX, maxY } = pointsBounds(annotation.geometry.rings[0]))
      conversion = VOC_REASONS.polygonToBox
      break
    }
    case 'mask': {
      const bounds = maskPixelBounds(annotation.geometry, image.width, image.height)
      if (!bounds) {
        countConversion(report, 'skipped', VOC_REASONS.noPixel)
        return null
      }
      ;({ minX, minY, maxX, maxY } = bounds)
      clamped = maskLeavesImage(annotation.geometry, image.width, image.height)
      conversion = VOC_REASONS.maskToBox
      break
    }
    case 'points':
      countConversion(report, 'skipped', VOC_REASONS.points)
      return null
    case 'polyline':
      countConversion(report, 'skipped', VOC_REASONS.polyline)
      return null
  }
  // Pixels (from 0) whose centres the box holds, then those inside the image.
  const c0 = firstCentre(minX)
  const r0 = firstCentre(minY)
  const c1 = firstCentre(maxX) - 1
  const r1 = firstCentre(maxY) - 1
  const col0 = Math.max(0, c0)
  const row0 = Math.max(0, r0)
  const col1 = Math.min(image.width - 1, c1)
  const row1 = Math.min(image.height - 1, r1)
  if (col1 < col0 || row1 < row0) {
    countConversion(report, 'skipped', VOC_REASONS.noPixel)
    return null
  }
  if (clamped || col0 !== c0 || row0 !== r0 || col1 !== c1 || row1 !== r1)
    countConversion(report, 'converted', VOC_REASONS.clamped)
  if (conversion) countConversion(report, 'converted', conversion)
  const touches = col0 === 0 || row0 === 0 || col1 === image.width - 1 || row1 === image.height - 1
  return {
    xmin: col0 + 1,
    ymin: row0 + 1,
    xmax: col1 + 1,
    ymax: row1 + 1,
    truncated: touches ? 1 : 0,
  }
}

/** One image's VOC annotation file. */
export function vocXml(
  image: DatasetImage,
  annotations: readonly AnnotationRecord[],
  table: ClassTable,
  report: ConversionReport,
  options: VocOptions,
): string {
  let objects = ''
  for (const annotation of annotations) {
    const box = vocBox(annotation, image, report)
    if (!box) continue
    objects +=
      '\t<object>\n' +
      `\t\t<name>${xmlText(table.classOf(annotation.classId).name, report)}</name>\n` +
      '\t\t<pose>Unspecified</pose>\n' +
      `\t\t<truncated>${box.truncated}</truncated>\n` +
      '\t\t<difficult>0</difficult>\n' +
      '\t\t<bndbox>\n' +
      `\t\t\t<xmin>${box.xmin}</xmin>\n\t\t\t<ymin>${box.ymin}</ymin>\n` +
      `\t\t\t<xmax>${box.xmax}</xmax>\n\t\t\t<ymax>${box.ymax}</ymax>\n` +
      '\t\t</bndbox>\n' +
      '\t</object>\n'
  }
  return (
    '<annotation>\n' +
    `\t<folder>${xmlText(options.folder, report)}</folder>\n` +
    `\t<filename>${xmlText(image.fileName, report)}</filename>\n` +
    '\t<size>\n' +
    `\t\t<width>${image.width}</width>\n\t\t<height>${image.height}</height>\n` +
    `\t\t<depth>${options.depth}</depth>\n` +
    '\t</size>\n' +
    '\t<segmented>0</segmented>\n' +
    objects +
    '</annotation>\n'
  )
}

export interface VocRead {
  /** Null when the document is refused or has no file name. */
  image: ImportedImage | null
  problems: ImportProblem[]
  /** What the reader converted, by reason. */
  converted: Record<string, number>
}

// The parser expands no entity at all; textOf decodes XML's own five and numeric references.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  processEntities: false,
  isArray: (_name, path) => path === 'annotation.object',
})

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function decodeReferences(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name: string) => {
    if (name[0] !== '#') return XML_ENTITIES[name] ?? whole
    const code = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1))
    const valid = code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
    return valid ? String.fromCodePoint(code) : whole
  })
}

/** The text of an element that holds only text; undefined when absent, empty or not text. */
function textOf(node: unknown): string | undefined {
  if (typeof node === 'string') {
    const text = decodeReferences(node).trim()
    return text === '' ? undefined : text
  }
  if (typeof node === 'number') return String(node)
  return undefined
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

export function readVoc(xml: string, source: string): VocRead {
  const result: VocRead = { image: null, problems: [], converted: {} }
  const problem = (where: string | null, message: string) =>
    result.problems.push({ source: where ? `${source}: ${where}` : source, message })
  // Refused before the parser sees it: a DTD could declare entities (internal ones can expand
  // exponentially, external ones name files or URLs).
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    problem(null, 'DTDs and entities are not accepted')
    return result
  }
  let doc: unknown
  try {
    doc = parser.parse(xml, true)
  } catch (error) {
    // The parser appends :line:column (column sometimes undefined).
    problem(null, `not well-formed XML: ${(error as Error).message.replace(/:undefined$/, '')}`)
    return result
  }
  const root = (doc as { annotation?: unknown } | null)?.annotation
  if (!root || typeof root !== 'object') {
    problem(null, 'no <annotation> element: not a Pascal VOC annotation')
    return result
  }
  const fields = root as { filename?: unknown; size?: unknown; object?: unknown[] }
  const fileName = textOf(fields.filename)
  if (fileName === undefined) problem(null, 'missing <filename>')

  let width: number | undefined
  let height: number | undefined
  const size = fields.size as { width?: unknown; height?: unknown } | undefined
  if (!size || typeof size !== 'object') problem(null, 'missing <size>')
  else {
    for (const name of ['width', 'height'] as const) {
      const text = textOf(size[name])
      const value = text !== undefined && /^\d+$/.test(text) ? Number(text) : Number.NaN
      if (!(value > 0))
        problem('<size>', `<${name}> must be a positive whole number, not ${text ?? 'missing'}`)
      else if (name === 'width') width = value
      else height = value
    }
  }

  const image: ImportedImage = { fileName: fileName ?? '', annotations: [] }
  if (width !== undefined) image.width = width
  if (height !== undefined) image.height = height
  for (const [k, raw] of (fields.object ?? []).entries()) {
    const where = `object[${k}]`
    const object = (raw ?? {}) as { name?: unknown; bndbox?: unknown }
    const name = textOf(object.name)
    if (name === undefined) {
      problem(where, 'missing <name>')
      continue
    }
    const bndbox = object.bndbox as Record<string, unknown> | undefined
    if (!bndbox || typeof bndbox !== 'object') {
      problem(where, 'missing <bndbox>')
      continue
    }
    const values: number[] = []
    for (const edge of ['xmin', 'ymin', 'xmax', 'ymax']) {
      const text = textOf(bndbox[edge])
      if (text === undefined) problem(where, `missing <${edge}>`)
      else if (!DECIMAL.test(text)) problem(where, `<${edge}> is not a number: ${text}`)
      else if (Number(text) < 0) problem(where, `<${edge}> is negative: ${text}`)
      else {
        values.push(Number(text))
        continue
      }
      break
    }
    if (values.length < 4) continue
    const [xmin, ymin, xmax, ymax] = values
    if (xmax < xmin || ymax < ymin) {
      problem(
        where,
        `inverted box: <xmax> ${xmax} before <xmin> ${xmin} or <ymax> ${ymax} before <ymin> ${ymin}`,
      )
      continue
    }
    let x = xmin - 1
    let y = ymin - 1
    if (x < 0 || y < 0) {
      result.converted[VOC_REASONS.zeroEdge] = (result.converted[VOC_REASONS.zeroEdge] ?? 0) + 1
      x = Math.max(0, x)
      y = Math.max(0, y)
    }
    image.annotations.push({
      kind: 'box',
      geometry: { x, y, width: xmax - x, height: ymax - y },
      className: name,
      source: `${source}: ${where}`,
    })
  }
  if (fileName !== undefined) result.image = image
  return result
}
