import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { maskBounds } from '../geometry/bounds.ts'
import { decodeMaskRle, encodeMaskRle } from '../geometry/mask.ts'
import { maskPixelBounds } from '../geometry/maskBounds.ts'
import { rasterizeBox, rasterizeGeometry, rasterizePolygon } from '../geometry/rasterize.ts'
import { decodeCocoRle } from '../geometry/rle.ts'
import { AnnotationRecord, type Geometry } from '../schemas/annotation.ts'
import { imageSample, record, testClasses, testTable } from './arbitraryDataset.ts'
import {
  COCO_REASONS,
  type CocoDataset,
  cocoAnnotations,
  cocoCategories,
  readCoco,
  writeCoco,
} from './coco.ts'
import {
  type ConversionReport,
  countConversion,
  type DatasetImage,
  emptyReport,
  UNCLASSIFIED,
} from './dataset.ts'

const count = (mask: Uint8Array) => mask.reduce((n, v) => n + v, 0)
const image: DatasetImage = { id: 1, fileName: 'a.png', stem: 'a', width: 25, height: 25 }
const sources = (problems: { source: string; message: string }[]) => problems.map((p) => p.source)

/** What the reader must give back for one written record, and what the writer must count. */
function expectedRead(a: AnnotationRecord, img: DatasetImage, report: ConversionReport) {
  const { width, height } = img
  switch (a.kind) {
    case 'polygon': {
      if (a.geometry.rings.length === 1) return { kind: 'polygon', rings: a.geometry.rings }
      const pixels = rasterizePolygon(a.geometry.rings, width, height)
      if (count(pixels) === 0) countConversion(report, 'skipped', COCO_REASONS.holesNoPixel)
      else countConversion(report, 'converted', COCO_REASONS.holesToRle)
      return count(pixels) === 0 ? null : { kind: 'mask', pixels: [...pixels] }
    }
    case 'mask': {
      const pixels = rasterizeGeometry(a, width, height)!
      if (count(pixels) === 0) {
        countConversion(report, 'skipped', COCO_REASONS.maskNoPixel)
        return null
      }
      if (count(pixels) < count(decodeMaskRle(a.geometry).data))
        countConversion(report, 'converted', COCO_REASONS.maskClipped)
      return { kind: 'mask', pixels: [...pixels] }
    }
    case 'box':
      return { kind: 'box', box: a.geometry }
    case 'points':
      countConversion(report, 'skipped', COCO_REASONS.points)
      return null
    case 'polyline':
      countConversion(report, 'skipped', COCO_REASONS.polyline)
      return null
  }
}

function actualRead(a: { kind: string; geometry: unknown }, img: DatasetImage) {
  if (a.kind === 'polygon')
    return { kind: 'polygon', rings: (a.geometry as { rings: unknown }).rings }
  if (a.kind === 'box') return { kind: 'box', box: a.geometry }
  const pixels = rasterizeGeometry(a as Geometry, img.width, img.height)!
  return { kind: a.kind, pixels: [...pixels] }
}

