import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMaskRle, encodeMaskRle } from './mask.ts'
import { insidePolygon, polygonArea } from './polygon.ts'
import { rasterizeBox, rasterizeGeometry, rasterizePolygon } from './rasterize.ts'

const count = (mask: Uint8Array) => mask.reduce((n, v) => n + v, 0)

/** A fractional offset shared by all coordinates: 0, the ½ tie, or anything. */
const offset = fc.oneof(
  fc.constant(0),
  fc.constant(0.5),
  fc.double({ min: 0, max: 0.999, noNaN: true }),
)

/**
 * A rectilinear "histogram" polygon on an integer grid shifted by (fx, fy): columns of
 * integer width rising from a common bottom, optionally with a rectangular hole in the part
 * that every column covers. Its exact area is known from the construction.
 */
const histogramPolygon = fc
  .record({
    fx: offset,
    fy: offset,
    left: fc.integer({ min: 0, max: 4 }),
    widths: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }),
    tops: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 6, maxLength: 6 }),
    bottom: fc.integer({ min: 9, max: 20 }),
    hole: fc.option(
      fc.record({ inset: fc.integer({ min: 1, max: 3 }), size: fc.integer({ min: 1, max: 3 }) }),
    ),
  })
  .map(({ fx, fy, left, widths, tops, bottom, hole }) => {
    const ring: number[] = [left + fx, bottom + fy]
    let x = left
    let area = 0
    widths.forEach((w, i) => {
      ring.push(x + fx, tops[i] + fy, x + w + fx, tops[i] + fy)
      area += w * (bottom - tops[i])
      x += w
    })
    ring.push(x + fx, bottom + fy)
    const rings = [ring]
    const right = x
    const covered = Math.max(...tops.slice(0, widths.length))
    if (hole && right - left > 2 * hole.inset + hole.size && bottom - covered > 2 + hole.size) {
      const hx = left + hole.inset + fx
      const hy = covered + 1 + fy
      const s = hole.size
      rings.push([hx, hy, hx, hy + s, hx + s, hy + s, hx + s, hy])
      area -= s * s
    }
    return { rings, area }
  })

const randomPolygon = fc.array(
  fc.array(fc.double({ min: -2, max: 22, noNaN: true }), { minLength: 6, maxLength: 16 }),
  { minLength: 1, maxLength: 3 },
)
const evenRings = (rings: number[][]) =>
  rings.map((r) => (r.length % 2 ? r.slice(1) : r)).filter((r) => r.length >= 6)

