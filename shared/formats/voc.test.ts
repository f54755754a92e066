import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Bounds, pixelWindowOf, ringsBounds } from '../geometry/bounds.ts'
import { encodeMaskRle } from '../geometry/mask.ts'
import { maskPixelBounds } from '../geometry/maskBounds.ts'
import { rasterizeGeometry } from '../geometry/rasterize.ts'
import type { AnnotationRecord } from '../schemas/annotation.ts'
import { imageSample, record, testTable } from './arbitraryDataset.ts'
import {
  type ConversionReport,
  countConversion,
  type DatasetImage,
  emptyReport,
} from './dataset.ts'
import { readVoc, VOC_REASONS, vocXml } from './voc.ts'

const options = { folder: 'JPEGImages', depth: 3 }
const image: DatasetImage = { id: 1, fileName: 'a.png', stem: 'a', width: 20, height: 10 }
const count = (mask: Uint8Array) => mask.reduce((n, v) => n + v, 0)

/** The box the reader must give back: the pixels whose centres the bounds hold, in the image. */
function expectedBox(a: AnnotationRecord, img: DatasetImage, report: ConversionReport) {
  const skip = (reason: string) => {
    countConversion(report, 'skipped', reason)
    return null
  }
  let bounds: Bounds | null
  let conversion: string | null = null
  let clamped = false
  if (a.kind === 'points') return skip(VOC_REASONS.points)
  if (a.kind === 'polyline') return skip(VOC_REASONS.polyline)
  if (a.kind === 'box') {
    const { x, y, width, height } = a.geometry
    bounds = { minX: x, minY: y, maxX: x + width, maxY: y + height }
    if (![bounds.minX, bounds.minY, bounds.maxX, bounds.maxY].every(Number.isInteger))
      conversion = VOC_REASONS.snapped
  } else if (a.kind === 'polygon') {
    bounds = ringsBounds([a.geometry.rings[0]])
    conversion = VOC_REASONS.polygonToBox
  } else {
    bounds = maskPixelBounds(a.geometry, img.width, img.height)
    const inside = rasterizeGeometry(a, img.width, img.height)!
    const all = rasterizeGeometry(
      { ...a, geometry: { ...a.geometry, x: 0, y: 0 } },
      a.geometry.width,
      a.geometry.height,
    )!
    clamped = count(inside) < count(all)
    conversion = VOC_REASONS.maskToBox
  }
  if (!bounds) return skip(VOC_REASONS.noPixel)
  const window = pixelWindowOf(bounds)
  const x0 = Math.max(0, window.x)
  const y0 = Math.max(0, window.y)
  const x1 = Math.min(img.width, window.x + window.width)
  const y1 = Math.min(img.height, window.y + window.height)
  // pixelWindowOf gives width 0 for bounds that hold no centre, whatever their position.
  if (window.width === 0 || window.height === 0 || x1 <= x0 || y1 <= y0)
    return skip(VOC_REASONS.noPixel)
  if (clamped || x0 !== window.x || y0 !== window.y || x1 !== window.x + window.width)
    clamped = true
  if (y1 !== window.y + window.height) clamped = true
  if (clamped) countConversion(report, 'converted', VOC_REASONS.clamped)
  if (conversion) countConversion(report, 'converted', conversion)
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
}

