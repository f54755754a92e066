// GeoJSON as QuPath (0.4, 0.5) reads and writes it: one Feature per object, in QuPath's pixel
// coordinates (the same frame as ours: origin at the top-left corner of the top-left pixel, y
// down). Writer and reader, pure; the reader never throws on bad input, it names problems.
//
// Writing (one FeatureCollection per image, no options), reasons counted in the export report:
// - polygons → Polygon with its holes; skipped 'polygon of fewer than 3 distinct vertices',
//   converted 'hole of fewer than 3 distinct vertices dropped' (readers refuse such rings).
//   Rings are closed (first vertex repeated) and oriented by RFC 7946's right-hand rule applied
//   to the numbers as written (outer ring counterclockwise with y up, holes clockwise), which on
//   screen, y down, is the outer ring clockwise. QuPath and Shapely accept either direction.
// - masks → the exact pixel outline (maskToPolygons): one part a Polygon, several a
//   MultiPolygon; converted 'mask → polygon outline'. Where the outline touches itself at a
//   pixel corner it is split there (touching holes), so every ring is simple and the polygon
//   valid under OGC rules. Skipped 'empty mask'.
// - boxes → a rectangle Polygon, converted 'box → polygon rectangle'; skipped 'box without
//   area' (zero width or height).
// - points → Point (one) or MultiPoint (several), objectType 'annotation', as QuPath writes
//   point annotations; polylines → LineString.
// - the class as QuPath's classification {name, color: [r, g, b]}; annotations without a class
//   (UNCLASSIFIED) are written without one, as QuPath writes unclassified objects.
// - the feature id: the annotation id when it is a UUID, else a UUID-shaped hash of it (QuPath
//   replaces ids that are no UUID, so the same annotation keeps one id across exports).
//
// Reading: a FeatureCollection, one Feature or an array of features (QuPath writes all three).
// Polygon → polygon (closing vertex dropped, holes kept; an unclosed ring is accepted and counted
// 'ring not closed: closed'); MultiPolygon of several parts → one mask, the union of its parts
// rasterised ('MultiPolygon → mask (union of its parts)', or 'MultiPolygon too large for a mask →
// one polygon per part' past MAX_MASK_PIXELS); Point, MultiPoint → points; LineString →
// polyline; MultiLineString → 'MultiLineString → one polyline per line'. Every objectType is
// read as an annotation: detections, cells, tiles and TMA cores are counted `QuPath <type>
// imported as an annotation`, a cell's nucleus 'cell nucleus outline left out'. Also counted:
// 'z coordinate dropped', 'feature without geometry: left out'. Classification: a string, {name},
// {names} (joined 'A: B' as QuPath names derived classes) or QuPath 0.2's {name, colorRGB,
// parentClass}; colour as [r, g, b(, a)] or a packed int. Problems (they stop the import), named
// `<source>: features[i]`: not a feature, non-finite coordinates, a ring with fewer than 3
// distinct vertices, too few positions, an unknown geometry type, a MultiPolygon covering no
// pixel centre.
import { pixelWindowOf, ringsBounds } from '../geometry/bounds.ts'
import { cropMask, decodeMaskRle, encodeMaskRle } from '../geometry/mask.ts'
import { maskToPolygons } from '../geometry/maskToPolygons.ts'
import { orientPolygon, type Rings, signedArea } from '../geometry/polygon.ts'
import { rasterizePolygon } from '../geometry/rasterize.ts'
import type { Geometry } from '../schemas/annotation.ts'
import {
  type ClassTable,
  type ConversionReport,
  countConversion,
  type DatasetAnnotation,
  type DatasetImage,
  type ImportedAnnotation,
  type ImportedImage,
  type ImportProblem,
  UNCLASSIFIED,
} from './dataset.ts'

export type Position = [number, number]

export type GeoJsonGeometry =
  | { type: 'Polygon'; coordinates: Position[][] }
  | { type: 'MultiPolygon'; coordinates: Position[][][] }
  | { type: 'Point'; coordinates: Position }
  | { type: 'MultiPoint'; coordinates: Position[] }
  | { type: 'LineString'; coordinates: Position[] }

export interface GeoJsonFeature {
  type: 'Feature'
  id: string
  geometry: GeoJsonGeometry
  properties: {
    objectType: 'annotation'
    classification?: { name: string; color: [number, number, number] }
    isLocked: false
  }
}

