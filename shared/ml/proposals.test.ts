import { describe, expect, it } from 'vitest'
import { distanceTransform } from './distanceTransform.ts'
import fixture from './fixtures/proposals.json' with { type: 'json' }
import { matchInstances } from './metrics.ts'
import { proposeInstances } from './proposals.ts'

/** Two touching discs and one separate disc, as a perfect automatic head would see them. */
function scene() {
  const width = 64
  const height = 48
  const truth = new Uint32Array(width * height)
  const discs = [
    { x: 16, y: 20, r: 9 },
    { x: 32, y: 20, r: 9 },
    { x: 50, y: 36, r: 6 },
  ]
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      discs.forEach((d, k) => {
        const inside = (x + 0.5 - d.x) ** 2 + (y + 0.5 - d.y) ** 2 <= d.r ** 2
        if (inside && !truth[y * width + x]) truth[y * width + x] = k + 1
      })
    }
  }
  // Logits of a confident head: foreground where the truth is, distance positive near centres.
  const foreground = Float32Array.from(truth, (l) => (l ? 3 : -4))
  // Distance to each object's own boundary: touching objects stay separate.
  const distance = new Float32Array(width * height)
  for (let k = 1; k <= discs.length; k++) {
    const own = Uint8Array.from(truth, (l) => (l === k ? 1 : 0))
    const d = distanceTransform(own, width, height)
    for (let i = 0; i < d.length; i++) distance[i] = own[i] ? d[i] - 3 : distance[i] || -5
  }
  return { width, height, truth, foreground, distance }
}

describe('proposeInstances', () => {
  it('splits touching objects and finds every object with its score and box', () => {
    const { width, height, truth, foreground, distance } = scene()
    const { labels, proposals } = proposeInstances({ width, height, foreground, distance })
    expect(proposals).toHaveLength(3)
    const matching = matchInstances(truth, labels, 0.5)
    expect(matching.averagePrecision).toBe(1)
    expect(matching.meanMatchedIoU).toBeGreaterThan(0.9)
    for (const p of proposals) expect(p.score).toBeCloseTo(1 / (1 + Math.exp(-3)), 5)
    const small = proposals.find((p) => p.area < 150)!
    expect(small.bbox.x).toBeGreaterThanOrEqual(43)
    expect(small.bbox.x + small.bbox.width).toBeLessThanOrEqual(57)
  })

  it('proposes nothing on an empty image and drops specks below the minimum area', () => {
    const width = 20
    const height = 20
    const empty = proposeInstances({
      width,
      height,
      foreground: new Float32Array(width * height).fill(-5),
      distance: new Float32Array(width * height).fill(-5),
    })
    expect(empty.proposals).toEqual([])
    const foreground = new Float32Array(width * height).fill(-5)
    const distance = new Float32Array(width * height).fill(-5)
    foreground[5 * width + 5] = 5
    distance[5 * width + 5] = 5
    expect(proposeInstances({ width, height, foreground, distance }).proposals).toEqual([])
  })
})

describe('proposeInstances parity', () => {
  it('gives the same labels and scores as the trainer (fixture written by proposals.py)', () => {
    for (const c of fixture.cases) {
      const { labels, proposals } = proposeInstances({
        width: c.width,
        height: c.height,
        foreground: Float32Array.from(c.foreground),
        distance: Float32Array.from(c.distance),
      })
      expect([...labels]).toEqual(c.labels)
      expect(proposals.map((p) => p.score)).toEqual(c.scores.map((s) => expect.closeTo(s, 5)))
    }
  })
})
