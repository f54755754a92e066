// The rectangles cover exactly the mask's foreground, at most three per run, in time bounded by
// the runs even for a mask of 9e7 × 9e7 pixels.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { noiseMask } from '../../../../shared/geometry/arbitraryMasks.ts'
import { decodeMaskRle, encodeMaskRle } from '../../../../shared/geometry/mask.ts'
import { forEachMaskRect } from './maskRects.ts'

describe('mask rectangles', () => {
  it('cover each foreground pixel exactly once and nothing else, at most three per run', () => {
    fc.assert(
      fc.property(noiseMask(12), fc.integer({ min: -50, max: 50 }), (sized, x) => {
        const mask = { ...sized, x, y: -x }
        const rle = encodeMaskRle(mask)
        const covered = new Uint8Array(mask.width * mask.height)
        let rects = 0
        forEachMaskRect(rle, (x, y, width, height) => {
          rects++
          for (let row = y - rle.y; row < y - rle.y + height; row++)
            for (let col = x - rle.x; col < x - rle.x + width; col++)
              covered[row * mask.width + col]++
        })
        expect(covered).toEqual(decodeMaskRle(rle).data)
        expect(rects).toBeLessThanOrEqual(3 * Math.floor(rle.counts.length / 2))
      }),
      { numRuns: 200 },
    )
  })

  it('draws a 9e7 × 9e7 mask as three rectangles at once', () => {
    const side = 9e7
    const start = performance.now()
    const rects: number[][] = []
    forEachMaskRect(
      { x: 0, y: 0, width: side, height: side, counts: [5, side * side - 10, 5] },
      (...r) => rects.push(r),
    )
    expect(performance.now() - start).toBeLessThan(50)
    expect(rects).toEqual([
      [5, 0, side - 5, 1],
      [0, side - 1, side - 5, 1],
      [0, 1, side, side - 2],
    ])
  })
})