export interface GeoJsonFeatureCollection {
  type: 'FeatureCollection'
  features: GeoJsonFeature[]
}

/** The reasons this module counts, as they appear in export manifests and import reports. */
export const GEOJSON_REASONS = {
  maskOutline: 'mask → polygon outline',
  emptyMask: 'empty mask',
  degeneratePolygon: 'polygon of fewer than 3 distinct vertices',
  degenerateHole: 'hole of fewer than 3 distinct vertices dropped',
  boxRectangle: 'box → polygon rectangle',
  boxWithoutArea: 'box without area',
  unclosedRing: 'ring not closed: closed',
  multiPolygonMask: 'MultiPolygon → mask (union of its parts)',
  multiPolygonParts: 'MultiPolygon too large for a mask → one polygon per part',
  multiLineString: 'MultiLineString → one polyline per line',
  zDropped: 'z coordinate dropped',
  noGeometry: 'feature without geometry: left out',
  nucleus: 'cell nucleus outline left out',
  objectType: (type: string) => `QuPath ${type} imported as an annotation`,
} as const

/** A MultiPolygon whose pixel window is larger than this is read as separate polygons. */
export const MAX_MASK_PIXELS = 1 << 26

// ---------------------------------------------------------------------------------- writing

/** Distinct vertices of a ring, counted up to 3 (what a ring needs to bound an area). */
function distinctVertices(ring: readonly number[]): number {
  const distinct = new Set<string>()
  for (let i = 0; i < ring.length && distinct.size < 3; i += 2) {
    distinct.add(`${ring[i]},${ring[i + 1]}`)
  }
  return distinct.size
}

const closedRing = (ring: readonly number[]): Position[] => {
  const out: Position[] = new Array(ring.length / 2 + 1)
  for (let i = 0; i < ring.length; i += 2) out[i / 2] = [ring[i], ring[i + 1]]
  out[ring.length / 2] = [ring[0], ring[1]]
  return out
}

const polygonCoordinates = (rings: Rings): Position[][] => orientPolygon(rings).map(closedRing)

/**
 * Splits a ring that passes through a vertex more than once into simple loops, one per visit:
 * a traced pixel outline touches itself where two background regions meet at a corner, which
 * OGC forbids within one ring but allows between rings.
 */
function simpleLoops(ring: readonly number[]): number[][] {
  const loops: number[][] = []
  const stack: number[] = []
  const seen = new Map<string, number>()
  for (let i = 0; i < ring.length; i += 2) {
    const key = `${ring[i]},${ring[i + 1]}`
    const at = seen.get(key)
    if (at === undefined) {
      seen.set(key, stack.length)
      stack.push(ring[i], ring[i + 1])
      continue
    }
    // Back at an earlier vertex: what was walked since is one closed loop.
    const loop = stack.splice(at)
    for (let k = 0; k < loop.length; k += 2) seen.delete(`${loop[k]},${loop[k + 1]}`)
    loops.push(loop)
    seen.set(key, stack.length)
    stack.push(ring[i], ring[i + 1])
  }
  loops.push(stack)
  return loops.filter((loop) => loop.length >= 6)
}

/** A traced outline as OGC-valid rings: the largest loop of the outer ring outside, the rest holes. */
function validOutline(rings: Rings): number[][] {
  const outer = simpleLoops(rings[0])
  let shell = 0
  for (let k = 1; k < outer.length; k++) {
    if (Math.abs(signedArea(outer[k])) > Math.abs(signedArea(outer[shell]))) shell = k
  }
  const holes = outer.filter((_, k) => k !== shell)
  for (let r = 1; r < rings.length; r++) holes.push(...simpleLoops(rings[r]))
  return [outer[shell], ...holes]
}

const colorTriple = (hex: string): [number, number, number] => {
  const v = Number.parseInt(hex.slice(1, 7), 16)
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255]
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The feature id QuPath keeps: the annotation id if it is a UUID, else a UUID-shaped 128-bit
 * hash of it (four FNV-1a lanes), marked version 8 (custom) and RFC 4122 variant.
 */
