// Readers no one here wrote open what the label-image and GeoJSON exports write: Pillow and
// tifffile read the 16-bit PNG and TIFF label images value for value, Shapely (GEOS) checks that
// every GeoJSON polygon is valid under OGC rules with the area and holes we meant.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { imageSample } from '../../shared/formats/arbitraryDataset.ts'
import {
  ClassTable,
  type DatasetImage,
  emptyReport,
  UNCLASSIFIED,
} from '../../shared/formats/dataset.ts'
import { geojsonFeatureCollection } from '../../shared/formats/geojson.ts'
import { labelImagesFor, labelMapJson } from '../../shared/formats/labelMask.ts'
import { encodeMaskRle } from '../../shared/geometry/mask.ts'
import { polygonArea } from '../../shared/geometry/polygon.ts'
import { rasterizeGeometry } from '../../shared/geometry/rasterize.ts'
import type { AnnotationRecord, Geometry } from '../../shared/schemas/annotation.ts'
import { labelBytes } from '../../shared/training/instanceLabels.ts'
import { encodeLabelPng, encodeLabelTiff } from '../src/export/labelImageFiles.ts'

const PYTHON = '/usr/bin/python3'
const SCRIPTS = path.join(import.meta.dirname, 'outsideReaders')
/** Shapely's area against ours: both sum the same products, in other orders. */
const AREA_TOLERANCE = 1e-9

const table = new ClassTable([
  { id: 1, name: 'cell', color: '#ff0000' },
  { id: 2, name: 'nucleus', color: '#00ff00' },
])

let createdAt = 0
const annotation = (id: string, geometry: Geometry, classId: number | null): AnnotationRecord =>
  ({
    id,
    ...geometry,
    classId,
    author: 1,
    updatedBy: 1,
    createdAt: ++createdAt,
    updatedAt: createdAt,
    origin: { type: 'human' },
    review: 'accepted',
    attributes: {},
  }) as AnnotationRecord

const polygon = (...rings: number[][]): Geometry => ({ kind: 'polygon', geometry: { rings } })

/**
 * A ring of pixels broken at one corner (its outline touches itself there) beside a 2 × 2
 * block: a MultiPolygon of two parts, one with a hole that touches its shell at a point.
 */
const pinchedMask = Uint8Array.from([
  1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0,
])

const image: DatasetImage = { id: 1, fileName: 'scene.png', stem: 'scene', width: 40, height: 32 }
/** The scene, and per object what Shapely must find (null: no polygon to check). */
const scene: [AnnotationRecord, { type: string; area: number; holes: number } | null][] = [
  [
    annotation(
      'holed',
      polygon(
        [2.25, 2.5, 14.75, 2, 15, 14.5, 2, 14],
        [4, 4, 7, 4, 7, 7, 4, 7],
        [9.5, 9, 12, 9, 12, 12, 9.5, 12],
      ),
      1,
    ),
    { type: 'Polygon', area: 0, holes: 2 },
  ],
  [
    annotation('left', polygon([16, 2, 22, 2, 22, 10, 16, 10]), 2),
    { type: 'Polygon', area: 48, holes: 0 },
  ],
  [
    annotation('right', polygon([22, 2, 28.5, 2, 28.5, 10, 22, 10]), 1),
    { type: 'Polygon', area: 52, holes: 0 },
  ],
  [
    annotation(
      'pinched',
      {
        kind: 'mask',
        geometry: encodeMaskRle({ x: 18, y: 14, width: 6, height: 4, data: pinchedMask }),
      },
      2,
    ),
    { type: 'MultiPolygon', area: 11, holes: 1 },
  ],
  [
    annotation('border', polygon([33, 20, 45, 20, 45, 40, 33, 40]), 1),
    { type: 'Polygon', area: 240, holes: 0 },
  ],
  [
    annotation('unclassified', polygon([3, 20, 12.5, 28, 3, 28]), null),
    { type: 'Polygon', area: 0, holes: 0 },
  ],
  [
    annotation('overlap', polygon([12, 12, 17, 12, 17, 17, 12, 17]), 2),
    { type: 'Polygon', area: 25, holes: 0 },
  ],
  [
    annotation('box', { kind: 'box', geometry: { x: 25, y: 24, width: 5, height: 3 } }, 1),
    { type: 'Polygon', area: 15, holes: 0 },
  ],
  [annotation('point', { kind: 'points', geometry: { points: [1, 1] } }, 2), null],
  [annotation('points', { kind: 'points', geometry: { points: [1, 1, 2, 3] } }, 2), null],
  [annotation('line', { kind: 'polyline', geometry: { points: [0, 30, 39, 30] } }, null), null],
]
for (const [record, expected] of scene) {
  if (expected && expected.area === 0 && record.kind === 'polygon') {
    expected.area = polygonArea(record.geometry.rings)
  }
}