describe('Pascal VOC writer and reader', () => {
  it('round-trips boxes: whole-pixel ones exactly, fractional edges within ½ pixel; others by bounds', () => {
    // Tolerance: none for whole-pixel boxes inside the image; a fractional edge moves to the
    // nearest pixel boundary (at most ½ pixel); polygons and masks come back as the pixel
    // window of their bounds, exactly.
    const table = testTable()
    fc.assert(
      fc.property(imageSample(), ({ image: img, annotations }) => {
        const report = emptyReport()
        const xml = vocXml(img, annotations, table, report, options)
        const read = readVoc(xml, 'Annotations/x.xml')
        expect(read.problems).toEqual([])
        expect(read.converted).toEqual({})
        expect(read.image?.fileName).toBe(img.fileName)
        expect([read.image?.width, read.image?.height]).toEqual([img.width, img.height])
        const expectedReport = emptyReport()
        const expected = annotations.flatMap((a) => {
          const box = expectedBox(a, img, expectedReport)
          return box ? [{ a, box }] : []
        })
        expect(read.image!.annotations.map((a) => [a.kind, a.className])).toEqual(
          expected.map(({ a }) => ['box', table.classOf(a.classId).name]),
        )
        read.image!.annotations.forEach((got, k) => {
          const { a, box } = expected[k]
          expect(got.geometry).toEqual(box)
          if (a.kind !== 'box') return
          const g = a.geometry
          const inside =
            g.x >= 0 && g.y >= 0 && g.x + g.width <= img.width && g.y + g.height <= img.height
          if (!inside) return
          if ([g.x, g.y, g.width, g.height].every(Number.isInteger)) expect(got.geometry).toEqual(g)
          const r = got.geometry as typeof g
          expect(Math.abs(r.x - g.x)).toBeLessThanOrEqual(0.5)
          expect(Math.abs(r.y - g.y)).toBeLessThanOrEqual(0.5)
          expect(Math.abs(r.x + r.width - (g.x + g.width))).toBeLessThanOrEqual(0.5)
          expect(Math.abs(r.y + r.height - (g.y + g.height))).toBeLessThanOrEqual(0.5)
        })
        expect(report).toEqual(expectedReport)
      }),
      { numRuns: 200 },
    )
  })

  it('writes 1-based inclusive pixel indices, truncated at the edge, escaped names', () => {
    const report = emptyReport()
    const xml = vocXml(
      { ...image, fileName: 'a&b.png' },
      [
        record({ kind: 'box', geometry: { x: 0, y: 2, width: 5, height: 3 } }),
        record(
          {
            kind: 'mask',
            geometry: encodeMaskRle({ x: 3, y: 4, width: 2, height: 1, data: Uint8Array.of(0, 1) }),
          },
          { classId: 7 },
        ),
        record({ kind: 'polyline', geometry: { points: [0, 0, 1, 1] } }),
      ],
      testTable(),
      report,
      options,
    )
    expect(xml).toBe(
      `<annotation>
\t<folder>JPEGImages</folder>
\t<filename>a&amp;b.png</filename>
\t<size>
\t\t<width>20</width>
\t\t<height>10</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
\t<object>
\t\t<name>nucleus</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>1</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>1</xmin>
\t\t\t<ymin>3</ymin>
\t\t\t<xmax>5</xmax>
\t\t\t<ymax>5</ymax>
\t\t</bndbox>
\t</object>
\t<object>
\t\t<name>cell &quot;A&quot; &amp; &lt;b&gt;</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>0</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>5</xmin>
\t\t\t<ymin>5</ymin>
\t\t\t<xmax>5</xmax>
\t\t\t<ymax>5</ymax>
\t\t</bndbox>
\t</object>
</annotation>
`,
    )
    expect(report).toEqual({
      converted: { [VOC_REASONS.maskToBox]: 1 },
      skipped: { [VOC_REASONS.polyline]: 1 },
    })
    const read = readVoc(xml, 'x.xml')
    expect(read.image?.fileName).toBe('a&b.png')
    expect(read.image?.annotations.map((a) => [a.className, a.geometry])).toEqual([
      ['nucleus', { x: 0, y: 2, width: 5, height: 3 }],
      ['cell "A" & <b>', { x: 4, y: 4, width: 1, height: 1 }],
    ])
  })

  it('replaces characters XML cannot hold, and counts it', () => {
    const report = emptyReport()
    const xml = vocXml({ ...image, fileName: 'a\u0001.png' }, [], testTable(), report, options)
    expect(xml).toContain('<filename>a\uFFFD.png</filename>')
    expect(report.converted).toEqual({ [VOC_REASONS.invalidCharacters]: 1 })
  })
})

const document = (objects: string, size = '<size><width>20</width><height>10</height></size>') =>
  `<annotation><filename>a.png</filename>${size}${objects}</annotation>`
const object = (box: string, name = '<name>cell</name>') =>
  `<object>${name}<bndbox>${box}</bndbox></object>`

