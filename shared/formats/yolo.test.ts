import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { encodeMaskRle } from '../geometry/mask.ts'
import { maskPixelBounds } from '../geometry/maskBounds.ts'
import { maskToPolygons } from '../geometry/maskToPolygons.ts'
import { polygonArea, signedArea } from '../geometry/polygon.ts'
import { rasterizeGeometry } from '../geometry/rasterize.ts'
import type { AnnotationRecord } from '../schemas/annotation.ts'
import {
  type ImageSample,
  imageSample,
  record,
  testClasses,
  testTable,
} from './arbitraryDataset.ts'
import {
  ClassTable,
  type ConversionReport,
  countConversion,
  type DatasetImage,
  emptyReport,
} from './dataset.ts'
import {
  readYolo,
  YOLO_REASONS,
  type YoloTask,
  yamlQuote,
  yoloDataYaml,
  yoloLabelFile,
} from './yolo.ts'

// Tolerance: 6 decimals of a coordinate divided by the image's size put each written value
// within 0.5e-6 of the exact one, so a polygon vertex comes back within 0.5e-6 × size pixels.
// A detected box is written as centre and size: its edges (centre ∓ half the size) within
// 0.75e-6 × size, its width and height within 0.5e-6 × size. 1e-9 covers the arithmetic.
const VERTEX = 0.5e-6
const EDGE = 0.75e-6
const ARITHMETIC = 1e-9

const clamp = (v: number, max: number) => Math.min(max, Math.max(0, v))
const count = (mask: Uint8Array) => mask.reduce((n, v) => n + v, 0)

const mask = (x: number, y: number, width: number, rows: string[]) =>
  encodeMaskRle({
    x,
    y,
    width,
    height: rows.length,
    data: Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 1 : 0)),
  })

/** The pixels of a mask inside the image, and whether any lay outside. */
function maskInImage(a: AnnotationRecord & { kind: 'mask' }, image: DatasetImage) {
  const inside = rasterizeGeometry(a, image.width, image.height)!
  const all = rasterizeGeometry(
    { ...a, geometry: { ...a.geometry, x: 0, y: 0 } },
    a.geometry.width,
    a.geometry.height,
  )!
  return { inside, clamped: count(inside) < count(all) }
}

/** The box or ring the reader must give back, counting what the writer must count. */
function expectedShape(
  a: AnnotationRecord,
  image: DatasetImage,
  task: YoloTask,
  report: ConversionReport,
): { box: number[] } | { ring: number[] } | null {
  const { width: W, height: H } = image
  const skip = (reason: string) => {
    countConversion(report, 'skipped', reason)
    return null
  }
  if (a.kind === 'points') return skip(YOLO_REASONS.points)
  if (a.kind === 'polyline') return skip(YOLO_REASONS.polyline)
  const conversions: string[] = []
  let clamped = false
  let ring: number[]
  if (a.kind === 'mask') {
    const inImage = maskInImage(a, image)
    clamped = inImage.clamped
    if (task === 'detect') {
      const b = maskPixelBounds(a.geometry, W, H)
      if (!b) return skip(YOLO_REASONS.noArea)
      ring = [b.minX, b.minY, b.maxX, b.maxY]
      conversions.push(YOLO_REASONS.maskToBox)
    } else {
      const parts = maskToPolygons(inImage.inside, W, H)
      if (parts.length === 0) return skip(YOLO_REASONS.noArea)
      const largest = parts.reduce((a, b) => (polygonArea(b.rings) > polygonArea(a.rings) ? b : a))
      ring = largest.rings[0]
      conversions.push(YOLO_REASONS.maskToPolygon)
      if (parts.length > 1) conversions.push(YOLO_REASONS.maskParts)
      if (largest.rings.length > 1) conversions.push(YOLO_REASONS.maskHoles)
    }
  } else if (a.kind === 'box') {
    const { x, y, width, height } = a.geometry
    ring = [x, y, x + width, y, x + width, y + height, x, y + height]
    if (task === 'segment') conversions.push(YOLO_REASONS.boxToPolygon)
  } else {
    ring = [...a.geometry.rings[0]]
    if (task === 'detect') conversions.push(YOLO_REASONS.polygonToBox)
    else if (a.geometry.rings.length > 1) conversions.push(YOLO_REASONS.holesDropped)
  }
  const clampedRing = ring.map((v, i) => clamp(v, i % 2 ? H : W))
  if (clampedRing.some((v, i) => v !== ring[i])) clamped = true
  let shape: { box: number[] } | { ring: number[] }
  if (task === 'detect') {
    const xs = clampedRing.filter((_, i) => i % 2 === 0)
    const ys = clampedRing.filter((_, i) => i % 2 === 1)
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)]
    if (!(x1 > x0 && y1 > y0)) return skip(YOLO_REASONS.noArea)
    shape = { box: [x0, y0, x1 - x0, y1 - y0] }
  } else {
    if (signedArea(clampedRing) === 0) return skip(YOLO_REASONS.noArea)
    shape = { ring: clampedRing }
  }
  if (clamped) countConversion(report, 'converted', YOLO_REASONS.clamped)
  for (const reason of conversions) countConversion(report, 'converted', reason)
  return shape
}

