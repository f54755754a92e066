import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMaskRle } from '../geometry/mask.ts'
import { rasterizeGeometry } from '../geometry/rasterize.ts'
import type { AnnotationRecord, Geometry } from '../schemas/annotation.ts'
import { imageSample, record, testClasses, testTable } from './arbitraryDataset.ts'
import { ClassTable, type DatasetImage, emptyReport } from './dataset.ts'
import {
  LABEL_MASK_REASONS,
  labelImagesFor,
  labelMapJson,
  readLabelImages,
  readLabelMap,
} from './labelMask.ts'

const byCreation = (a: AnnotationRecord, b: AnnotationRecord) =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * The oracle: area annotations painted in creation order, each pixel numbered by its painter;
 * survivors renumbered 1..N in the same order. Also each survivor's full area in the image.
 */
function paint(image: DatasetImage, annotations: readonly AnnotationRecord[]) {
  const { width, height } = image
  const painter = new Int32Array(width * height).fill(-1)
  const areas = annotations.map((a) =>
    a.kind === 'polygon' || a.kind === 'mask' ? rasterizeGeometry(a, width, height) : null,
  )
  const order = annotations
    .map((_, k) => k)
    .sort((i, j) => byCreation(annotations[i], annotations[j]))
  for (const k of order) {
    const mask = areas[k]
    if (mask) for (let i = 0; i < mask.length; i++) if (mask[i]) painter[i] = k
  }
  const alive = new Set(painter)
  const survivors = order.filter((k) => alive.has(k))
  const rank = new Map(survivors.map((k, r) => [k, r + 1]))
  const labels = Uint16Array.from(painter, (k) => (k < 0 ? 0 : rank.get(k)!))
  const fullArea = survivors.map((k) => areas[k]!.reduce((s, v) => s + v, 0))
  return { labels, survivors, fullArea }
}

const pixelsOf = (geometry: Geometry, width: number, height: number) =>
  Array.from(rasterizeGeometry(geometry, width, height)!)

describe('labelImagesFor', () => {
  it('numbers objects as painted in creation order, with class values from the table', () => {
    fc.assert(
      fc.property(imageSample({ maxObjects: 6 }), ({ image, annotations }) => {
        const table = testTable()
        const report = emptyReport()
        const written = labelImagesFor(image, annotations, table, report)
        const oracle = paint(image, annotations)
        expect(Array.from(written.instances)).toEqual(Array.from(oracle.labels))
        expect(written.instanceClasses).toEqual(
          oracle.survivors.map((k) => table.indexOf(annotations[k].classId) + 1),
        )
        const expectedClasses = Array.from(oracle.labels, (l) =>
          l === 0 ? 0 : written.instanceClasses[l - 1],
        )
        expect(Array.from(written.classes)).toEqual(expectedClasses)
        // Every annotation is an object or counted.
        const skipped = Object.values(report.skipped).reduce((s, n) => s + n, 0)
        expect(skipped + written.instanceClasses.length).toBe(annotations.length)
        for (const kind of ['box', 'points', 'polyline'] as const) {
          const n = annotations.filter((a) => a.kind === kind).length
          expect(report.skipped[LABEL_MASK_REASONS.notInstance(kind)] ?? 0).toBe(n)
        }
        const partly = oracle.survivors.filter((_, r) => {
          const kept = oracle.labels.reduce((s, l) => s + (l === r + 1 ? 1 : 0), 0)
          return kept < oracle.fullArea[r]
        }).length
        expect(report.converted[LABEL_MASK_REASONS.partlyHidden] ?? 0).toBe(partly)
      }),
    )
  })

  it('counts objects hidden behind later ones', () => {
    const image: DatasetImage = { id: 1, fileName: 'a.png', stem: 'a', width: 8, height: 8 }
    const square = (id: string, createdAt: number, size: number): AnnotationRecord =>
      record(
        { kind: 'polygon', geometry: { rings: [[0, 0, size, 0, size, size, 0, size]] } },
        { id, createdAt },
      )
    const report = emptyReport()
    const written = labelImagesFor(
      image,
      [square('small', 1, 2), square('big', 2, 4), square('tiny', 3, 1)],
      testTable(),
      report,
    )
    expect(written.instanceClasses).toEqual([1, 1])
    expect(report).toEqual({
      converted: { [LABEL_MASK_REASONS.partlyHidden]: 1 },
      skipped: { [LABEL_MASK_REASONS.hidden]: 1 },
    })
  })
})

