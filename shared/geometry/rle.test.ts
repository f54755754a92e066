import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { noiseMask } from './arbitraryMasks.ts'
import { maskBounds } from './bounds.ts'
import { decodeMaskRle, encodeMaskRle } from './mask.ts'
import { rasterizeBox, rasterizeGeometry } from './rasterize.ts'
import {
  cocoRleArea,
  cocoRleToMaskGeometry,
  compressCocoRle,
  decodeCocoRle,
  decompressCocoRle,
  encodeCocoRle,
  maskGeometryToCocoRle,
} from './rle.ts'

const count = (mask: Uint8Array) => mask.reduce((n, v) => n + (v ? 1 : 0), 0)

describe('COCO RLE', () => {
  it('round-trips random masks through both forms', () => {
    fc.assert(
      fc.property(noiseMask(24), ({ width, height, data }) => {
        const rle = encodeCocoRle(data, width, height)
        expect(rle.size).toEqual([height, width])
        expect(rle.counts.reduce((a, b) => a + b, 0)).toBe(width * height)
        expect(cocoRleArea(rle)).toBe(count(data))
        expect([...decodeCocoRle(rle)]).toEqual([...data])
        const compressed = compressCocoRle(rle)
        expect(typeof compressed.counts).toBe('string')
        expect(decompressCocoRle(compressed)).toEqual(rle)
        expect([...decodeCocoRle(compressed)]).toEqual([...data])
      }),
      { numRuns: 300 },
    )
  })

  it('round-trips counts that need several characters and negative differences', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5_000_000 }), { minLength: 1, maxLength: 40 }),
        (counts) => {
          const total = counts.reduce((a, b) => a + b, 0)
          const rle = { size: [1, total] as [number, number], counts }
          expect(decompressCocoRle(compressCocoRle(rle)).counts).toEqual(counts)
        },
      ),
    )
  })

  it('runs down columns, as COCO does', () => {
    // 2×2 with only the top-right pixel set: column 0 is empty, column 1 starts with it.
    expect(encodeCocoRle(Uint8Array.of(0, 1, 0, 0), 2, 2).counts).toEqual([2, 1, 1])
    expect(encodeCocoRle(Uint8Array.of(1, 1, 1, 1), 2, 2).counts).toEqual([0, 4])
    expect(encodeCocoRle(Uint8Array.of(0, 0, 0, 0), 2, 2).counts).toEqual([4])
  })

  it('writes the strings pycocotools writes for 5×5 squares in a 25×25 image', () => {
    // Reference strings from pycocotools.mask.encode of these masks (np.asfortranarray).
    const cases: [number, string][] = [
      [0, '05d00000000d?'],
      [5, 'R45d00000000b;'],
      [20, 'X`05d00000000'],
    ]
    for (const [corner, expected] of cases) {
      const mask = rasterizeBox({ x: corner, y: corner, width: 5, height: 5 }, 25, 25)
      expect(compressCocoRle(encodeCocoRle(mask, 25, 25)).counts).toBe(expected)
      expect([...decodeCocoRle({ size: [25, 25], counts: expected })]).toEqual([...mask])
    }
  })

  it('refuses counts that do not cover the image and strings with foreign characters', () => {
    expect(() => decodeCocoRle({ size: [2, 2], counts: [1, 2] })).toThrow(/cover 3 of 4/)
    expect(() => decodeCocoRle({ size: [2, 2], counts: [3, 2] })).toThrow(/do not fit/)
    expect(() => decodeCocoRle({ size: [2, 2], counts: '0 ' })).toThrow(/invalid character/)
    expect(() => decodeCocoRle({ size: [2, 2], counts: 'h' })).toThrow(/ends inside a count/)
  })

  it('converts stored mask geometry to and from image COCO RLE, clipping at the image edge', () => {
    const arbitraryPlacedMask = fc
      .record({ x: fc.integer({ min: -6, max: 20 }), y: fc.integer({ min: -6, max: 20 }) })
      .chain((at) => noiseMask(10).map((m) => ({ ...at, ...m })))
    fc.assert(
      fc.property(arbitraryPlacedMask, (placed) => {
        const [imageWidth, imageHeight] = [18, 15]
        const geometry = encodeMaskRle(placed)
        const rle = maskGeometryToCocoRle(geometry, imageWidth, imageHeight)
        const expected = rasterizeGeometry(
          { kind: 'mask', geometry },
          imageWidth,
          imageHeight,
        ) as Uint8Array
        expect([...decodeCocoRle(rle)]).toEqual([...expected])
        const back = cocoRleToMaskGeometry(rle)
        if (count(expected) === 0) expect(back).toBeNull()
        else {
          // Cropped to its content, it paints the same pixels.
          const decoded = decodeMaskRle(back!)
          expect(maskBounds(decoded.data, decoded.width, decoded.height)).toEqual({
            x: 0,
            y: 0,
            width: decoded.width,
            height: decoded.height,
          })
          expect([...rasterizeGeometry({ kind: 'mask', geometry: back! }, 18, 15)!]).toEqual([
            ...expected,
          ])
          expect(count(decoded.data)).toBe(count(expected))
        }
      }),
      { numRuns: 200 },
    )
  })
})
