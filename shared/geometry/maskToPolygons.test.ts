import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { maskToPolygons } from './maskToPolygons.ts'
import { rasterizePolygon, signedArea } from './polygon.ts'

const arbitraryMask = fc
  .record({ width: fc.integer({ min: 1, max: 14 }), height: fc.integer({ min: 1, max: 14 }) })
  .chain(({ width, height }) =>
    fc
      .uint8Array({ minLength: width * height, maxLength: width * height, max: 1 })
      .map((data) => ({ width, height, data })),
  )

function rasterizeAll(polygons: { rings: number[][] }[], width: number, height: number) {
  const out = new Uint8Array(width * height)
  for (const polygon of polygons) {
    const part = rasterizePolygon(polygon.rings, width, height)
    for (let i = 0; i < out.length; i++) out[i] |= part[i]
  }
  return out
}

describe('maskToPolygons', () => {
  it('traces polygons whose rasterisation is exactly the mask (random masks with holes and pinches)', () => {
    fc.assert(
      fc.property(arbitraryMask, ({ width, height, data }) => {
        const polygons = maskToPolygons(data, width, height)
        expect([...rasterizeAll(polygons, width, height)]).toEqual([...data])
      }),
      { numRuns: 300 },
    )
  })

  it('gives a ring with a hole for a ring-shaped object, and splits diagonal neighbours', () => {
    const ring = Uint8Array.from([1, 1, 1, 1, 0, 1, 1, 1, 1])
    const [donut] = maskToPolygons(ring, 3, 3)
    expect(donut.rings).toHaveLength(2)
    expect(signedArea(donut.rings[0])).toBe(9)
    expect(signedArea(donut.rings[1])).toBe(-1)
    const diagonal = Uint8Array.from([1, 0, 0, 1])
    expect(maskToPolygons(diagonal, 2, 2)).toHaveLength(2)
  })

  it('simplifies a staircase disc and keeps it close to the mask', () => {
    const size = 64
    const disc = new Uint8Array(size * size)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        disc[y * size + x] = (x - 31.5) ** 2 + (y - 31.5) ** 2 < 25 ** 2 ? 1 : 0
    const exact = maskToPolygons(disc, size, size)
    const simple = maskToPolygons(disc, size, size, { tolerance: 0.7 })
    expect(simple[0].rings[0].length).toBeLessThan(exact[0].rings[0].length * 0.7)
    const back = rasterizeAll(simple, size, size)
    let intersection = 0
    let union = 0
    for (let i = 0; i < disc.length; i++) {
      intersection += disc[i] & back[i]
      union += disc[i] | back[i]
    }
    expect(intersection / union).toBeGreaterThan(0.97)
  })
})
