import { describe, expect, it } from 'vitest'
import { createRandom } from '../random/createRandom.ts'
import { applyClickConsistency, CLICK_LOGIT, cropPlanes, type Planes } from './segmenter.ts'

/** The definition: every output cell takes the source cell at its place, or 0 outside it. */
function naiveCrop(source: Planes, x0: number, y0: number, width: number, height: number) {
  const data = new Float32Array(source.channels * width * height)
  for (let c = 0; c < source.channels; c++)
    for (let row = 0; row < height; row++)
      for (let col = 0; col < width; col++) {
        const sx = x0 + col
        const sy = y0 + row
        if (sx >= 0 && sy >= 0 && sx < source.width && sy < source.height)
          data[(c * height + row) * width + col] =
            source.data[(c * source.height + sy) * source.width + sx]
      }
  return data
}

describe('cropPlanes', () => {
  it('copies any window, partly or wholly outside the source, as the definition says', () => {
    const random = createRandom(3)
    for (let trial = 0; trial < 200; trial++) {
      const source: Planes = {
        channels: 1 + Math.floor(random() * 3),
        width: 1 + Math.floor(random() * 20),
        height: 1 + Math.floor(random() * 20),
        data: new Float32Array(0),
      }
      source.data = Float32Array.from(
        { length: source.channels * source.width * source.height },
        () => random(),
      )
      const x0 = Math.floor(random() * 40) - 20
      const y0 = Math.floor(random() * 40) - 20
      const width = 1 + Math.floor(random() * 30)
      const height = 1 + Math.floor(random() * 30)
      expect(cropPlanes(source, x0, y0, width, height).data).toEqual(
        naiveCrop(source, x0, y0, width, height),
      )
    }
  })
})

describe('refineWithDetails', () => {
  it('equals bilinear half-pixel upsampling plus the detail-weighted sum, computed directly', async () => {
    const { refineWithDetails } = await import('./refine.ts')
    const random = createRandom(9)
    const stride = 4
    const coarse: Planes = { channels: 3, width: 5, height: 4, data: new Float32Array(60) }
    coarse.data = coarse.data.map(() => random() * 4 - 2)
    const details: Planes = { channels: 2, width: 30, height: 25, data: new Float32Array(1500) }
    details.data = details.data.map(() => random())
    // A crop reaching past the details' right and bottom edges (samples there count 0).
    const [x0, y0] = [12, 10]
    const out = refineWithDetails(coarse, details, x0, y0, stride)
    const at = (c: number, x: number, y: number) => {
      // PyTorch's align_corners=False: source = (o + 0.5) / s − 0.5, clamped at 0 and the edge.
      const sx = Math.max(0, (x + 0.5) / stride - 0.5)
      const sy = Math.max(0, (y + 0.5) / stride - 0.5)
      const xa = Math.min(Math.floor(sx), 4)
      const ya = Math.min(Math.floor(sy), 3)
      const xb = Math.min(xa + 1, 4)
      const yb = Math.min(ya + 1, 3)
      const v = (xx: number, yy: number) => coarse.data[(c * 4 + yy) * 5 + xx]
      const top = v(xa, ya) + (v(xb, ya) - v(xa, ya)) * (sx - xa)
      const bottom = v(xa, yb) + (v(xb, yb) - v(xa, yb)) * (sx - xa)
      return top + (bottom - top) * (sy - ya)
    }
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 20; x++) {
        let expected = at(0, x, y)
        for (let k = 1; k < 3; k++) {
          const dx = x0 + x
          const dy = y0 + y
          const d = dx < 30 && dy < 25 ? details.data[(k - 1) * 750 + dy * 30 + dx] : 0
          expected += at(k, x, y) * d
        }
        expect(out[y * 20 + x]).toBeCloseTo(expected, 5)
      }
  })
})

describe('refineMaskLogits', () => {
  it('gives the same mask as the exact refinement, and the same logits wherever it computes them', async () => {
    const { blockRange, refineMaskLogits, refineWithDetails } = await import('./refine.ts')
    const random = createRandom(12)
    const stride = 4
    let skippedInside = 0
    let skippedOutside = 0
    for (let trial = 0; trial < 20; trial++) {
      const cw = 16
      const ch = 12
      // A blob of positive logits in a mostly clearly negative map, as around one object; the
      // details are non-negative as the encoder's (a ReLU's) are, some blocks all zero.
      const cx = random() * cw
      const cy = random() * ch
      const coarse: Planes = {
        channels: 3,
        width: cw,
        height: ch,
        data: new Float32Array(3 * cw * ch),
      }
      for (let y = 0; y < ch; y++)
        for (let x = 0; x < cw; x++) {
          coarse.data[y * cw + x] = 8 - 2.5 * Math.hypot(x - cx, y - cy) + random()
          for (let k = 1; k < 3; k++) coarse.data[(k * ch + y) * cw + x] = random() * 2 - 1
        }
      const details: Planes = {
        channels: 2,
        width: 80,
        height: 60,
        data: new Float32Array(2 * 80 * 60),
      }
      details.data = details.data.map(() => Math.max(0, random() * 2 - 0.5))
      const [x0, y0] = [4 * Math.floor(random() * 8), 4 * Math.floor(random() * 6)]
      const exact = refineWithDetails(coarse, details, x0, y0, stride)
      const fast = refineMaskLogits(coarse, details, blockRange(details, stride), x0, y0, stride, 0)
      // A skipped pixel holds a bound between the threshold (0) and its exact logit.
      for (let i = 0; i < exact.length; i++) {
        expect(fast[i] > 0).toBe(exact[i] > 0)
        if (Math.abs(fast[i] - exact[i]) > 1e-4) {
          if (exact[i] > 0) {
            skippedInside++
            expect(fast[i]).toBeLessThanOrEqual(exact[i] + 1e-4)
          } else {
            skippedOutside++
            expect(fast[i]).toBeGreaterThanOrEqual(exact[i] - 1e-4)
          }
        }
      }
    }
    // Both kinds of block were skipped: clear background and the object's inside.
    expect(skippedOutside).toBeGreaterThan(0)
    expect(skippedInside).toBeGreaterThan(0)
  })
})

describe('applyClickConsistency', () => {
  it("gives each clicked pixel its click's label, the later click winning, and ignores clicks outside", () => {
    const logits = new Float32Array(4 * 3).fill(-1)
    logits[5] = 3
    applyClickConsistency(logits, 4, 3, [
      { x: 2, y: 2, positive: true },
      { x: 1.7, y: 1.2, positive: false },
      { x: 0, y: 0, positive: true },
      { x: 0, y: 0, positive: false },
      { x: 4, y: 1, positive: true },
      { x: -1, y: 0, positive: true },
    ])
    const expected = new Float32Array(12).fill(-1)
    expected[10] = CLICK_LOGIT
    expected[5] = -CLICK_LOGIT
    expected[0] = -CLICK_LOGIT
    expect(logits).toEqual(expected)
  })
})
