// Clamped offsets keep any shape that fits inside the area, and move it as little as possible.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clampOffset } from './placement.ts'

const area = { minX: -100, minY: -100, maxX: 500, maxY: 400 }

describe('clamped offsets', () => {
  it('keep a shape that fits inside the area once moved, and leave offsets that need no clamp alone', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -300, max: 700, noNaN: true }),
        fc.double({ min: 0, max: 700, noNaN: true }),
        fc.double({ min: -1e9, max: 1e9, noNaN: true }),
        (minX, width, dx) => {
          const maxX = minX + width
          // An exact fit is decided by rounding either way.
          fc.pre(Math.abs(maxX - minX - (area.maxX - area.minX)) > 1e-6)
          const bounds = { minX, maxX, minY: 0, maxY: 10 }
          const offset = clampOffset(bounds, area, { x: dx, y: 0 })
          if (maxX - minX > area.maxX - area.minX) {
            expect(offset).toBeNull()
            return
          }
          expect(offset).not.toBeNull()
          expect(minX + offset!.x).toBeGreaterThanOrEqual(area.minX)
          expect(maxX + offset!.x).toBeLessThanOrEqual(area.maxX)
          if (minX + dx >= area.minX && maxX + dx <= area.maxX) expect(offset!.x).toBe(dx)
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('never pushes a shape resting on the edge back inside when it is dragged outward', () => {
    const bounds = { minX: -100, minY: 0, maxX: -50, maxY: 10 }
    expect(clampOffset(bounds, area, { x: -30, y: 0 })).toEqual({ x: 0, y: 0 })
  })
})
