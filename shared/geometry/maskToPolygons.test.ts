import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { blobMask, noiseMask } from './arbitraryMasks.ts'
import { maskIoU } from './iou.ts'
import { maskToPolygons, type PolygonRings } from './maskToPolygons.ts'
import { crossingRings, signedArea } from './polygon.ts'
import { rasterizePolygon } from './rasterize.ts'

function rasterizeAll(polygons: PolygonRings[], width: number, height: number) {
  const out = new Uint8Array(width * height)
  let overlaps = 0
  for (const polygon of polygons) {
    const part = rasterizePolygon(polygon.rings, width, height)
    for (let i = 0; i < out.length; i++) {
      overlaps += out[i] & part[i]
      out[i] |= part[i]
    }
  }
  // Polygons are separate components: no pixel is claimed twice.
  expect(overlaps).toBe(0)
  return out
}

describe('maskToPolygons', () => {
  it('traces polygons whose rasterisation is exactly the mask (noise: many components, holes, diagonal touches)', () => {
    fc.assert(
      fc.property(noiseMask(16), ({ width, height, data }) => {
        const polygons = maskToPolygons(data, width, height)
        expect([...rasterizeAll(polygons, width, height)]).toEqual([...data])
        for (const { rings } of polygons) {
          expect(signedArea(rings[0])).toBeGreaterThan(0)
          for (const hole of rings.slice(1)) expect(signedArea(hole)).toBeLessThan(0)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('traces blobs with holes exactly, with each hole inside its own polygon', () => {
    const blobs = blobMask({
      side: 40,
      minRadius: 2,
      maxRadius: 14,
      maxBlobs: 5,
      maxHoles: 4,
      holeRadius: 4,
    })
    fc.assert(
      fc.property(blobs, ({ width, height, data }) => {
        const polygons = maskToPolygons(data, width, height)
        expect([...rasterizeAll(polygons, width, height)]).toEqual([...data])
      }),
      { numRuns: 100 },
    )
  })

  it('gives a ring with a hole for a ring-shaped object, and splits diagonal neighbours', () => {
    const ring = Uint8Array.from([1, 1, 1, 1, 0, 1, 1, 1, 1])
    const [donut, ...rest] = maskToPolygons(ring, 3, 3)
    expect(rest).toEqual([])
    expect(donut.rings).toHaveLength(2)
    expect(signedArea(donut.rings[0])).toBe(9)
    expect(signedArea(donut.rings[1])).toBe(-1)
    // Only corners where the outline turns are vertices.
    expect(donut.rings[0]).toHaveLength(8)
    const diagonal = Uint8Array.from([1, 0, 0, 1])
    expect(maskToPolygons(diagonal, 2, 2)).toHaveLength(2)
  })

  it('puts an island inside a hole into a polygon of its own', () => {
    // 5×5 frame, empty ring inside, one pixel in the middle.
    const rows = ['11111', '10001', '10101', '10001', '11111']
    const data = Uint8Array.from(rows.join(''), (c) => Number(c))
    const polygons = maskToPolygons(data, 5, 5)
    expect(polygons.map((p) => p.rings.map(signedArea))).toEqual([[25, -9], [1]])
  })

  it('adds the mask origin to every vertex', () => {
    const [square] = maskToPolygons(Uint8Array.of(1), 1, 1, { originX: 10, originY: 20 })
    expect(square.rings).toEqual([[11, 20, 11, 21, 10, 21, 10, 20]])
  })

  it('simplifies blobs at 0.5–1 px keeping IoU ≥ 0.95, fewer vertices and no crossing rings', () => {
    const blobs = blobMask({
      side: 64,
      minRadius: 8,
      maxRadius: 24,
      maxBlobs: 3,
      maxHoles: 2,
      holeRadius: 5,
      inside: true,
    })
    fc.assert(
      fc.property(
        blobs,
        fc.double({ min: 0.5, max: 1, noNaN: true }),
        ({ width, height, data }, tolerance) => {
          const exact = maskToPolygons(data, width, height)
          const simple = maskToPolygons(data, width, height, { tolerance })
          expect(simple).toHaveLength(exact.length)
          const vertices = (ps: PolygonRings[]) =>
            ps.reduce((n, p) => n + p.rings.reduce((m, r) => m + r.length, 0), 0)
          expect(vertices(simple)).toBeLessThanOrEqual(vertices(exact))
          for (const polygon of simple) expect(crossingRings(polygon.rings).size).toBe(0)
          const back = new Uint8Array(width * height)
          for (const polygon of simple) {
            const part = rasterizePolygon(polygon.rings, width, height)
            for (let i = 0; i < back.length; i++) back[i] |= part[i]
          }
          expect(maskIoU(back, data)).toBeGreaterThanOrEqual(0.95)
        },
      ),
      { numRuns: Number(process.env.GEOMETRY_RUNS ?? 60) },
    )
  })

  it('simplifies a staircase disc to far fewer vertices', () => {
    const size = 64
    const disc = new Uint8Array(size * size)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        disc[y * size + x] = (x + 0.5 - 32) ** 2 + (y + 0.5 - 32) ** 2 < 25 ** 2 ? 1 : 0
    const [exact] = maskToPolygons(disc, size, size)
    const [simple] = maskToPolygons(disc, size, size, { tolerance: 0.7 })
    expect(simple.rings[0].length).toBeLessThan(exact.rings[0].length * 0.5)
  })
})
