import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { distanceTransform } from './distanceTransform.ts'

/** Brute force: distance from each inside pixel to the nearest outside pixel (or border). */
function bruteForce(mask: Uint8Array, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue
      // Pixels just outside the image count as background.
      let best = Math.min(x + 1, y + 1, width - x, height - y) ** 2
      for (let v = 0; v < height; v++) {
        for (let u = 0; u < width; u++) {
          if (!mask[v * width + u]) best = Math.min(best, (u - x) ** 2 + (v - y) ** 2)
        }
      }
      out[y * width + x] = Math.sqrt(best)
    }
  }
  return out
}

describe('distanceTransform', () => {
  it('equals the brute-force Euclidean distance on random masks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.infiniteStream(fc.boolean()),
        (width, height, bits) => {
          const mask = new Uint8Array(width * height)
          const it = bits[Symbol.iterator]()
          for (let i = 0; i < mask.length; i++) mask[i] = it.next().value ? 1 : 0
          const fast = distanceTransform(mask, width, height)
          const slow = bruteForce(mask, width, height)
          for (let i = 0; i < mask.length; i++) expect(fast[i]).toBeCloseTo(slow[i], 4)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('puts the maximum of a disc at its centre', () => {
    const size = 41
    const mask = new Uint8Array(size * size)
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++)
        mask[y * size + x] = (x - 20) ** 2 + (y - 20) ** 2 <= 15 ** 2 ? 1 : 0
    }
    const distances = distanceTransform(mask, size, size)
    const max = Math.max(...distances)
    expect(distances[20 * size + 20]).toBe(max)
    expect(max).toBeGreaterThan(15)
    expect(max).toBeLessThan(17)
  })
})