describe('labelMapJson', () => {
  it('maps class image values to the table’s classes, background 0, unclassified last', () => {
    const table = testTable()
    const map = JSON.parse(labelMapJson(table))
    expect(map['0']).toEqual({ name: 'background', color: '#000000' })
    expect(map['1']).toEqual({ name: testClasses[0].name, color: testClasses[0].color })
    expect(map[String(table.classes.length)]).toEqual({ name: 'unclassified', color: '#808080' })
    expect(readLabelMap(map)).toEqual(new Map(table.classes.map((c, k) => [k + 1, c.name])))
  })
})

describe('readLabelImages', () => {
  it('gives back each object pixel for pixel, with its class, as polygons or masks', () => {
    fc.assert(
      fc.property(
        imageSample({ kinds: ['polygon', 'mask'], maxObjects: 8 }),
        fc.constantFrom('polygon' as const, 'mask' as const),
        ({ image, annotations }, as) => {
          const table = testTable()
          const written = labelImagesFor(image, annotations, table, emptyReport())
          const classNames = readLabelMap(JSON.parse(labelMapJson(table)))
          const { width, height } = image
          const read = readLabelImages(
            {
              fileName: image.fileName,
              width,
              height,
              instances: written.instances,
              classes: written.classes,
              classNames,
            },
            { as },
            'instances/x.png',
          )
          expect(read.problems).toEqual([])
          expect(read.image).toMatchObject({ fileName: image.fileName, width, height })
          const imported = read.image.annotations
          expect(imported.length).toBe(written.instanceClasses.length)
          let severalParts = 0
          imported.forEach((annotation, k) => {
            const label = k + 1
            const expected = Array.from(written.instances, (l) => (l === label ? 1 : 0))
            expect(pixelsOf(annotation as Geometry, width, height)).toEqual(expected)
            expect(annotation.className).toBe(table.classes[written.instanceClasses[k] - 1].name)
            expect(annotation.source).toBe(`instances/x.png: label ${label}`)
            if (as === 'mask') expect(annotation.kind).toBe('mask')
            else if (annotation.kind === 'mask') severalParts++
          })
          expect(read.converted).toEqual(
            severalParts > 0 ? { [LABEL_MASK_REASONS.severalParts]: severalParts } : {},
          )
        },
      ),
    )
  })

  it('makes one mask of an object in several parts, and crops masks to their pixels', () => {
    // Label 1: two squares touching only at a corner; label 2: one pixel.
    const instances = new Uint16Array([1, 0, 0, 0, 1, 0, 0, 0, 2])
    const input = { fileName: 'a.tif', width: 3, height: 3, instances }
    const polygons = readLabelImages(input, { as: 'polygon' }, 's')
    expect(polygons.image.annotations.map((a) => a.kind)).toEqual(['mask', 'polygon'])
    expect(polygons.converted).toEqual({ [LABEL_MASK_REASONS.severalParts]: 1 })
    expect(polygons.image.annotations[1].geometry).toEqual({ rings: [[3, 2, 3, 3, 2, 3, 2, 2]] })
    const masks = readLabelImages(input, { as: 'mask' }, 's')
    expect(masks.image.annotations.map((a) => a.geometry)).toEqual([
      { x: 0, y: 0, width: 2, height: 2, counts: [0, 1, 2, 1] },
      { x: 2, y: 2, width: 1, height: 1, counts: [0, 1] },
    ])
    expect(masks.converted).toEqual({})
    expect(decodeMaskRle(masks.image.annotations[0].geometry as never).data).toEqual(
      new Uint8Array([1, 0, 0, 1]),
    )
    // Without a class image, objects have no class.
    expect(masks.image.annotations.map((a) => a.className)).toEqual([null, null])
  })

  it('takes the most frequent class of each object, and counts what it had to decide', () => {
    const instances = new Uint16Array([1, 1, 1, 2, 2, 3, 3, 0])
    const classes = new Uint16Array([2, 2, 1, 0, 0, 9, 9, 4])
    const classNames = new Map([
      [1, 'one'],
      [2, 'two'],
    ])
    const read = readLabelImages(
      { fileName: 'a.png', width: 8, height: 1, instances, classes, classNames },
      { as: 'mask' },
      's',
    )
    expect(read.image.annotations.map((a) => a.className)).toEqual(['two', null, 'class 9'])
    expect(read.converted).toEqual({
      [LABEL_MASK_REASONS.mixedClasses]: 1,
      [LABEL_MASK_REASONS.noClass]: 1,
      [LABEL_MASK_REASONS.unnamedClass]: 1,
    })
  })

  it('names images whose sizes do not match', () => {
    const instances = new Uint16Array(6)
    expect(
      readLabelImages({ fileName: 'a', width: 4, height: 2, instances }, { as: 'mask' }, 's')
        .problems,
    ).toEqual([{ source: 's', message: 'the instance image has 6 pixels, expected 4 × 2' }])
    expect(
      readLabelImages(
        { fileName: 'a', width: 3, height: 2, instances, classes: new Uint16Array(5) },
        { as: 'mask' },
        's',
      ).problems,
    ).toEqual([{ source: 's', message: 'the class image has 5 pixels, the instance image 6' }])
  })

  it('reads a 2048² image of 2,000 objects with holes in well under a second', () => {
    const side = 2048
    const cell = 45 // 45 × 45 cells of 45 px: 2,025 objects
    const instances = new Uint16Array(side * side)
    const classes = new Uint16Array(side * side)
    let label = 0
    for (let cy = 0; cy + cell <= side; cy += cell) {
      for (let cx = 0; cx + cell <= side; cx += cell) {
        label++
        for (let y = 2; y < cell - 2; y++) {
          for (let x = 2; x < cell - 2; x++) {
            const r = Math.hypot(x - cell / 2, y - cell / 2)
            if (r < cell / 2 - 2 && (r > 5 || label % 2 === 0)) {
              instances[(cy + y) * side + cx + x] = label
              classes[(cy + y) * side + cx + x] = 1 + (label % 3)
            }
          }
        }
      }
    }
    const input = { fileName: 'big.png', width: side, height: side, instances, classes }
    for (const as of ['polygon', 'mask'] as const) {
      const start = performance.now()
      const read = readLabelImages(input, { as }, 's')
      const elapsed = performance.now() - start
      expect(read.image.annotations.length).toBe(label)
      expect(elapsed).toBeLessThan(1000)
    }
  })

  it('round-trips a hand-made scene: touching objects, a hole, a mask and the border', () => {
    const image: DatasetImage = { id: 1, fileName: 'a.png', stem: 'a', width: 12, height: 10 }
    const table = new ClassTable([
      { id: 1, name: 'cell', color: '#ff0000' },
      { id: 2, name: 'nucleus', color: '#00ff00' },
    ])
    const annotations = [
      record(
        {
          kind: 'polygon',
          geometry: {
            rings: [
              [1, 1, 6, 1, 6, 6, 1, 6],
              [2, 2, 4, 2, 4, 4, 2, 4],
            ],
          },
        },
        { id: 'holed', classId: 1 },
      ),
      record(
        { kind: 'polygon', geometry: { rings: [[6, 1, 9, 1, 9, 6, 6, 6]] } },
        { id: 'touching', classId: 2 },
      ),
      record(
        { kind: 'polygon', geometry: { rings: [[10, 7, 13, 7, 13, 11, 10, 11]] } },
        { id: 'border', classId: null },
      ),
      record(
        {
          kind: 'mask',
          geometry: { x: 0, y: 7, width: 3, height: 2, counts: [1, 2, 1, 2] },
        },
        { id: 'mask', classId: 2 },
      ),
    ]
    const report = emptyReport()
    const written = labelImagesFor(image, annotations, table, report)
    expect(report).toEqual(emptyReport())
    expect(written.instanceClasses).toEqual([3, 1, 2, 2]) // by id: border, holed, mask, touching
    const read = readLabelImages(
      {
        ...image,
        instances: written.instances,
        classes: written.classes,
        classNames: readLabelMap(JSON.parse(labelMapJson(table))),
      },
      { as: 'polygon' },
      's',
    )
    expect(read.image.annotations.map((a) => a.className)).toEqual([
      'unclassified',
      'cell',
      'nucleus',
      'nucleus',
    ])
    const holed = read.image.annotations[1]
    expect(holed.geometry).toEqual({
      rings: [
        [6, 1, 6, 6, 1, 6, 1, 1],
        [2, 4, 4, 4, 4, 2, 2, 2],
      ],
    })
    const border = read.image.annotations[0]
    expect(border.geometry).toEqual({ rings: [[12, 7, 12, 10, 10, 10, 10, 7]] })
  })
})
