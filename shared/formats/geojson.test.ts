import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { geometryBounds, pixelWindowOf, unionBounds } from '../geometry/bounds.ts'
import { decodeMaskRle, encodeMaskRle } from '../geometry/mask.ts'
import { orientPolygon, signedArea } from '../geometry/polygon.ts'
import { rasterizeGeometry } from '../geometry/rasterize.ts'
import type { AnnotationRecord, Geometry } from '../schemas/annotation.ts'
import { imageSample, record, testTable } from './arbitraryDataset.ts'
import { type DatasetImage, emptyReport, type ImportedAnnotation, UNCLASSIFIED } from './dataset.ts'
import {
  featureId,
  GEOJSON_REASONS,
  type GeoJsonFeature,
  geojsonFeatureCollection,
  geojsonFeatures,
  readGeojson,
} from './geojson.ts'

const image: DatasetImage = { id: 1, fileName: 'a.png', stem: 'a', width: 20, height: 20 }

/** Both geometries rasterised over one window that holds them both. */
function samePixels(a: Geometry, b: Geometry) {
  const window = pixelWindowOf(unionBounds(geometryBounds(a), geometryBounds(b)))
  const pa = rasterizeGeometry(a, window.width, window.height, window)
  const pb = rasterizeGeometry(b, window.width, window.height, window)
  expect(pb && Array.from(pb)).toEqual(pa && Array.from(pa))
}

const distinct = (ring: readonly number[]) => {
  const keys = new Set<string>()
  for (let i = 0; i < ring.length; i += 2) keys.add(`${ring[i]},${ring[i + 1]}`)
  return keys.size
}

const roundTrip = (annotations: AnnotationRecord[]) => {
  const report = emptyReport()
  const collection = geojsonFeatureCollection(image, annotations, testTable(), report)
  const read = readGeojson(JSON.parse(JSON.stringify(collection)), 'a.geojson', 'a.png')
  return { collection, report, read }
}