describe('rasterizePolygon', () => {
  it('fills as many pixels as the area of an axis-aligned polygon, holes cut out, at any offset', () => {
    fc.assert(
      fc.property(histogramPolygon, ({ rings, area }) => {
        expect(polygonArea(rings)).toBeCloseTo(area, 9)
        expect(count(rasterizePolygon(rings, 40, 30))).toBe(area)
      }),
      { numRuns: 300 },
    )
  })

  it('fills exactly the pixels whose centres the point-in-polygon test puts inside', () => {
    const integerPolygon = fc.array(
      fc.array(fc.integer({ min: -2, max: 22 }), { minLength: 6, maxLength: 16 }),
      { minLength: 1, maxLength: 3 },
    )
    fc.assert(
      fc.property(fc.oneof(randomPolygon, integerPolygon), (raw) => {
        const rings = evenRings(raw)
        const inside = new Uint8Array(400)
        for (let i = 0; i < 400; i++)
          inside[i] = insidePolygon(rings, (i % 20) + 0.5, Math.floor(i / 20) + 0.5) ? 1 : 0
        expect([...rasterizePolygon(rings, 20, 20)]).toEqual([...inside])
      }),
      { numRuns: 200 },
    )
  })

  it('gives a pixel to exactly one of two polygons that share an edge', () => {
    const split = fc.record({
      x0: fc.double({ min: 0, max: 5, noNaN: true }),
      y0: fc.double({ min: 0, max: 5, noNaN: true }),
      w: fc.double({ min: 2, max: 12, noNaN: true }),
      h: fc.double({ min: 1, max: 12, noNaN: true }),
      a: fc.double({ min: 0, max: 1, noNaN: true }),
      b: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    fc.assert(
      fc.property(split, ({ x0, y0, w, h, a, b }) => {
        const [x1, y1] = [x0 + w, y0 + h]
        const [top, bottom] = [x0 + a * w, x0 + b * w]
        const left = rasterizePolygon([[x0, y0, top, y0, bottom, y1, x0, y1]], 20, 20)
        const right = rasterizePolygon([[top, y0, x1, y0, x1, y1, bottom, y1]], 20, 20)
        const box = rasterizeBox({ x: x0, y: y0, width: w, height: h }, 20, 20)
        expect(left.some((v, i) => v & right[i])).toBe(false)
        expect([...left.map((v, i) => v | right[i])]).toEqual([...box])
      }),
      { numRuns: 300 },
    )
  })

  it('rasterises into a window as the same pixels cut from the whole image', () => {
    const window = fc.record({
      x: fc.integer({ min: -3, max: 15 }),
      y: fc.integer({ min: -3, max: 15 }),
      width: fc.integer({ min: 1, max: 10 }),
      height: fc.integer({ min: 1, max: 10 }),
    })
    fc.assert(
      fc.property(randomPolygon, window, (raw, win) => {
        const rings = evenRings(raw)
        const full = rasterizePolygon(rings, 40, 40, { x: -10, y: -10 })
        const part = rasterizePolygon(rings, win.width, win.height, win)
        for (let r = 0; r < win.height; r++)
          for (let c = 0; c < win.width; c++)
            expect(part[r * win.width + c]).toBe(full[(win.y + 10 + r) * 40 + win.x + 10 + c])
      }),
      {
        // Found by a long run (shrunk): a sliver whose edges cross row 0's centre line a hair
        // either side of pixel 0's centre (x = ½); the whole image, computing in its window's
        // coordinates, rounded the left crossing onto the centre and filled the pixel.
        examples: [
          [
            [[0, 0, 21.999999999999982, 21.999999999999975, 0, 1.387778780781446e-16]],
            { x: 0, y: 0, width: 1, height: 1 },
          ],
        ],
      },
    )
  })
})

describe('rasterizeBox and rasterizeGeometry', () => {
  it('fills a box as the polygon of its four corners', () => {
    const box = fc.record({
      x: fc.double({ min: -3, max: 15, noNaN: true }),
      y: fc.double({ min: -3, max: 15, noNaN: true }),
      width: fc.double({ min: 0, max: 12, noNaN: true }),
      height: fc.double({ min: 0, max: 12, noNaN: true }),
    })
    fc.assert(
      fc.property(box, ({ x, y, width, height }) => {
        const ring = [x, y, x + width, y, x + width, y + height, x, y + height]
        expect([...rasterizeBox({ x, y, width, height }, 16, 16)]).toEqual([
          ...rasterizePolygon([ring], 16, 16),
        ])
      }),
    )
    // Integer boxes cover exactly their pixels.
    expect(count(rasterizeBox({ x: 2, y: 3, width: 4, height: 5 }, 10, 10))).toBe(20)
  })

  it('places a stored mask at its offset and gives no area to points and polylines', () => {
    const data = Uint8Array.of(1, 0, 1, 1)
    const geometry = encodeMaskRle({ x: 3, y: 1, width: 2, height: 2, data })
    const out = rasterizeGeometry({ kind: 'mask', geometry }, 6, 4)!
    expect([...out]).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0,
    ])
    expect(decodeMaskRle(geometry).data).toEqual(data)
    expect(rasterizeGeometry({ kind: 'points', geometry: { points: [1, 1] } }, 4, 4)).toBeNull()
    expect(
      rasterizeGeometry({ kind: 'polyline', geometry: { points: [0, 0, 3, 3] } }, 4, 4),
    ).toBeNull()
  })
})
