import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  combineMasks,
  decodeMaskRle,
  encodeMaskRle,
  maskArea,
  maskRowRuns,
  rasterizeStroke,
} from './mask.ts'

const arbitraryMask = fc
  .record({
    x: fc.integer({ min: -5, max: 50 }),
    y: fc.integer({ min: -5, max: 50 }),
    width: fc.integer({ min: 1, max: 12 }),
    height: fc.integer({ min: 1, max: 12 }),
  })
  .chain((box) =>
    fc
      .uint8Array({ minLength: box.width * box.height, maxLength: box.width * box.height, max: 1 })
      .map((data) => ({ ...box, data })),
  )

describe('raster masks', () => {
  it('round-trips through run lengths, which always cover the box', () => {
    fc.assert(
      fc.property(arbitraryMask, (mask) => {
        const rle = encodeMaskRle(mask)
        expect(rle.counts.reduce((a, b) => a + b, 0)).toBe(mask.width * mask.height)
        expect(decodeMaskRle(rle)).toEqual(mask)
        const runPixels = maskRowRuns(rle).reduce((sum, [, , length]) => sum + length, 0)
        expect(runPixels).toBe(maskArea(mask))
      }),
    )
  })

  it('paints a round brush by pixel centres and bridges fast strokes', () => {
    const dot = rasterizeStroke([10, 10], 1)
    // Centres within 1 px of (10, 10): the four pixels around it.
    expect(maskArea(dot)).toBe(4)
    const line = rasterizeStroke([0, 5, 40, 5], 2)
    for (let x = 1; x < 39; x++) {
      const col = x - line.x
      expect(line.data[(5 - line.y) * line.width + col]).toBe(1)
    }
  })

  it('unites and subtracts masks, cropping to what is left', () => {
    const a = rasterizeStroke([10, 10], 3)
    const b = rasterizeStroke([14, 10], 3)
    const union = combineMasks(a, b, 'union')!
    expect(maskArea(union)).toBeGreaterThan(maskArea(a))
    const rest = combineMasks(union, b, 'subtract')!
    expect(maskArea(rest)).toBe(maskArea(union) - maskArea(b))
    expect(combineMasks(a, rasterizeStroke([10, 10], 10), 'subtract')).toBeNull()
  })
})