function expectClose(actual: number[], expected: number[], tolerances: number[]) {
  expect(actual.length).toBe(expected.length)
  actual.forEach((v, i) => {
    const tolerance = tolerances[i % tolerances.length]
    if (Math.abs(v - expected[i]) > tolerance)
      throw new Error(`value ${i}: ${v} is not within ${tolerance} of ${expected[i]}`)
  })
}

function roundTrip(task: YoloTask, samples: ImageSample[]) {
  const table = testTable()
  const report = emptyReport()
  const expectedReport = emptyReport()
  const labelFiles = samples.map(({ image, annotations }) => ({
    path: `labels/${image.stem}.txt`,
    text: yoloLabelFile(image, annotations, table, task, report),
  }))
  const read = readYolo({
    dataYaml: yoloDataYaml(table, task),
    labelFiles,
    images: samples.map(({ image }) => image),
  })
  expect(read.problems).toEqual([])
  expect(read.converted).toEqual({})
  expect(read.classes.map((c) => c.name)).toEqual(table.classes.map((c) => c.name))
  samples.forEach(({ image, annotations }, i) => {
    const { width: W, height: H } = image
    const got = read.images[i]
    expect(got.fileName).toBe(image.fileName)
    const expected = annotations.flatMap((a) => {
      const shape = expectedShape(a, image, task, expectedReport)
      return shape ? [{ shape, className: table.classOf(a.classId).name }] : []
    })
    expect(got.annotations.map((a) => a.className)).toEqual(expected.map((e) => e.className))
    got.annotations.forEach((a, k) => {
      const shape = expected[k].shape
      if ('box' in shape) {
        expect(a.kind).toBe('box')
        const { x, y, width, height } = a.geometry as {
          x: number
          y: number
          width: number
          height: number
        }
        // Edges and sizes, each against its own bound.
        expectClose(
          [x, y, x + width, y + height],
          [shape.box[0], shape.box[1], shape.box[0] + shape.box[2], shape.box[1] + shape.box[3]],
          [EDGE * W + ARITHMETIC, EDGE * H + ARITHMETIC],
        )
        expectClose([width, height], shape.box.slice(2), [
          VERTEX * W + ARITHMETIC,
          VERTEX * H + ARITHMETIC,
        ])
      } else {
        expect(a.kind).toBe('polygon')
        const { rings } = a.geometry as { rings: number[][] }
        expect(rings.length).toBe(1)
        expectClose(rings[0], shape.ring, [VERTEX * W + ARITHMETIC, VERTEX * H + ARITHMETIC])
      }
    })
  })
  expect(report).toEqual(expectedReport)
}