export function featureId(annotationId: string): string {
  if (UUID_PATTERN.test(annotationId)) return annotationId.toLowerCase()
  const lanes = [0x811c9dc5, 0x01000193, 0x9e3779b9, 0x85ebca6b]
  for (let i = 0; i < annotationId.length; i++) {
    const c = annotationId.charCodeAt(i)
    for (let k = 0; k < 4; k++) lanes[k] = Math.imul(lanes[k] ^ (c + k * 0x9f), 0x01000193)
  }
  const hex = lanes.map((v) => (v >>> 0).toString(16).padStart(8, '0')).join('')
  const variant = ((Number.parseInt(hex[16], 16) & 0x3) | 0x8).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

function featureGeometry(
  annotation: DatasetAnnotation,
  report: ConversionReport,
): GeoJsonGeometry | null {
  switch (annotation.kind) {
    case 'polygon': {
      const [outer, ...holes] = annotation.geometry.rings
      if (distinctVertices(outer) < 3) {
        countConversion(report, 'skipped', GEOJSON_REASONS.degeneratePolygon)
        return null
      }
      const kept = holes.filter((hole) => distinctVertices(hole) >= 3)
      if (kept.length < holes.length) {
        countConversion(
          report,
          'converted',
          GEOJSON_REASONS.degenerateHole,
          holes.length - kept.length,
        )
      }
      return { type: 'Polygon', coordinates: polygonCoordinates([outer, ...kept]) }
    }
    case 'box': {
      const { x, y, width, height } = annotation.geometry
      // Also a width too small to move x: the rectangle would collapse to a line.
      if (!(x + width > x && y + height > y)) {
        countConversion(report, 'skipped', GEOJSON_REASONS.boxWithoutArea)
        return null
      }
      countConversion(report, 'converted', GEOJSON_REASONS.boxRectangle)
      const ring = [x, y, x + width, y, x + width, y + height, x, y + height]
      return { type: 'Polygon', coordinates: polygonCoordinates([ring]) }
    }
    case 'mask': {
      const mask = decodeMaskRle(annotation.geometry)
      const parts = maskToPolygons(mask.data, mask.width, mask.height, {
        originX: mask.x,
        originY: mask.y,
      })
      if (parts.length === 0) {
        countConversion(report, 'skipped', GEOJSON_REASONS.emptyMask)
        return null
      }
      countConversion(report, 'converted', GEOJSON_REASONS.maskOutline)
      const polygons = parts.map((part) => polygonCoordinates(validOutline(part.rings)))
      return polygons.length === 1
        ? { type: 'Polygon', coordinates: polygons[0] }
        : { type: 'MultiPolygon', coordinates: polygons }
    }
    case 'points': {
      const { points } = annotation.geometry
      if (points.length === 2) return { type: 'Point', coordinates: [points[0], points[1]] }
      const coordinates: Position[] = []
      for (let i = 0; i < points.length; i += 2) coordinates.push([points[i], points[i + 1]])
      return { type: 'MultiPoint', coordinates }
    }
    case 'polyline': {
      const { points } = annotation.geometry
      const coordinates: Position[] = []
      for (let i = 0; i < points.length; i += 2) coordinates.push([points[i], points[i + 1]])
      return { type: 'LineString', coordinates }
    }
  }
}

/** One image's annotations as QuPath features; what could not be written as it is goes in `report`. */
export function geojsonFeatures(
  _image: DatasetImage,
  annotations: readonly DatasetAnnotation[],
  table: ClassTable,
  report: ConversionReport,
): GeoJsonFeature[] {
  const features: GeoJsonFeature[] = []
  for (const annotation of annotations) {
    const geometry = featureGeometry(annotation, report)
    if (!geometry) continue
    const cls = table.classOf(annotation.classId)
    features.push({
      type: 'Feature',
      id: featureId(annotation.id),
      geometry,
      properties: {
        objectType: 'annotation',
        ...(cls.id === UNCLASSIFIED.id
          ? {}
          : { classification: { name: cls.name, color: colorTriple(cls.color) } }),
        isLocked: false,
      },
    })
  }
  return features
}

export function geojsonFeatureCollection(
  image: DatasetImage,
  annotations: readonly DatasetAnnotation[],
  table: ClassTable,
  report: ConversionReport,
): GeoJsonFeatureCollection {
  return { type: 'FeatureCollection', features: geojsonFeatures(image, annotations, table, report) }
}

// ---------------------------------------------------------------------------------- reading

export interface GeojsonImport {
  image: ImportedImage
  /** The classifications found, in order of first use, with the first colour given. */
  classes: { name: string; color?: string }[]
  problems: ImportProblem[]
  converted: Record<string, number>
}

type JsonObject = Record<string, unknown>
const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Thrown inside one feature's reading and turned into a problem named after the feature. */
class FeatureProblem extends Error {}

const hexByte = (v: number) =>
  Math.max(0, Math.min(255, Math.round(v)))
    .toString(16)
    .padStart(2, '0')

function readColor(value: unknown): string | undefined {
  if (Array.isArray(value) && value.length >= 3 && value.slice(0, 3).every(Number.isFinite)) {
    return `#${value.slice(0, 3).map(hexByte).join('')}`
  }
  if (typeof value === 'number' && Number.isInteger(value)) {
    // QuPath packs colours as ARGB in a signed int.
    return `#${((value >>> 0) & 0xffffff).toString(16).padStart(6, '0')}`
  }
  return undefined
}

function readClassName(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value
  if (!isObject(value)) return null
  if (Array.isArray(value.names) && value.names.every((n) => typeof n === 'string')) {
    return value.names.length > 0 ? value.names.join(': ') : null
  }
  if (typeof value.name !== 'string' || value.name === '') return null
  // QuPath 0.2 wrote a derived class as its own name under its parent's.
  const parent = readClassName(value.parentClass)
  return parent ? `${parent}: ${value.name}` : value.name
}

interface ReadContext {
  converted: Record<string, number>
}

const count = (context: ReadContext, reason: string) => {
  context.converted[reason] = (context.converted[reason] ?? 0) + 1
}

function readPosition(value: unknown, context: ReadContext, out: number[]) {
  if (!Array.isArray(value) || value.length < 2) {
    throw new FeatureProblem('a position must be an array [x, y]')
  }
  const x = value[0]
  const y = value[1]
  if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x + y)) {
    throw new FeatureProblem('coordinates must be finite numbers')
  }
  if (value.length > 2) count(context, GEOJSON_REASONS.zDropped)
  out.push(x, y)
}