describe('geojson round trip', () => {
  it('gives back every object: polygon vertices exactly, other areas pixel for pixel', () => {
    fc.assert(
      fc.property(imageSample({ maxObjects: 6 }), ({ image: sampleImage, annotations }) => {
        const table = testTable()
        const report = emptyReport()
        const features = geojsonFeatures(sampleImage, annotations, table, report)
        const json = JSON.parse(JSON.stringify({ type: 'FeatureCollection', features }))
        const read = readGeojson(json, 'x.geojson', sampleImage.fileName)
        expect(read.problems).toEqual([])
        expect(read.image.fileName).toBe(sampleImage.fileName)
        // What the writer left out, it counted.
        const written: AnnotationRecord[] = []
        let skipped = 0
        let droppedHoles = 0
        for (const a of annotations) {
          const degenerate =
            (a.kind === 'polygon' && distinct(a.geometry.rings[0]) < 3) ||
            (a.kind === 'box' &&
              !(
                a.geometry.x + a.geometry.width > a.geometry.x &&
                a.geometry.y + a.geometry.height > a.geometry.y
              )) ||
            (a.kind === 'mask' && !a.geometry.counts.some((n, k) => k % 2 === 1 && n > 0))
          if (degenerate) skipped++
          else written.push(a)
          if (a.kind === 'polygon' && !degenerate)
            droppedHoles += a.geometry.rings.slice(1).filter((r) => distinct(r) < 3).length
        }
        const skippedCount = Object.values(report.skipped).reduce((s, n) => s + n, 0)
        expect(skippedCount).toBe(skipped)
        expect(report.converted[GEOJSON_REASONS.degenerateHole] ?? 0).toBe(droppedHoles)
        expect(features.length).toBe(written.length)
        expect(read.image.annotations.length).toBe(written.length)
        written.forEach((original, k) => {
          const imported = read.image.annotations[k]
          const cls = table.classOf(original.classId)
          expect(imported.className).toBe(cls.id === UNCLASSIFIED.id ? null : cls.name)
          expect(imported.source).toBe(`x.geojson: features[${k}]`)
          checkGeometry(original, imported)
        })
        const names = [...new Set(read.image.annotations.map((a) => a.className))].filter(
          (n) => n !== null,
        )
        expect(read.classes.map((c) => c.name)).toEqual(names)
        for (const c of read.classes) {
          expect(c.color).toBe(table.classes.find((t) => t.name === c.name)?.color)
        }
      }),
    )
  })

  function checkGeometry(original: AnnotationRecord, imported: ImportedAnnotation) {
    switch (original.kind) {
      case 'polygon': {
        const rings = original.geometry.rings.filter((r, k) => k === 0 || distinct(r) >= 3)
        expect(imported.kind).toBe('polygon')
        expect(imported.geometry).toEqual({ rings: orientPolygon(rings) })
        return
      }
      case 'box':
        expect(imported.kind).toBe('polygon')
        samePixels(original, imported as Geometry)
        return
      case 'mask':
        expect(['polygon', 'mask']).toContain(imported.kind)
        samePixels(original, imported as Geometry)
        return
      case 'points':
      case 'polyline':
        expect(imported.kind).toBe(original.kind)
        expect(imported.geometry).toEqual(original.geometry)
    }
  }

  it('closes rings and orients them by the right-hand rule of the numbers', () => {
    const rings = [
      [0, 0, 0, 10, 10, 10, 10, 0], // anticlockwise on screen
      [2, 2, 4, 2, 4, 4, 2, 4], // clockwise on screen
    ]
    const { collection } = roundTrip([record({ kind: 'polygon', geometry: { rings } })])
    const geometry = collection.features[0].geometry
    if (geometry.type !== 'Polygon') throw new Error(geometry.type)
    const [outer, hole] = geometry.coordinates
    expect(outer[0]).toEqual(outer[outer.length - 1])
    expect(hole[0]).toEqual(hole[hole.length - 1])
    // Shoelace of the numbers: positive is counterclockwise with y up (RFC 7946 exterior).
    expect(signedArea(outer.slice(0, -1).flat())).toBeGreaterThan(0)
    expect(signedArea(hole.slice(0, -1).flat())).toBeLessThan(0)
  })

  it('writes masks as outlines: one part a Polygon, several a MultiPolygon, back as a mask', () => {
    const two = new Uint8Array([1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1])
    const mask = (x: number, y: number, data: Uint8Array, width: number): Geometry => ({
      kind: 'mask',
      geometry: encodeMaskRle({ x, y, width, height: data.length / width, data }),
    })
    const one = mask(3, 4, new Uint8Array([1, 1, 1, 1]), 2)
    const several = mask(0, 15, two, 5)
    const { collection, report, read } = roundTrip([
      record(one, { id: 'm1' }),
      record(several, { id: 'm2' }),
    ])
    expect(collection.features.map((f) => f.geometry.type)).toEqual(['Polygon', 'MultiPolygon'])
    expect(report.converted[GEOJSON_REASONS.maskOutline]).toBe(2)
    expect(read.converted[GEOJSON_REASONS.multiPolygonMask]).toBe(1)
    expect(read.image.annotations.map((a) => a.kind)).toEqual(['polygon', 'mask'])
    samePixels(one, read.image.annotations[0] as Geometry)
    samePixels(several, read.image.annotations[1] as Geometry)
  })

  it('splits outlines that touch themselves at a corner into simple rings', () => {
    // A ring of pixels broken at a corner (outer outline touches itself), and a hole of two
    // diagonal pixels (the hole's outline touches itself).
    const pinchedOuter = new Uint8Array([1, 1, 1, 1, 0, 1, 1, 1, 0])
    const pinchedHole = new Uint8Array([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1])
    for (const [data, width, holes] of [
      [pinchedOuter, 3, 1],
      [pinchedHole, 4, 2],
    ] as const) {
      const geometry: Geometry = {
        kind: 'mask',
        geometry: encodeMaskRle({ x: 1, y: 1, width, height: data.length / width, data }),
      }
      const { collection, read } = roundTrip([record(geometry)])
      const polygon = collection.features[0].geometry
      if (polygon.type !== 'Polygon') throw new Error(polygon.type)
      expect(polygon.coordinates.length).toBe(1 + holes)
      for (const ring of polygon.coordinates) {
        const open = ring.slice(0, -1).map((p) => p.join(','))
        expect(new Set(open).size).toBe(open.length)
      }
      samePixels(geometry, read.image.annotations[0] as Geometry)
    }
  })

  it('writes points as Point or MultiPoint, polylines as LineString, boxes as rectangles', () => {
    const { collection, report, read } = roundTrip([
      record({ kind: 'points', geometry: { points: [1, 2] } }),
      record({ kind: 'points', geometry: { points: [1, 2, 3, 4] } }),
      record({ kind: 'polyline', geometry: { points: [1, 2, 3, 4, 5, 1] } }),
      record({ kind: 'box', geometry: { x: 1, y: 2, width: 3, height: 4 } }),
      record({ kind: 'box', geometry: { x: 1, y: 2, width: 0, height: 4 } }),
    ])
    expect(collection.features.map((f) => f.geometry)).toEqual([
      { type: 'Point', coordinates: [1, 2] },
      {
        type: 'MultiPoint',
        coordinates: [
          [1, 2],
          [3, 4],
        ],
      },
      {
        type: 'LineString',
        coordinates: [
          [1, 2],
          [3, 4],
          [5, 1],
        ],
      },
      {
        type: 'Polygon',
        coordinates: [
          [
            [1, 2],
            [4, 2],
            [4, 6],
            [1, 6],
            [1, 2],
          ],
        ],
      },
    ])
    expect(report).toEqual({
      converted: { [GEOJSON_REASONS.boxRectangle]: 1 },
      skipped: { [GEOJSON_REASONS.boxWithoutArea]: 1 },
    })
    expect(read.image.annotations.map((a) => a.kind)).toEqual([
      'points',
      'points',
      'polyline',
      'polygon',
    ])
  })

  it('writes QuPath properties: objectType, classification with colour, none when unclassified', () => {
    const { collection } = roundTrip([
      record({ kind: 'points', geometry: { points: [1, 2] } }, { id: 'p', classId: 3 }),
      record({ kind: 'points', geometry: { points: [1, 2] } }, { id: 'q', classId: null }),
    ])
    const [classified, unclassified] = collection.features
    expect(classified.properties).toEqual({
      objectType: 'annotation',
      classification: { name: 'nucleus', color: [255, 0, 0] },
      isLocked: false,
    })
    expect(unclassified.properties).toEqual({ objectType: 'annotation', isLocked: false })
  })
})