describe('YOLO writer and reader', () => {
  it('round-trips detection boxes within 0.75e-6 × size per edge, with the documented conversions', () => {
    fc.assert(
      fc.property(imageSample({ id: 1 }), imageSample({ id: 2 }), (a, b) =>
        roundTrip('detect', [a, b]),
      ),
      { numRuns: 150 },
    )
  })

  it('round-trips segmentation polygons within 0.5e-6 × size per vertex, with the documented conversions', () => {
    fc.assert(
      fc.property(imageSample({ id: 1 }), imageSample({ id: 2 }), (a, b) =>
        roundTrip('segment', [a, b]),
      ),
      { numRuns: 150 },
    )
  })

  it('writes 6 decimals, class numbers from the table, unclassified last', () => {
    const image: DatasetImage = { id: 1, fileName: 'a.png', stem: 'a', width: 200, height: 100 }
    const report = emptyReport()
    const text = yoloLabelFile(
      image,
      [
        record({ kind: 'box', geometry: { x: 10, y: 20, width: 50, height: 30 } }),
        record(
          { kind: 'box', geometry: { x: -10, y: 90, width: 30, height: 30 } },
          { classId: null },
        ),
        record({ kind: 'points', geometry: { points: [1, 2] } }),
      ],
      testTable(),
      'detect',
      report,
    )
    expect(text).toBe(
      `0 0.175000 0.350000 0.250000 0.300000\n${testClasses.length} 0.050000 0.950000 0.100000 0.100000\n`,
    )
    expect(report).toEqual({
      converted: { [YOLO_REASONS.clamped]: 1 },
      skipped: { [YOLO_REASONS.points]: 1 },
    })
    expect(yoloLabelFile(image, [], testTable(), 'segment', report)).toBe('')
  })

  it('traces a mask as its largest part, outer outline only', () => {
    const image: DatasetImage = { id: 1, fileName: 'a.png', stem: 'a', width: 10, height: 10 }
    const report = emptyReport()
    const geometry = mask(1, 2, 5, ['###.#', '#.#..', '###..'])
    const text = yoloLabelFile(
      image,
      [record({ kind: 'mask', geometry })],
      testTable(),
      'segment',
      report,
    )
    // The 3×3 ring with its hole dropped: corners (4, 2), (4, 5), (1, 5), (1, 2).
    expect(text).toBe('0 0.400000 0.200000 0.400000 0.500000 0.100000 0.500000 0.100000 0.200000\n')
    expect(report.converted).toEqual({
      [YOLO_REASONS.maskToPolygon]: 1,
      [YOLO_REASONS.maskParts]: 1,
      [YOLO_REASONS.maskHoles]: 1,
    })
  })

  it('writes data.yaml that a YAML reader reads back as the same names, whatever they hold', () => {
    const awkward = [
      'yes',
      'null',
      '1',
      'a: b',
      '#x',
      "it's",
      'say "hi"',
      'back\\slash',
      'tab\there',
      'line\nbreak',
      'é 中 😀',
      '\u2028\u0085\u0000',
      ' padded ',
    ]
    const table = new ClassTable(awkward.map((name, i) => ({ id: i + 1, name, color: '#000000' })))
    const text = yoloDataYaml(table, 'segment')
    const doc = parseYaml(text)
    expect(doc).toEqual({
      train: 'images',
      val: 'images',
      nc: awkward.length + 1,
      names: Object.fromEntries([...awkward, 'unclassified'].map((name, i) => [i, name])),
    })
    expect(
      readYolo({ dataYaml: text, labelFiles: [], images: [] }).classes.map((c) => c.name),
    ).toEqual([...awkward, 'unclassified'])
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (name) => {
        expect(parseYaml(`name: ${yamlQuote(name)}`)).toEqual({ name })
      }),
      { numRuns: 50 },
    )
  })
})

