import { describe, expect, it } from 'vitest'
import { encodeClicks } from './clickEncoding.ts'
import fixture from './fixtures/clickEncoding.json' with { type: 'json' }

describe('encodeClicks', () => {
  it('gives the same float32 maps as the trainer (fixture written by clicks.py)', () => {
    for (const c of fixture.cases) {
      const maps = encodeClicks(c.clicks, c.featureHeight, c.featureWidth, c.stride, c.sigma)
      expect(maps.length).toBe(c.maps.length)
      for (let i = 0; i < maps.length; i++) {
        // Same float64 arithmetic rounded once to float32: equal up to one float32 ulp.
        expect(Math.abs(maps[i] - c.maps[i])).toBeLessThanOrEqual(Math.abs(c.maps[i]) * 2 ** -23)
      }
    }
  })

  it('peaks at the clicked cell, positive and negative in separate maps', () => {
    const maps = encodeClicks([{ x: 10, y: 6, positive: false }], 4, 4, 4, 3)
    const negative = maps.subarray(16)
    expect(Math.max(...maps.subarray(0, 16))).toBe(0)
    expect(negative.indexOf(Math.max(...negative))).toBe(1 * 4 + 2)
  })
})