describe('Pascal VOC reader', () => {
  it('refuses DTDs and entity declarations before parsing, in any case', () => {
    const attacks = [
      // Billion laughs.
      `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><annotation><filename>&lol2;</filename></annotation>`,
      // External entity.
      `<!doctype annotation [<!entity xxe SYSTEM "file:///etc/passwd">]><annotation><filename>&xxe;</filename></annotation>`,
      `<annotation><!ENTITY x "y"><filename>a.png</filename></annotation>`,
      `<!DocType annotation SYSTEM "http://example.com/voc.dtd"><annotation/>`,
    ]
    for (const xml of attacks) {
      expect(readVoc(xml, 'Annotations/a.xml')).toEqual({
        image: null,
        problems: [{ source: 'Annotations/a.xml', message: 'DTDs and entities are not accepted' }],
        converted: {},
      })
    }
  })

  it('decodes XML’s own and numeric references, nothing else', () => {
    const read = readVoc(
      document(
        object(
          '<xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax>',
          '<name>&#60;a&#x3E; &amp;amp; &nbsp;</name>',
        ),
      ),
      'x.xml',
    )
    expect(read.image?.annotations[0].className).toBe('<a> &amp; &nbsp;')
  })

  it('reads fractional coordinates as they are and clamps an edge at 0, counting it', () => {
    const read = readVoc(
      document(
        object('<xmin>0</xmin><ymin>2.5</ymin><xmax>4</xmax><ymax>6.5</ymax>') +
          object('<xmin> 3 </xmin><ymin>3</ymin><xmax>3</xmax><ymax>3</ymax>'),
      ),
      'x.xml',
    )
    expect(read.problems).toEqual([])
    expect(read.image?.annotations.map((a) => a.geometry)).toEqual([
      { x: 0, y: 1.5, width: 4, height: 5 },
      { x: 2, y: 2, width: 1, height: 1 },
    ])
    expect(read.converted).toEqual({ [VOC_REASONS.zeroEdge]: 1 })
  })

  it('names each problem: missing, not a number, negative, inverted, no size, malformed', () => {
    const read = readVoc(
      document(
        [
          object('<xmin>1</xmin><ymin>1</ymin><xmax>2</xmax>'),
          object('<xmin>1</xmin><ymin>NaN</ymin><xmax>2</xmax><ymax>2</ymax>'),
          object('<xmin>-1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax>'),
          object('<xmin>5</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax>'),
          object('<xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax>', ''),
          '<object><name>x</name></object>',
          object('<xmin>1</xmin><ymin>1</ymin><xmax>Infinity</xmax><ymax>2</ymax>'),
        ].join(''),
        '',
      ),
      'x.xml',
    )
    expect(read.problems).toEqual([
      { source: 'x.xml', message: 'missing <size>' },
      { source: 'x.xml: object[0]', message: 'missing <ymax>' },
      { source: 'x.xml: object[1]', message: '<ymin> is not a number: NaN' },
      { source: 'x.xml: object[2]', message: '<xmin> is negative: -1' },
      { source: 'x.xml: object[3]', message: expect.stringMatching(/^inverted box/) },
      { source: 'x.xml: object[4]', message: 'missing <name>' },
      { source: 'x.xml: object[5]', message: 'missing <bndbox>' },
      { source: 'x.xml: object[6]', message: '<xmax> is not a number: Infinity' },
    ])
    expect(read.image?.annotations).toEqual([])
    expect(
      readVoc(document('', '<size><width>0</width><height>x</height></size>'), 'x.xml').problems,
    ).toEqual([
      { source: 'x.xml: <size>', message: '<width> must be a positive whole number, not 0' },
      { source: 'x.xml: <size>', message: '<height> must be a positive whole number, not x' },
    ])
    for (const [xml, message] of [
      ['<annotation><filename>a.png</annotation>', /^not well-formed XML/],
      ['<other/>', /^no <annotation> element/],
      ['', /^not well-formed XML: Start tag expected/],
      [
        '<annotation><size><width>1</width><height>1</height></size></annotation>',
        /^missing <filename>$/,
      ],
    ] as const) {
      const refused = readVoc(xml, 'x.xml')
      expect(refused.problems).toEqual([
        { source: 'x.xml', message: expect.stringMatching(message) },
      ])
      expect(refused.image).toBeNull()
    }
  })
})
