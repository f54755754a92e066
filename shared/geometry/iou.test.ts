import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { noiseMask } from './arbitraryMasks.ts'
import { boxIoU, maskIoU, placedMaskIoU } from './iou.ts'
import { rasterizeBox } from './rasterize.ts'

describe('IoU', () => {
  it('measures overlap of masks, with two empty masks in full agreement', () => {
    expect(maskIoU(Uint8Array.of(1, 1, 0, 0), Uint8Array.of(0, 1, 1, 0))).toBeCloseTo(1 / 3)
    expect(maskIoU(Uint8Array.of(0, 0), Uint8Array.of(0, 0))).toBe(1)
    expect(() => maskIoU(Uint8Array.of(1), Uint8Array.of(1, 0))).toThrow(/differ in size/)
  })

  it('gives placed masks the IoU of the same masks painted into one image', () => {
    const placed = fc
      .record({ x: fc.integer({ min: 0, max: 8 }), y: fc.integer({ min: 0, max: 8 }) })
      .chain((at) => noiseMask(8).map((m) => ({ ...at, ...m })))
    fc.assert(
      fc.property(placed, placed, (a, b) => {
        const paint = (m: typeof a) => {
          const out = new Uint8Array(16 * 16)
          m.data.forEach((v, i) => {
            out[(m.y + Math.floor(i / m.width)) * 16 + m.x + (i % m.width)] = v
          })
          return out
        }
        expect(placedMaskIoU(a, b)).toBeCloseTo(maskIoU(paint(a), paint(b)), 12)
      }),
    )
  })

  it('gives integer boxes the IoU of their pixels', () => {
    const box = fc.record({
      x: fc.integer({ min: 0, max: 10 }),
      y: fc.integer({ min: 0, max: 10 }),
      width: fc.integer({ min: 0, max: 8 }),
      height: fc.integer({ min: 0, max: 8 }),
    })
    fc.assert(
      fc.property(box, box, (a, b) => {
        const pixels = maskIoU(rasterizeBox(a, 20, 20), rasterizeBox(b, 20, 20))
        expect(boxIoU(a, b)).toBeCloseTo(pixels, 12)
      }),
    )
  })
})