describe('COCO writer', () => {
  it('gives dense 1-based category ids, unclassified last', () => {
    expect(cocoCategories(testTable())).toEqual([
      ...testClasses.map((c, i) => ({ id: i + 1, name: c.name, supercategory: 'object' })),
      { id: testClasses.length + 1, name: UNCLASSIFIED.name, supercategory: 'object' },
    ])
  })

  it('round-trips polygons, holes, masks, boxes, touching and border objects (polygons and boxes exactly, RLE by pixels)', () => {
    // Tolerance: none. Polygon coordinates and boxes come back as the same doubles (JSON keeps
    // them); polygons with holes and masks come back as masks with exactly the same pixels
    // inside the image.
    const table = testTable()
    fc.assert(
      fc.property(imageSample({ id: 1 }), imageSample({ id: 2 }), (first, second) => {
        expect(AnnotationRecord.array().safeParse(first.annotations).success).toBe(true)
        const report = emptyReport()
        const json = JSON.parse(JSON.stringify(writeCoco([first, second], table, report)))
        const read = readCoco(json, 'instances.json')
        expect(read.problems).toEqual([])
        expect(read.converted).toEqual({})
        expect(read.classes.map((c) => c.name)).toEqual(table.classes.map((c) => c.name))
        const expectedReport = emptyReport()
        ;[first, second].forEach((sample, i) => {
          const got = read.images[i]
          expect(got.fileName).toBe(sample.image.fileName)
          expect([got.width, got.height]).toEqual([sample.image.width, sample.image.height])
          const expected = sample.annotations.flatMap((a) => {
            const geometry = expectedRead(a, sample.image, expectedReport)
            if (!geometry) return []
            const score = a.origin.type === 'model' ? a.origin.score : undefined
            return [{ geometry, className: table.classOf(a.classId).name, score }]
          })
          expect(
            got.annotations.map((a) => ({
              geometry: actualRead(a, sample.image),
              className: a.className,
              score: a.score,
            })),
          ).toEqual(expected)
        })
        expect(report).toEqual(expectedReport)
      }),
      { numRuns: 150 },
    )
  })

  it('writes RLE whose decoded pixel count is the area and whose bounds are the bbox', () => {
    const table = testTable()
    fc.assert(
      fc.property(imageSample({ kinds: ['mask', 'polygon'] }), ({ image: img, annotations }) => {
        const written = cocoAnnotations(img, 1, annotations, table, 1, emptyReport())
        for (const entry of written) {
          if (Array.isArray(entry.segmentation)) continue
          expect(entry.segmentation.size).toEqual([img.height, img.width])
          const pixels = decodeCocoRle(entry.segmentation)
          expect(count(pixels)).toBe(entry.area)
          const b = maskBounds(pixels, img.width, img.height)!
          expect(entry.bbox).toEqual([b.x, b.y, b.width, b.height])
        }
      }),
      { numRuns: 150 },
    )
  })

  it('writes the RLE string pycocotools writes, ids from the first id, and the tessera key', () => {
    const square = encodeMaskRle({
      x: 0,
      y: 0,
      width: 5,
      height: 5,
      data: rasterizeBox({ x: 0, y: 0, width: 5, height: 5 }, 5, 5),
    })
    const report = emptyReport()
    const written = cocoAnnotations(
      image,
      7,
      [
        record({ kind: 'points', geometry: { points: [1, 1] } }),
        record({ kind: 'mask', geometry: square }, { id: 'm', classId: null }),
        record(
          { kind: 'box', geometry: { x: 1, y: 2, width: 3, height: 4 } },
          {
            id: 'b',
            origin: { type: 'model', modelVersion: 'v3', score: 0.75 },
            review: 'pending',
          },
        ),
      ],
      testTable(),
      40,
      report,
    )
    expect(written).toEqual([
      {
        id: 40,
        image_id: 7,
        category_id: testClasses.length + 1,
        // pycocotools.mask.encode of a 5×5 square at the corner of a 25×25 image.
        segmentation: { size: [25, 25], counts: '05d00000000d?' },
        area: 25,
        bbox: [0, 0, 5, 5],
        iscrowd: 0,
        tessera: { annotationId: 'm', origin: 'human', review: 'accepted' },
      },
      {
        id: 41,
        image_id: 7,
        category_id: 1,
        segmentation: [],
        area: 12,
        bbox: [1, 2, 3, 4],
        iscrowd: 0,
        tessera: {
          annotationId: 'b',
          origin: 'model',
          modelVersion: 'v3',
          review: 'pending',
          score: 0.75,
        },
      },
    ])
    expect(report).toEqual({ converted: {}, skipped: { [COCO_REASONS.points]: 1 } })
  })

  it('finds the bounds of mask pixels inside the image from the runs', () => {
    fc.assert(
      fc.property(imageSample({ kinds: ['mask'] }), ({ image: img, annotations }) => {
        for (const a of annotations) {
          if (a.kind !== 'mask') continue
          const pixels = rasterizeGeometry(a, img.width, img.height)!
          const b = maskBounds(pixels, img.width, img.height)
          const got = maskPixelBounds(a.geometry, img.width, img.height)
          expect(got).toEqual(
            b && { minX: b.x, minY: b.y, maxX: b.x + b.width, maxY: b.y + b.height },
          )
        }
      }),
    )
  })
})