function readPositions(value: unknown, context: ReadContext, what: string): number[] {
  if (!Array.isArray(value)) throw new FeatureProblem(`${what} must be an array of positions`)
  const out: number[] = []
  for (const position of value) readPosition(position, context, out)
  return out
}

function readRing(value: unknown, context: ReadContext): number[] {
  const ring = readPositions(value, context, 'a ring')
  const n = ring.length
  if (n >= 4 && ring[0] === ring[n - 2] && ring[1] === ring[n - 1]) ring.length = n - 2
  else count(context, GEOJSON_REASONS.unclosedRing)
  if (distinctVertices(ring) < 3)
    throw new FeatureProblem('a ring needs at least 3 distinct vertices')
  return ring
}

function readPolygonRings(value: unknown, context: ReadContext): number[][] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new FeatureProblem('a Polygon needs at least one ring')
  }
  return value.map((ring) => readRing(ring, context))
}

/** The union of a MultiPolygon's parts as one mask; null when its window is too large. */
function unionMask(parts: number[][][]): Geometry | null {
  const bounds = ringsBounds(parts.map((rings) => rings[0]))
  const window = pixelWindowOf(bounds)
  if (window.width * window.height > MAX_MASK_PIXELS) return null
  if (window.width === 0 || window.height === 0) {
    throw new FeatureProblem('the MultiPolygon covers no pixel centre')
  }
  const data = new Uint8Array(window.width * window.height)
  for (const rings of parts) {
    const part = rasterizePolygon(rings, window.width, window.height, window)
    for (let i = 0; i < data.length; i++) data[i] |= part[i]
  }
  const cropped = cropMask({ ...window, data })
  if (!cropped) throw new FeatureProblem('the MultiPolygon covers no pixel centre')
  return { kind: 'mask', geometry: encodeMaskRle(cropped) }
}

