import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  crossingRings,
  insidePolygon,
  orientPolygon,
  polygonArea,
  reverseRing,
  ringOrientation,
  signedArea,
  simplifyPolygon,
  simplifyRing,
} from './polygon.ts'

const square = (x: number, y: number, s: number) => [x, y, x + s, y, x + s, y + s, x, y + s]
const circle = (cx: number, cy: number, r: number, n: number) =>
  Array.from({ length: n }, (_, k) => [
    cx + r * Math.cos((2 * Math.PI * k) / n),
    cy + r * Math.sin((2 * Math.PI * k) / n),
  ]).flat()

/** Star-shaped rings: a radius per angle, smooth enough to be a blob outline. */
const starRing = fc
  .array(fc.double({ min: 5, max: 10, noNaN: true }), { minLength: 8, maxLength: 80 })
  .map((radii) =>
    radii.flatMap((r, k) => {
      const angle = (2 * Math.PI * k) / radii.length
      return [20 + r * Math.cos(angle), 20 + r * Math.sin(angle)]
    }),
  )

function distanceToRing(ring: number[], x: number, y: number) {
  let best = Infinity
  for (let i = 0; i < ring.length; i += 2) {
    const j = (i + 2) % ring.length
    const [ax, ay, bx, by] = [ring[i], ring[i + 1], ring[j], ring[j + 1]]
    const l2 = (bx - ax) ** 2 + (by - ay) ** 2
    const t = l2 ? Math.max(0, Math.min(1, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / l2)) : 0
    best = Math.min(best, Math.hypot(x - ax - t * (bx - ax), y - ay - t * (by - ay)))
  }
  return best
}

describe('polygon measures', () => {
  it('tells orientation on screen and subtracts holes from the area', () => {
    const outer = square(0, 0, 10)
    expect(signedArea(outer)).toBe(100)
    expect(ringOrientation(outer)).toBe('clockwise')
    expect(ringOrientation(reverseRing(outer))).toBe('counterclockwise')
    // Holes count negative whichever way they were drawn.
    expect(polygonArea([outer, square(2, 2, 3)])).toBe(91)
    expect(polygonArea([reverseRing(outer), reverseRing(square(2, 2, 3))])).toBe(91)
    const oriented = orientPolygon([reverseRing(outer), square(2, 2, 3)])
    expect(oriented.map(signedArea)).toEqual([100, -9])
  })

  it('puts points in the hole outside, with the half-open edge rule', () => {
    const rings = [square(0, 0, 10), square(2, 2, 3)]
    expect(insidePolygon(rings, 1, 1)).toBe(true)
    expect(insidePolygon(rings, 3, 3)).toBe(false)
    expect(insidePolygon(rings, 11, 1)).toBe(false)
    expect(insidePolygon([square(0, 0, 1)], 0, 0)).toBe(true) // top-left corner: in
    expect(insidePolygon([square(0, 0, 1)], 1, 0.5)).toBe(false) // right edge: out
  })

  it('finds rings that cross, but not rings that only touch at a vertex', () => {
    expect(crossingRings([[0, 0, 4, 4, 4, 0, 0, 4]])).toEqual(new Set([0])) // bow-tie
    expect(crossingRings([square(0, 0, 4), square(1, 1, 2)]).size).toBe(0)
    expect(crossingRings([square(0, 0, 4), square(3, 1, 2)])).toEqual(new Set([0, 1]))
    expect(crossingRings([square(0, 0, 4), [4, 4, 6, 4, 6, 6]]).size).toBe(0)
    // Overlapping along a line counts as crossing.
    expect(crossingRings([square(0, 0, 4), [1, 0, 3, 0, 2, -2]]).size).toBe(2)
  })
})

describe('simplification', () => {
  it('keeps a subset of the vertices in order, within the tolerance of every vertex dropped', () => {
    fc.assert(
      fc.property(starRing, fc.double({ min: 0.1, max: 3, noNaN: true }), (ring, tolerance) => {
        const simple = simplifyRing(ring, tolerance)
        expect(simple.length).toBeGreaterThanOrEqual(6)
        const vertices = Array.from(
          { length: ring.length / 2 },
          (_, k) => `${ring[2 * k]},${ring[2 * k + 1]}`,
        )
        let last = -1
        for (let k = 0; k < simple.length; k += 2) {
          const index = vertices.indexOf(`${simple[k]},${simple[k + 1]}`)
          expect(index).toBeGreaterThan(last)
          last = index
        }
        for (let k = 0; k < ring.length; k += 2)
          expect(distanceToRing(simple, ring[k], ring[k + 1])).toBeLessThanOrEqual(tolerance + 1e-9)
      }),
      {
        // Found by a long run: a vertex within the tolerance of its chord's line but beyond the
        // chord's end, 3.007 from the simplified ring at tolerance 3.
        examples: [
          [
            [
              26.23501166630097, 20, 28.412341749030112, 22.07345601739563, 26.33994957751638,
              23.327462226130802, 24.351794787300076, 23.855353760148287, 23.11289938435065,
              24.509813334153822, 22.024161042094963, 25.337274023363367, 20.88031053696503,
              27.25000954195946, 19.37258402816316, 25.167235414763148, 16.774236788903348,
              28.50563855052183, 16.024624728170654, 25.759325373409453, 15.108926694090968,
              24.333112837978366, 12.644310569880453, 23.86056362540672, 15.075112033894426,
              21.213875861557604, 12.890795252707832, 19.999999999999996, 13.368720050829165,
              18.365536288961575, 15.494336578522018, 17.635245413970566, 15.83641054376894,
              16.31138161371043, 16.049766027691398, 14.277098087106683, 17.9118487028534,
              14.493997541036467, 19.33659402843568, 14.536360270528903, 20.814786841318703,
              13.289626641765103, 22.405441176110813, 13.657372888326467, 24.488473179401026,
              13.49732397512838, 24.288633667117494, 16.200602109577396, 28.386372223203672,
              15.598492315152692, 28.03412847030765, 18.0197651833142,
            ],
            2.999999999999995,
          ],
        ],
      },
    )
  })

  it('balanced simplification keeps the area of a smooth blob where plain simplification shrinks it', () => {
    const disc = circle(0, 0, 20, 400)
    const plain = simplifyRing(disc, 1)
    const balanced = simplifyRing(disc, 1, { balanced: true })
    const area = Math.PI * 400
    expect(balanced.length).toBe(plain.length)
    expect(Math.abs(signedArea(balanced) - area)).toBeLessThan(
      Math.abs(signedArea(plain) - area) / 3,
    )
  })

  it('falls back to a smaller tolerance where a ring would cross another', () => {
    // A square hole reaching close to a round outline: simplified on its own, the outline's
    // chords cut through the hole's corners.
    // (The outline keeps its vertices every 45°, whose chords come to 9.24 of the centre
    // halfway between; the hole's corners sit there at 9.5.)
    const hole = reverseRing(
      Array.from({ length: 4 }, (_, k) => {
        const angle = Math.PI / 8 + (k * Math.PI) / 2
        return [9.5 * Math.cos(angle), 9.5 * Math.sin(angle)]
      }).flat(),
    )
    const rings = [circle(0, 0, 10, 120), hole]
    const naive = rings.map((ring) => simplifyRing(ring, 2))
    expect(crossingRings(naive).size).toBeGreaterThan(0)
    const simple = simplifyPolygon(rings, 2)
    expect(crossingRings(simple).size).toBe(0)
    expect(simple[0].length).toBeLessThan(rings[0].length)
  })
})