const valid = (): CocoDataset =>
  ({
    info: { description: '' },
    licenses: [],
    images: [
      { id: 1, file_name: 'a.png', width: 25, height: 25 },
      { id: 2, file_name: 'b.png', width: 10, height: 20 },
    ],
    categories: [
      { id: 1, name: 'cell', supercategory: 'object' },
      { id: 5, name: 'nucleus', supercategory: 'object' },
    ],
    annotations: [],
  }) as CocoDataset

describe('COCO reader', () => {
  it('reads one polygon as a polygon, several as one mask of their union, and bbox only as a box', () => {
    const json: any = valid()
    json.annotations = [
      { id: 1, image_id: 1, category_id: 5, segmentation: [[1, 1, 4, 1, 4, 4]], bbox: [] },
      {
        id: 2,
        image_id: 1,
        category_id: 1,
        // Two overlapping squares: their union, not an even-odd hole where they overlap.
        segmentation: [
          [0, 0, 4, 0, 4, 4, 0, 4],
          [2, 2, 6, 2, 6, 6, 2, 6],
        ],
        iscrowd: 0,
      },
      { id: 3, image_id: 2, category_id: 1, segmentation: [], bbox: [1.5, 2, 3, 4] },
      { id: 4, image_id: 2, category_id: 1, bbox: [0, 0, 1, 1], score: 0.5 },
    ]
    json.annotations[0].bbox = undefined
    const read = readCoco(json, 'x.json')
    expect(read.problems).toEqual([])
    expect(read.classes).toEqual([{ name: 'cell' }, { name: 'nucleus' }])
    expect(read.converted).toEqual({ [COCO_REASONS.partsToMask]: 1 })
    const [a, b] = read.images
    expect(a.annotations[0]).toEqual({
      kind: 'polygon',
      geometry: { rings: [[1, 1, 4, 1, 4, 4]] },
      className: 'nucleus',
      source: 'x.json: annotations[0]',
    })
    const union = a.annotations[1]
    expect(union.kind).toBe('mask')
    const pixels = rasterizeGeometry(union as Geometry, 25, 25)!
    expect(count(pixels)).toBe(16 + 16 - 4)
    expect(b.annotations.map((x) => [x.kind, x.geometry, x.score])).toEqual([
      ['box', { x: 1.5, y: 2, width: 3, height: 4 }, undefined],
      ['box', { x: 0, y: 0, width: 1, height: 1 }, 0.5],
    ])
  })

  it('reads RLE compressed or not, crowd or not, as masks', () => {
    const json: any = valid()
    const square = rasterizeBox({ x: 20, y: 20, width: 5, height: 5 }, 25, 25)
    json.annotations = [
      {
        id: 1,
        image_id: 1,
        category_id: 1,
        segmentation: { size: [25, 25], counts: 'X`05d00000000' },
        iscrowd: 1,
      },
      // 10 wide, 20 high: column 0 empty, then 3 pixels of column 1 from row 0.
      {
        id: 2,
        image_id: 2,
        category_id: 1,
        segmentation: { size: [20, 10], counts: [20, 3, 177] },
      },
      { id: 3, image_id: 2, category_id: 1, segmentation: { size: [20, 10], counts: [200] } },
    ]
    const read = readCoco(json, 'x.json')
    expect(read.problems).toEqual([])
    expect([...rasterizeGeometry(read.images[0].annotations[0] as Geometry, 25, 25)!]).toEqual([
      ...square,
    ])
    expect(read.images[1].annotations[0].geometry).toEqual({
      x: 1,
      y: 0,
      width: 1,
      height: 3,
      counts: [0, 3],
    })
    expect(read.converted).toEqual({ [COCO_REASONS.emptyRle]: 1 })
  })

  it('names every problem by its entry and never throws', () => {
    const json: any = JSON.parse(`{
      "images": [
        {"id": 1, "file_name": "a.png", "width": 25, "height": 25},
        {"id": 1, "file_name": "c.png", "width": 25, "height": 25},
        {"id": 3, "file_name": "a.png", "width": 25, "height": 25},
        {"id": 4, "file_name": "d.png", "width": 0, "height": 25}
      ],
      "categories": [{"id": 1, "name": "cell"}, {"id": 1, "name": "other"}, {"id": 2, "name": "cell"}],
      "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1e999, 1]},
        {"id": 100, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]},
        {"id": 3, "image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1]},
        {"id": 4, "image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1]},
        {"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 1, 0, 1]]},
        {"id": 6, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 1, 0]]},
        {"id": 7, "image_id": 1, "category_id": 1, "segmentation": {"size": [25, 25], "counts": [600]}},
        {"id": 8, "image_id": 1, "category_id": 1, "segmentation": {"size": [20, 25], "counts": [500]}},
        {"id": 9, "image_id": 1, "category_id": 1},
        {"id": 10, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 1, 0, 1, 1]], "bbox": [0, 0, -1, 1]},
        {"id": 11, "image_id": 1, "category_id": 1, "segmentation": {"size": [25, 25], "counts": "0 "}},
        {"id": 12, "image_id": 1, "category_id": 1, "segmentation": "abc"},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1]},
        {"id": 14, "image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1]},
        {"id": 100, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}
      ]
    }`)
    json.annotations[9].segmentation[0][2] = Number.NaN
    const read = readCoco(json, 'x.json')
    const problems = Object.fromEntries(read.problems.map((p) => [p.source, p.message]))
    expect(problems).toEqual({
      'x.json: images[1]': 'duplicate image id 1 (also images[0])',
      'x.json: images[2]': 'duplicate file name a.png (also images[0])',
      'x.json: images[3]': expect.stringMatching(/^width: /),
      'x.json: categories[1]': 'duplicate category id 1 (also categories[0])',
      'x.json: annotations[0]': 'bbox[2]: expected a finite number',
      'x.json: annotations[2]': 'image_id 9 names no image',
      'x.json: annotations[3]': 'category_id 7 names no category',
      'x.json: annotations[4]': expect.stringMatching(/segmentation\[0\]: an odd count/),
      'x.json: annotations[5]': 'segmentation[0]: 2 vertices; a polygon needs at least 3',
      'x.json: annotations[6]': expect.stringMatching(/^RLE: .*cover 600 of 625 pixels/),
      'x.json: annotations[7]': expect.stringMatching(/^RLE size \[20, 25\] does not match/),
      'x.json: annotations[8]': 'no segmentation and no bbox',
      'x.json: annotations[9]': 'segmentation[0][2]: expected a finite number',
      'x.json: annotations[10]': expect.stringMatching(/^RLE: .*invalid character/),
      'x.json: annotations[11]': expect.stringMatching(
        /^segmentation: expected polygons or an RLE/,
      ),
      'x.json: annotations[12]': 'id: missing',
      'x.json: annotations[13]': 'bbox with a negative size (-1 × 1)',
      'x.json: annotations[14]': 'duplicate annotation id 100 (also annotations[1])',
    })
    expect(read.converted).toEqual({ [COCO_REASONS.sameName]: 1 })
    expect(read.classes).toEqual([{ name: 'cell' }])
  })

  it('refuses what is not a COCO object with a problem, not an exception', () => {
    for (const json of [null, 3, [], { images: 'x' }, { annotations: [] }]) {
      const read = readCoco(json, 'x.json')
      expect(sources(read.problems)).toEqual(['x.json'])
      expect(read.images).toEqual([])
    }
  })
})
