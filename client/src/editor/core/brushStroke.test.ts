// A stroke inside the rectangle is rasterised as it always was; what leaves it is cut off
// before any pixel is allocated for it.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cropMask, rasterizeStroke } from '../../../../shared/geometry/mask.ts'
import { clipPolyline, strokeInside } from './brushStroke.ts'

const rectangle = { minX: 0, minY: 0, maxX: 64, maxY: 48 }

describe('brush stroke inside a rectangle', () => {
  it('equals the plain rasterised stroke when the stroke stays inside', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 8, max: 56 }), fc.double({ min: 8, max: 40 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.double({ min: 0.5, max: 6 }),
        (pairs, radius) => {
          const points = pairs.flat()
          const expected = cropMask(rasterizeStroke(points, radius))
          expect(strokeInside(points, radius, rectangle, 1e6)).toEqual(expected)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('keeps to the rectangle for a stroke that runs a million pixels out, and drops one wholly outside', () => {
    const start = performance.now()
    const mask = strokeInside([60, 20, 1e6, 20, 1e6, 1e6], 3, rectangle, 1e6)!
    expect(performance.now() - start).toBeLessThan(100)
    expect(mask.x + mask.width).toBe(64)
    expect(mask.x).toBe(57)
    expect(strokeInside([1e5, 1e5, 2e5, 2e5], 3, rectangle, 1e6)).toBeNull()
  })

  it('refuses a piece of stroke larger than the limit', () => {
    expect(() => strokeInside([0, 0, 64, 48], 2, rectangle, 1000)).toThrow(
      /more than the limit of 1000/,
    )
  })

  it('cuts a polyline into the pieces inside', () => {
    const r = { minX: 0, minY: 0, maxX: 10, maxY: 10 }
    expect(clipPolyline([5, 5, 20, 5, 20, 8, 5, 8], r)).toEqual([
      [5, 5, 10, 5],
      [10, 8, 5, 8],
    ])
    expect(clipPolyline([5, 5], r)).toEqual([[5, 5]])
    expect(clipPolyline([50, 5], r)).toEqual([])
  })
})
