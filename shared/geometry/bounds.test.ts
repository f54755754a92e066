import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { noiseMask } from './arbitraryMasks.ts'
import { geometryBounds, maskBounds, pixelWindowOf, ringsBounds } from './bounds.ts'
import { rasterizePolygon } from './rasterize.ts'

describe('bounds', () => {
  it('gives the window of exactly the pixels a polygon can fill', () => {
    const polygon = fc.array(fc.double({ min: 0, max: 30, noNaN: true }), {
      minLength: 6,
      maxLength: 20,
    })
    fc.assert(
      fc.property(polygon, (raw) => {
        const ring = raw.length % 2 ? raw.slice(1) : raw
        const window = pixelWindowOf(ringsBounds([ring]))
        const mask = rasterizePolygon([ring], 32, 32)
        const filled = maskBounds(mask, 32, 32)
        if (!filled) return
        // Every filled pixel lies in the window.
        expect(filled.x).toBeGreaterThanOrEqual(window.x)
        expect(filled.y).toBeGreaterThanOrEqual(window.y)
        expect(filled.x + filled.width).toBeLessThanOrEqual(window.x + window.width)
        expect(filled.y + filled.height).toBeLessThanOrEqual(window.y + window.height)
        // Rasterising only the window gives all of them.
        const part = rasterizePolygon([ring], window.width, window.height, window)
        expect(part.reduce((a, b) => a + b, 0)).toBe(mask.reduce((a, b) => a + b, 0))
      }),
    )
  })

  it('takes pixel centres, not corners: a box from 0.6 to 1.4 holds no centre', () => {
    expect(pixelWindowOf({ minX: 0.6, minY: 0, maxX: 1.4, maxY: 1 }).width).toBe(0)
    expect(pixelWindowOf({ minX: 0.5, minY: 0.5, maxX: 2.5, maxY: 1 })).toEqual({
      x: 0,
      y: 0,
      width: 2,
      height: 1,
    })
  })

  it('bounds every kind of geometry', () => {
    expect(geometryBounds({ kind: 'polygon', geometry: { rings: [[1, 2, 5, 2, 3, 7]] } })).toEqual({
      minX: 1,
      minY: 2,
      maxX: 5,
      maxY: 7,
    })
    expect(geometryBounds({ kind: 'box', geometry: { x: 1, y: 2, width: 3, height: 4 } })).toEqual({
      minX: 1,
      minY: 2,
      maxX: 4,
      maxY: 6,
    })
    expect(geometryBounds({ kind: 'points', geometry: { points: [4, 4] } })).toEqual({
      minX: 4,
      minY: 4,
      maxX: 4,
      maxY: 4,
    })
  })

  it('finds the tight window of a mask, or null when it is empty', () => {
    fc.assert(
      fc.property(noiseMask(12), ({ width, height, data }) => {
        const b = maskBounds(data, width, height)
        const set: [number, number][] = []
        data.forEach((v, i) => {
          if (v) set.push([i % width, Math.floor(i / width)])
        })
        if (set.length === 0) {
          expect(b).toBeNull()
          return
        }
        const xs = set.map(([x]) => x)
        const ys = set.map(([, y]) => y)
        expect(b).toEqual({
          x: Math.min(...xs),
          y: Math.min(...ys),
          width: Math.max(...xs) - Math.min(...xs) + 1,
          height: Math.max(...ys) - Math.min(...ys) + 1,
        })
      }),
    )
  })
})