describe('featureId', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
  it('keeps a UUID and hashes anything else to one, the same each time', () => {
    expect(featureId('0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe(
      '0f8fad5b-d9cb-469f-a165-70867728950e',
    )
    expect(featureId('k3j4h5g6f7d8s9a0')).toMatch(UUID)
    expect(featureId('k3j4h5g6f7d8s9a0')).toBe(featureId('k3j4h5g6f7d8s9a0'))
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
        expect(featureId(a)).toMatch(UUID)
        if (a !== b) expect(featureId(a)).not.toBe(featureId(b))
      }),
    )
  })
})

describe('readGeojson', () => {
  const square = [
    [0, 0],
    [4, 0],
    [4, 4],
    [0, 4],
    [0, 0],
  ]
  const feature = (geometry: unknown, properties: unknown = {}): Record<string, unknown> => ({
    type: 'Feature',
    id: '0f8fad5b-d9cb-469f-a165-70867728950e',
    geometry,
    properties,
  })
  const polygon = { type: 'Polygon', coordinates: [square] }

  it('reads a FeatureCollection, a single Feature and a bare array alike', () => {
    const f = feature(polygon, { objectType: 'annotation', classification: { name: 'Tumor' } })
    for (const json of [{ type: 'FeatureCollection', features: [f] }, f, [f]]) {
      const read = readGeojson(json, 's', 'img.tif')
      expect(read.problems).toEqual([])
      expect(read.image.annotations).toEqual([
        {
          kind: 'polygon',
          geometry: { rings: [[0, 0, 4, 0, 4, 4, 0, 4]] },
          className: 'Tumor',
          source: 's: features[0]',
        },
      ])
      expect(read.classes).toEqual([{ name: 'Tumor' }])
    }
    expect(readGeojson({ type: 'Polygon' }, 's', 'x').problems).toEqual([
      {
        source: 's',
        message:
          'not GeoJSON features: expected a FeatureCollection, a Feature or an array of them',
      },
    ])
  })

  it('reads every form of QuPath classification and colour', () => {
    const read = readGeojson(
      [
        feature(polygon, { classification: { name: 'Tumor', color: [200, 0, 16] } }),
        feature(polygon, { classification: { names: ['Tumor', 'Positive'], color: [1, 2, 3] } }),
        feature(polygon, { classification: { name: 'Stroma', colorRGB: -16744448 } }),
        feature(polygon, {
          classification: {
            name: 'Negative',
            colorRGB: -16776961,
            parentClass: { name: 'Immune cells', colorRGB: -1 },
          },
        }),
        feature(polygon, { classification: 'Necrosis' }),
        feature(polygon, { classification: { name: 'Other', color: 0x336699 } }),
        feature(polygon, { classification: {} }),
        feature(polygon),
      ],
      's',
      'x',
    )
    expect(read.problems).toEqual([])
    expect(read.image.annotations.map((a) => a.className)).toEqual([
      'Tumor',
      'Tumor: Positive',
      'Stroma',
      'Immune cells: Negative',
      'Necrosis',
      'Other',
      null,
      null,
    ])
    expect(read.classes).toEqual([
      { name: 'Tumor', color: '#c80010' },
      { name: 'Tumor: Positive', color: '#010203' },
      { name: 'Stroma', color: '#008000' },
      { name: 'Immune cells: Negative', color: '#0000ff' },
      { name: 'Necrosis' },
      { name: 'Other', color: '#336699' },
    ])
  })

  it('imports detections and cells as annotations and counts it', () => {
    const read = readGeojson(
      [
        feature(polygon, { objectType: 'detection' }),
        { ...feature(polygon, { objectType: 'cell' }), nucleusGeometry: polygon },
        feature(polygon, { object_type: 'tile' }),
      ],
      's',
      'x',
    )
    expect(read.image.annotations.length).toBe(3)
    expect(read.converted).toEqual({
      [GEOJSON_REASONS.objectType('detection')]: 1,
      [GEOJSON_REASONS.objectType('cell')]: 1,
      [GEOJSON_REASONS.objectType('tile')]: 1,
      [GEOJSON_REASONS.nucleus]: 1,
    })
  })

  it('accepts unclosed rings, z coordinates and features without geometry, counting each', () => {
    const read = readGeojson(
      [
        feature({ type: 'Polygon', coordinates: [square.slice(0, 4)] }),
        feature({
          type: 'LineString',
          coordinates: [
            [0, 0, 5],
            [1, 1, 5],
          ],
        }),
        feature(null),
        feature({
          type: 'MultiLineString',
          coordinates: [
            [
              [0, 0],
              [1, 1],
            ],
            [
              [2, 2],
              [3, 3],
            ],
          ],
        }),
      ],
      's',
      'x',
    )
    expect(read.problems).toEqual([])
    expect(read.image.annotations.map((a) => a.geometry)).toEqual([
      { rings: [[0, 0, 4, 0, 4, 4, 0, 4]] },
      { points: [0, 0, 1, 1] },
      { points: [0, 0, 1, 1] },
      { points: [2, 2, 3, 3] },
    ])
    expect(read.converted).toEqual({
      [GEOJSON_REASONS.unclosedRing]: 1,
      [GEOJSON_REASONS.zDropped]: 2,
      [GEOJSON_REASONS.noGeometry]: 1,
      [GEOJSON_REASONS.multiLineString]: 1,
    })
  })

  it('reads a MultiPolygon of one part as a polygon, of several as the union mask', () => {
    const shifted = square.map(([x, y]) => [x + 2, y + 1])
    const far = square.map(([x, y]) => [x + 10, y])
    const read = readGeojson(
      [
        feature({ type: 'MultiPolygon', coordinates: [[square]] }),
        feature({ type: 'MultiPolygon', coordinates: [[square], [shifted], [far]] }),
      ],
      's',
      'x',
    )
    expect(read.problems).toEqual([])
    expect(read.image.annotations[0].kind).toBe('polygon')
    const mask = read.image.annotations[1]
    expect(mask.kind).toBe('mask')
    const pixels = decodeMaskRle(mask.geometry as never)
    expect(pixels).toMatchObject({ x: 0, y: 0, width: 14, height: 5 })
    const count = pixels.data.reduce((s, v) => s + v, 0)
    expect(count).toBe(16 + 16 - 6 + 16)
    expect(read.converted).toEqual({ [GEOJSON_REASONS.multiPolygonMask]: 1 })
  })

  it('names what it cannot read, feature by feature, and keeps the rest', () => {
    const read = readGeojson(
      {
        type: 'FeatureCollection',
        features: [
          feature(polygon),
          feature({
            type: 'Polygon',
            coordinates: [
              [
                [0, 0],
                [1, Number.NaN],
                [2, 2],
                [0, 0],
              ],
            ],
          }),
          feature({
            type: 'Polygon',
            coordinates: [
              [
                [0, 0],
                ['1', 1],
                [2, 2],
                [0, 0],
              ],
            ],
          }),
          feature({
            type: 'Polygon',
            coordinates: [
              [
                [0, 0],
                [1, 1],
                [0, 0],
                [1, 1],
              ],
            ],
          }),
          feature({ type: 'GeometryCollection', geometries: [] }),
          { type: 'Something' },
          feature({ type: 'LineString', coordinates: [[0, 0]] }),
          feature({
            type: 'MultiPolygon',
            coordinates: [
              [
                [
                  [0, 0],
                  [0.1, 0],
                  [0.1, 0.1],
                ],
              ],
              [
                [
                  [5, 5],
                  [5.1, 5],
                  [5.1, 5.1],
                ],
              ],
            ],
          }),
        ],
      },
      'f.geojson',
      'x',
    )
    expect(read.image.annotations.length).toBe(1)
    expect(read.problems.map((p) => p.source)).toEqual(
      [1, 2, 3, 4, 5, 6, 7].map((i) => `f.geojson: features[${i}]`),
    )
    expect(read.problems.map((p) => p.message)).toEqual([
      'coordinates must be finite numbers',
      'coordinates must be finite numbers',
      'a ring needs at least 3 distinct vertices',
      expect.stringContaining('geometry type "GeometryCollection" is not supported'),
      'not a GeoJSON Feature',
      'a LineString needs at least 2 positions',
      'the MultiPolygon covers no pixel centre',
    ])
  })

  it('writes features the reader and QuPath take as they are (a sample of one image)', () => {
    const features: GeoJsonFeature[] = geojsonFeatures(
      image,
      [record({ kind: 'polygon', geometry: { rings: [[1, 1, 5, 1, 5, 5]] } }, { classId: 7 })],
      testTable(),
      emptyReport(),
    )
    expect(JSON.parse(JSON.stringify(features))).toEqual([
      {
        type: 'Feature',
        id: featureId('a'),
        geometry: {
          type: 'Polygon',
          coordinates: [
            [
              [1, 1],
              [5, 1],
              [5, 5],
              [1, 1],
            ],
          ],
        },
        properties: {
          objectType: 'annotation',
          classification: { name: 'cell "A" & <b>', color: [0, 255, 0] },
          isLocked: false,
        },
      },
    ])
  })
})