describe('YOLO reader', () => {
  const images = [
    { fileName: 'images/train/a.png', width: 100, height: 50 },
    { fileName: 'b.jpg', width: 10, height: 10 },
  ]

  it('reads names as a list or a mapping, matches label files by folder rule or by name', () => {
    const read = readYolo({
      dataYaml: 'names: [cell, nucleus]\n',
      labelFiles: [
        { path: 'labels/train/a.txt', text: '1 0.5 0.5 0.2 0.4\r\n\n0 0 0 1 0 1 1\n' },
        { path: 'labels/val/b.txt', text: '\uFEFF0 0.5 0.5 1 1' },
      ],
      images,
    })
    expect(read.problems).toEqual([])
    expect(read.classes).toEqual([{ name: 'cell' }, { name: 'nucleus' }])
    expect(read.images.map((i) => i.annotations)).toEqual([
      [
        {
          kind: 'box',
          geometry: { x: 40, y: 15, width: 20, height: 20 },
          className: 'nucleus',
          source: 'labels/train/a.txt: line 1',
        },
        {
          kind: 'polygon',
          geometry: { rings: [[0, 0, 100, 0, 100, 50]] },
          className: 'cell',
          source: 'labels/train/a.txt: line 3',
        },
      ],
      [
        {
          kind: 'box',
          geometry: { x: 0, y: 0, width: 10, height: 10 },
          className: 'cell',
          source: 'labels/val/b.txt: line 1',
        },
      ],
    ])
    const mapping = readYolo({
      dataYaml: 'nc: 2\nnames:\n  0: cell\n  1: "x: y"\n',
      labelFiles: [],
      images,
    })
    expect(mapping.problems).toEqual([])
    expect(mapping.classes).toEqual([{ name: 'cell' }, { name: 'x: y' }])
    expect(mapping.images.map((i) => i.fileName)).toEqual(['images/train/a.png', 'b.jpg'])
  })

  it('names classes by number without data.yaml, and counts it', () => {
    const read = readYolo({
      labelFiles: [{ path: 'b.txt', text: '3 0.5 0.5 1 1\n1 0.5 0.5 1 1\n' }],
      images,
    })
    expect(read.problems).toEqual([])
    expect(read.classes).toEqual([{ name: '1' }, { name: '3' }])
    expect(read.converted).toEqual({ [YOLO_REASONS.unnamedClass]: 2 })
  })

  it('names every bad line, label file and data.yaml problem', () => {
    const read = readYolo({
      dataYaml: 'names: [cell]\n',
      labelFiles: [
        {
          path: 'labels/x.txt',
          text: [
            '0 0.5 0.5 0.1',
            '0 0.5 0.5 0.1 0.1 0.2',
            '1 0.5 0.5 0.1 0.1',
            '0 nan 0.5 0.1 0.1',
            '0 0.5 inf 0.1 0.1',
            '0 1.1 0.5 0.1 0.1',
            '-1 0.5 0.5 0.1 0.1',
            'a 0.5 0.5 0.1 0.1',
            '0 1.0000005 0.5 0.1 0.1',
            '0 0x1 0.5 0.1 0.1',
          ].join('\n'),
        },
        { path: 'labels/nothing.txt', text: '' },
        { path: 'other/a.txt', text: '' },
      ],
      images: [
        ...images,
        { fileName: 'x.png', width: 10, height: 10 },
        { fileName: 'more/a.tif', width: 5, height: 5 },
      ],
    })
    expect(read.problems).toEqual([
      {
        source: 'labels/x.txt: line 1',
        message: expect.stringMatching(/^expected 5 values .* found 4$/),
      },
      { source: 'labels/x.txt: line 2', message: expect.stringMatching(/found 6$/) },
      { source: 'labels/x.txt: line 3', message: "class 1 is not among data.yaml's names" },
      { source: 'labels/x.txt: line 4', message: 'value 2 (nan) is not a finite number' },
      { source: 'labels/x.txt: line 5', message: 'value 3 (inf) is not a finite number' },
      { source: 'labels/x.txt: line 6', message: 'value 2 (1.1) lies outside [0, 1]' },
      { source: 'labels/x.txt: line 7', message: 'class -1 is not a class number' },
      { source: 'labels/x.txt: line 8', message: 'class a is not a class number' },
      { source: 'labels/x.txt: line 10', message: 'value 2 (0x1) is not a finite number' },
      { source: 'labels/nothing.txt', message: 'no image named nothing.* for these labels' },
      {
        source: 'other/a.txt',
        message: 'its name matches several images: images/train/a.png, more/a.tif',
      },
    ])
    const twice = readYolo({
      labelFiles: [
        { path: 'labels/train/b.txt', text: '' },
        { path: 'labels/val/b.txt', text: '' },
      ],
      images,
    })
    expect(twice.problems).toEqual([
      { source: 'labels/val/b.txt', message: 'b.jpg already has labels in labels/train/b.txt' },
    ])
    for (const [dataYaml, message] of [
      ['names: [a, b', /^not valid YAML/],
      ['nc: 3\nnames: [a, b]', /^nc is 3 but names lists 2 classes$/],
      ['path: .', /^no names/],
      ['names: {x: a}', /^names: x is not a class number$/],
    ] as const) {
      expect(readYolo({ dataYaml, labelFiles: [], images }).problems).toEqual([
        { source: 'data.yaml', message: expect.stringMatching(message) },
      ])
    }
  })
})
