// The grid finds what a plain scan finds, and stays bounded in time whatever bounds it is given.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Bounds, SpatialIndex } from './spatialIndex.ts'

const intersects = (b: Bounds, a: Bounds) =>
  b.maxX >= a.minX && b.minX <= a.maxX && b.maxY >= a.minY && b.minY <= a.maxY

/** Runs `f` and returns how long it took, in milliseconds. */
function timed(f: () => void) {
  const start = performance.now()
  f()
  return performance.now() - start
}

const coordinate = fc.oneof(
  fc.double({ min: -2000, max: 2000, noNaN: true }),
  fc.constantFrom(-1e300, 1e300, -1e9, 1e9, 2 ** 53, -(2 ** 53)),
)
const bounds = fc.tuple(coordinate, coordinate, coordinate, coordinate).map(([a, b, c, d]) => ({
  minX: Math.min(a, b),
  maxX: Math.max(a, b),
  minY: Math.min(c, d),
  maxY: Math.max(c, d),
}))

describe('spatial index', () => {
  it('returns exactly the items a scan finds, each once, for any bounds (with and without an extent)', () => {
    fc.assert(
      fc.property(
        fc.array(bounds, { maxLength: 30 }),
        bounds,
        fc.boolean(),
        (items, area, withExtent) => {
          const extent = withExtent ? { minX: -100, minY: -100, maxX: 900, maxY: 700 } : null
          const index = new SpatialIndex<number>(128, extent)
          for (const [i, b] of items.entries()) index.insert(i, b)
          const found = index.query(area).sort((a, b) => a - b)
          const expected = items.flatMap((b, i) => (intersects(b, area) ? [i] : []))
          expect(found).toEqual(expected)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('inserts and queries a box of 1e6 × 1e6 px and one at ±1e300 in milliseconds', () => {
    const index = new SpatialIndex<string>(128, { minX: -200, minY: -200, maxX: 1000, maxY: 800 })
    const elapsed = timed(() => {
      index.insert('huge', { minX: 0, minY: 0, maxX: 1e6, maxY: 1e6 })
      index.insert('far', { minX: -1e300, minY: -1e300, maxX: 1e300, maxY: 1e300 })
      index.insert('precision', { minX: 1e300, minY: 1e300, maxX: 1e300, maxY: 1e300 })
      index.insert('small', { minX: 10, minY: 10, maxX: 20, maxY: 20 })
      expect(index.query({ minX: 15, minY: 15, maxX: 16, maxY: 16 }).sort()).toEqual([
        'far',
        'huge',
        'small',
      ])
      expect(index.query({ minX: -1e300, minY: -1e300, maxX: 1e300, maxY: 1e300 })).toHaveLength(4)
    })
    expect(elapsed).toBeLessThan(100)
  })

  it('stays bounded without an extent, and ignores bounds that are not numbers', () => {
    const index = new SpatialIndex<string>()
    const elapsed = timed(() => {
      index.insert('huge', { minX: -9e7, minY: -9e7, maxX: 9e7, maxY: 9e7 })
      index.insert('nan', { minX: Number.NaN, minY: 0, maxX: 1, maxY: 1 })
      index.insert('far', { minX: 1e300, minY: 1e300, maxX: 1e300 + 1, maxY: 1e300 + 1 })
      expect(index.query({ minX: 0, minY: 0, maxX: 1, maxY: 1 })).toEqual(['huge'])
      expect(index.query({ minX: 1e300, minY: 1e300, maxX: 1e300, maxY: 1e300 })).toEqual(['far'])
      expect(index.query({ minX: -1e308, minY: -1e308, maxX: 1e308, maxY: 1e308 })).toHaveLength(2)
      expect(index.query({ minX: Number.NaN, minY: 0, maxX: 1, maxY: 1 })).toEqual([])
    })
    expect(elapsed).toBeLessThan(100)
  })
})