/**
 * The label images as the test computes them, apart from the writer: polygons and masks
 * painted in creation order, survivors numbered 1..N in that order, their class values.
 */
function expectedLabels({ width, height }: DatasetImage, annotations: readonly AnnotationRecord[]) {
  const order = annotations
    .map((_, k) => k)
    .filter((k) => ['polygon', 'mask'].includes(annotations[k].kind))
    .sort((i, j) => {
      const a = annotations[i]
      const b = annotations[j]
      return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    })
  const painter = new Int32Array(width * height).fill(-1)
  for (const k of order) {
    const mask = rasterizeGeometry(annotations[k], width, height)!
    for (let i = 0; i < mask.length; i++) if (mask[i]) painter[i] = k
  }
  const alive = new Set(painter)
  const rank = new Map(order.filter((k) => alive.has(k)).map((k, r) => [k, r + 1]))
  const instances = Uint16Array.from(painter, (k) => (k < 0 ? 0 : rank.get(k)!))
  const classes = Uint16Array.from(painter, (k) =>
    k < 0 ? 0 : table.indexOf(annotations[k].classId) + 1,
  )
  return { instances, classes }
}

interface LabelResult {
  reader: string
  path: string
  dtype: string
  shape: number[]
  equal: boolean
  mismatches: number
  mode?: string
  bitDepth?: number
  colourType?: number
  bitsPerSample?: number
  samplesPerPixel?: number
  pages?: number
  max: number
}

interface FeatureResult {
  id: string
  type: string
  valid: boolean
  why: string
  area: number
  parts: number
  holes: number
  exteriorsCcw: boolean[]
  holesCcw: boolean[]
  closed: boolean
  points: number
  objectType: string
  className: string | null
  color: number[] | null
}

let dir: string
let labels: { versions: Record<string, string>; files: LabelResult[]; classImages: any[] }
let geojson: {
  versions: Record<string, string>
  files: { path: string; type: string; features: FeatureResult[] }[]
}
/** Random images of masks and boxes (what the writer must always make valid), seeded. */
const randomImages = fc.sample(imageSample({ kinds: ['mask', 'box'], maxObjects: 8 }), {
  seed: 7,
  numRuns: 25,
})

const runPython = (script: string, args: string[]) =>
  JSON.parse(
    execFileSync(PYTHON, [path.join(SCRIPTS, script), ...args], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    }),
  )

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-outside-readers-'))
  const labelFiles: { path: string; expected: string; width: number; height: number }[] = []
  const classImages: string[] = []
  const geojsonFiles: string[] = []
  const samples = [
    { image, annotations: scene.map(([record]) => record) },
    ...randomImages.map((sample, k) => ({
      image: { ...sample.image, id: k + 2, stem: `random-${k}` },
      annotations: sample.annotations,
    })),
  ]
  for (const sample of samples) {
    const { width, height, stem } = sample.image
    const written = labelImagesFor(sample.image, sample.annotations, table, emptyReport())
    const expected = expectedLabels(sample.image, sample.annotations)
    // The writer agrees with the test's own painting before any file is written.
    expect(Array.from(written.instances)).toEqual(Array.from(expected.instances))
    expect(Array.from(written.classes)).toEqual(Array.from(expected.classes))
    const file = (name: string, data: string | Uint8Array) => {
      const at = path.join(dir, name)
      fs.writeFileSync(at, data)
      return at
    }
    const instancesRaw = file(`${stem}.instances.u16`, labelBytes(expected.instances))
    const classesRaw = file(`${stem}.classes.u16`, labelBytes(expected.classes))
    const entry = (at: string, raw: string) =>
      labelFiles.push({ path: at, expected: raw, width, height })
    entry(file(`${stem}.png`, await encodeLabelPng(written.instances, width, height)), instancesRaw)
    entry(
      file(`${stem}.tif`, await encodeLabelTiff(written.instances, width, height)),
      instancesRaw,
    )
    const classPng = file(
      `${stem}.classes.png`,
      await encodeLabelPng(written.classes, width, height),
    )
    entry(classPng, classesRaw)
    classImages.push(classPng)
    const collection = geojsonFeatureCollection(
      sample.image,
      sample.annotations,
      table,
      emptyReport(),
    )
    geojsonFiles.push(file(`${stem}.geojson`, JSON.stringify(collection)))
  }
  const labelMap = path.join(dir, 'labelmap.json')
  fs.writeFileSync(labelMap, labelMapJson(table))
  const manifest = path.join(dir, 'manifest.json')
  fs.writeFileSync(manifest, JSON.stringify({ files: labelFiles, labelMap, classImages }))
  labels = runPython('check_labels.py', [manifest])
  geojson = runPython('check_geojson.py', geojsonFiles)
})

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