/** The annotation geometries one GeoJSON geometry becomes. */
function readGeometry(value: JsonObject, context: ReadContext): Geometry[] {
  const coordinates = value.coordinates
  switch (value.type) {
    case 'Polygon':
      return [{ kind: 'polygon', geometry: { rings: readPolygonRings(coordinates, context) } }]
    case 'MultiPolygon': {
      if (!Array.isArray(coordinates) || coordinates.length === 0) {
        throw new FeatureProblem('a MultiPolygon needs at least one polygon')
      }
      const parts = coordinates.map((polygon) => readPolygonRings(polygon, context))
      if (parts.length === 1) return [{ kind: 'polygon', geometry: { rings: parts[0] } }]
      const mask = unionMask(parts)
      if (mask) {
        count(context, GEOJSON_REASONS.multiPolygonMask)
        return [mask]
      }
      count(context, GEOJSON_REASONS.multiPolygonParts)
      return parts.map((rings) => ({ kind: 'polygon', geometry: { rings } }))
    }
    case 'Point': {
      const points: number[] = []
      readPosition(coordinates, context, points)
      return [{ kind: 'points', geometry: { points } }]
    }
    case 'MultiPoint': {
      const points = readPositions(coordinates, context, 'a MultiPoint')
      if (points.length === 0) throw new FeatureProblem('a MultiPoint needs at least one point')
      return [{ kind: 'points', geometry: { points } }]
    }
    case 'LineString': {
      const points = readPositions(coordinates, context, 'a LineString')
      if (points.length < 4) throw new FeatureProblem('a LineString needs at least 2 positions')
      return [{ kind: 'polyline', geometry: { points } }]
    }
    case 'MultiLineString': {
      if (!Array.isArray(coordinates) || coordinates.length === 0) {
        throw new FeatureProblem('a MultiLineString needs at least one line')
      }
      const lines = coordinates.map((line) => readPositions(line, context, 'a line'))
      if (lines.some((points) => points.length < 4)) {
        throw new FeatureProblem('each line of a MultiLineString needs at least 2 positions')
      }
      if (lines.length > 1) count(context, GEOJSON_REASONS.multiLineString)
      return lines.map((points) => ({ kind: 'polyline', geometry: { points } }))
    }
    default:
      throw new FeatureProblem(
        `geometry type ${JSON.stringify(value.type)} is not supported (Polygon, MultiPolygon, Point, MultiPoint, LineString, MultiLineString are)`,
      )
  }
}

/** The features of what QuPath writes: a FeatureCollection, a Feature, or an array of them. */
function featureList(json: unknown): unknown[] | null {
  if (Array.isArray(json)) return json
  if (isObject(json) && json.type === 'FeatureCollection' && Array.isArray(json.features)) {
    return json.features
  }
  if (isObject(json) && json.type === 'Feature') return [json]
  return null
}

/** Reads one image's GeoJSON (QuPath's export for that image) into what the import matches. */
export function readGeojson(json: unknown, source: string, fileName: string): GeojsonImport {
  const image: ImportedImage = { fileName, annotations: [] }
  const result: GeojsonImport = { image, classes: [], problems: [], converted: {} }
  const features = featureList(json)
  if (!features) {
    result.problems.push({
      source,
      message: 'not GeoJSON features: expected a FeatureCollection, a Feature or an array of them',
    })
    return result
  }
  const classColors = new Map<string, string | undefined>()
  features.forEach((feature, index) => {
    const where = `${source}: features[${index}]`
    const context: ReadContext = { converted: {} }
    try {
      if (!isObject(feature) || feature.type !== 'Feature') {
        throw new FeatureProblem('not a GeoJSON Feature')
      }
      if (feature.geometry === null || feature.geometry === undefined) {
        count(context, GEOJSON_REASONS.noGeometry)
      } else {
        if (!isObject(feature.geometry)) throw new FeatureProblem('geometry must be an object')
        const geometries = readGeometry(feature.geometry, context)
        const properties = isObject(feature.properties) ? feature.properties : {}
        const objectType =
          properties.objectType ?? properties.object_type ?? properties.type ?? 'annotation'
        if (typeof objectType === 'string' && objectType !== 'annotation') {
          count(context, GEOJSON_REASONS.objectType(objectType))
        }
        if (feature.nucleusGeometry) count(context, GEOJSON_REASONS.nucleus)
        const className = readClassName(properties.classification)
        if (className !== null) {
          const classification = properties.classification
          const color = isObject(classification)
            ? readColor(classification.color ?? classification.colorRGB)
            : undefined
          if (!classColors.has(className) || (classColors.get(className) === undefined && color)) {
            classColors.set(className, color)
          }
        }
        for (const geometry of geometries) {
          const annotation: ImportedAnnotation = { ...geometry, className, source: where }
          image.annotations.push(annotation)
        }
      }
      for (const [reason, n] of Object.entries(context.converted)) {
        result.converted[reason] = (result.converted[reason] ?? 0) + n
      }
    } catch (error) {
      if (!(error instanceof FeatureProblem)) throw error
      result.problems.push({ source: where, message: error.message })
    }
  })
  for (const [name, color] of classColors) {
    result.classes.push(color === undefined ? { name } : { name, color })
  }
  return result
}
