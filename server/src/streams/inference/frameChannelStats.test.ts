import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { computeChannelStats } from '../../../../shared/ml/normalization.ts'
import type { FrameSamples } from './FrameAnalyzer.ts'
import { frameChannelStats } from './frameChannelStats.ts'

/** The plain definition: each channel's values as numbers, sorted. */
const sortedStats = (samples: FrameSamples, channels: number) =>
  Array.from({ length: channels }, (_, c) =>
    computeChannelStats(Array.from(samples).filter((_, i) => i % channels === c)),
  )

const interleaved = <T>(values: fc.Arbitrary<T>) =>
  fc.integer({ min: 1, max: 4 }).chain((channels) =>
    fc
      .array(fc.array(values, { minLength: channels, maxLength: channels }), {
        minLength: 1,
        maxLength: 300,
      })
      .map((pixels) => ({ channels, values: pixels.flat() })),
  )

describe('frameChannelStats', () => {
  it('equals the sorted definition for uint8 and uint16 frames (histogram path)', () => {
    fc.assert(
      fc.property(interleaved(fc.integer({ min: 0, max: 255 })), ({ channels, values }) => {
        const samples = Uint8Array.from(values)
        expect(frameChannelStats(samples, channels)).toEqual(sortedStats(samples, channels))
      }),
    )
    fc.assert(
      fc.property(interleaved(fc.integer({ min: 0, max: 65535 })), ({ channels, values }) => {
        const samples = Uint16Array.from(values)
        expect(frameChannelStats(samples, channels)).toEqual(sortedStats(samples, channels))
      }),
    )
  })

  it('equals the sorted definition for uint32 frames, below and above 2^24', () => {
    for (const max of [2 ** 24 - 1, 2 ** 32 - 1]) {
      fc.assert(
        fc.property(interleaved(fc.integer({ min: 0, max })), ({ channels, values }) => {
          const samples = Uint32Array.from(values)
          expect(frameChannelStats(samples, channels)).toEqual(sortedStats(samples, channels))
        }),
      )
    }
  })

  it('equals the sorted definition for float32 frames, NaN and infinities left out', () => {
    const value = fc.oneof(
      fc.float({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(Number.NaN, Infinity, -Infinity, 0, -0),
    )
    fc.assert(
      fc.property(interleaved(value), ({ channels, values }) => {
        const samples = Float32Array.from(values)
        expect(frameChannelStats(samples, channels)).toEqual(sortedStats(samples, channels))
      }),
    )
  })

  it('takes a 512² 16-bit frame in a few milliseconds', () => {
    const samples = new Uint16Array(512 * 512).map((_, i) => (i * 2654435761) % 65536)
    frameChannelStats(samples, 1)
    const started = performance.now()
    for (let k = 0; k < 5; k++) frameChannelStats(samples, 1)
    expect((performance.now() - started) / 5).toBeLessThan(20)
  })
})