describe('label images under Pillow and tifffile', () => {
  it('hold exactly the expected uint16 values, in every file and reader', () => {
    expect(labels.versions.pillow).toBeTruthy()
    // Per image: instance PNG (Pillow), TIFF (Pillow, tifffile), class PNG (Pillow).
    expect(labels.files.length).toBe(4 * (1 + randomImages.length))
    for (const result of labels.files) {
      expect({ path: result.path, reader: result.reader, equal: result.equal }).toEqual({
        path: result.path,
        reader: result.reader,
        equal: true,
      })
    }
    const scenePng = labels.files.find((r) => r.path.endsWith('/scene.png'))!
    expect(scenePng.shape).toEqual([image.height, image.width])
    expect(scenePng.max).toBe(7) // seven polygons and masks, none hidden
  })

  it('are 16-bit greyscale: PNG colour type 0 at 16 bits, TIFF uint16 of one sample', () => {
    for (const result of labels.files) {
      if (result.path.endsWith('.png')) {
        expect(result).toMatchObject({ bitDepth: 16, colourType: 0 })
        // Pillow 9 widens 16-bit PNG to 'I' (int32), later versions keep 'I;16'.
        expect(['I', 'I;16', 'I;16B']).toContain(result.mode)
      } else if (result.reader === 'tifffile') {
        expect(result).toMatchObject({
          dtype: 'uint16',
          bitsPerSample: 16,
          samplesPerPixel: 1,
          pages: 1,
        })
      } else {
        expect(result).toMatchObject({ dtype: 'uint16', mode: 'I;16' })
      }
    }
  })

  it('class images hold only values the label map names', () => {
    for (const classImage of labels.classImages) expect(classImage.unnamed).toEqual([])
    const scene = labels.classImages.find((c) => c.path.endsWith('/scene.classes.png'))
    expect(scene.values).toEqual([0, 1, 2, table.classes.length])
  })
})

describe('GeoJSON under Shapely', () => {
  it('every polygon is valid, closed, with the area and holes we meant', () => {
    const [sceneFile] = geojson.files
    expect(sceneFile.type).toBe('FeatureCollection')
    const features = sceneFile.features
    expect(features.length).toBe(scene.length)
    scene.forEach(([record, expected], k) => {
      const feature = features[k]
      const cls = table.classOf(record.classId)
      expect(feature.className).toBe(cls.id === UNCLASSIFIED.id ? null : cls.name)
      expect(feature.objectType).toBe('annotation')
      if (!expected) return
      expect({ id: record.id, valid: feature.valid, why: feature.why }).toEqual({
        id: record.id,
        valid: true,
        why: 'Valid Geometry',
      })
      expect(feature.type).toBe(expected.type)
      expect(feature.holes).toBe(expected.holes)
      expect(feature.closed).toBe(true)
      expect(Math.abs(feature.area - expected.area)).toBeLessThanOrEqual(
        AREA_TOLERANCE * expected.area,
      )
    })
    expect(features.map((f) => f.type).slice(-3)).toEqual(['Point', 'MultiPoint', 'LineString'])
    expect(features.find((f) => f.type === 'MultiPoint')?.points).toBe(2)
  })

  it('orients rings by RFC 7946: exteriors counterclockwise, holes clockwise', () => {
    for (const file of geojson.files) {
      for (const feature of file.features) {
        expect(feature.exteriorsCcw.every(Boolean)).toBe(true)
        expect(feature.holesCcw.some(Boolean)).toBe(false)
      }
    }
  })

  it('mask outlines and boxes of random images are valid and keep their pixel area', () => {
    randomImages.forEach((sample, k) => {
      const file = geojson.files[k + 1]
      // What the writer writes, with the area it must have: our polygonArea of the box's
      // rectangle, a mask's pixel count.
      const areas: number[] = []
      for (const a of sample.annotations) {
        if (a.kind === 'box') {
          const { x, y, width, height } = a.geometry
          if (x + width > x && y + height > y)
            areas.push(polygonArea([[x, y, x + width, y, x + width, y + height, x, y + height]]))
        } else if (a.kind === 'mask') {
          const pixels = a.geometry.counts.reduce((sum, n, i) => sum + (i % 2 ? n : 0), 0)
          if (pixels > 0) areas.push(pixels)
        }
      }
      expect(file.features.length).toBe(areas.length)
      file.features.forEach((feature, i) => {
        expect({ valid: feature.valid, why: feature.why }).toEqual({
          valid: true,
          why: 'Valid Geometry',
        })
        expect(Math.abs(feature.area - areas[i])).toBeLessThanOrEqual(AREA_TOLERANCE * areas[i])
      })
    })
  })
})
