import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ChannelStats } from '../schemas/images.ts'
import {
  channelStats,
  computeChannelStats,
  normalizationRange,
  normalizeImage,
  percentileOfSorted,
  type Samples,
} from './normalization.ts'

interface FixtureCase {
  name: string
  dtype: 'uint8' | 'uint16' | 'float32'
  width: number
  height: number
  channels: number
  modelChannels: number
  polarity: 'bright' | 'dark'
  /** Numbers, or "NaN" / "Infinity" / "-Infinity" (JSON has no such numbers). */
  pixels: (number | string)[]
  stats: ChannelStats[]
  expected: number[]
}

// Written by trainer/tests/normalization_fixture.py from the trainer's own normalisation.
const fixture: { cases: FixtureCase[] } = JSON.parse(
  readFileSync(new URL('./fixtures/normalization.json', import.meta.url), 'utf8'),
)
const cases = fixture.cases.map((c) => [c.name, c] as const)

const ARRAY_OF = { uint8: Uint8Array, uint16: Uint16Array, float32: Float32Array } as const

/** The fixture's pixels as the server holds them: interleaved, in the image's own dtype. */
function samplesOf(testCase: FixtureCase): Samples {
  const values = testCase.pixels.map(Number)
  return testCase.dtype === 'float32'
    ? Float32Array.from(values)
    : ARRAY_OF[testCase.dtype].from(values)
}

function channelValues(testCase: FixtureCase, channel: number): number[] {
  const values: number[] = []
  for (let i = channel; i < testCase.pixels.length; i += testCase.channels) {
    values.push(Number(testCase.pixels[i]))
  }
  return values
}

function expectSameStats(actual: ChannelStats, expected: ChannelStats) {
  expect(actual.min).toBe(expected.min)
  expect(actual.max).toBe(expected.max)
  // numpy sums pairwise, TypeScript in order: the means may differ in the last bits.
  expect(actual.mean).toBeCloseTo(expected.mean, 9)
  expect(actual.percentiles).toEqual(expected.percentiles)
}

describe('normalizeImage', () => {
  it.each(cases)('gives the trainer’s float32 numbers exactly: %s', (_name, testCase) => {
    const out = normalizeImage(
      samplesOf(testCase),
      testCase.width,
      testCase.height,
      testCase.channels,
      testCase.stats,
      testCase.modelChannels,
      testCase.polarity,
    )
    expect(out.length).toBe(testCase.expected.length)
    const mismatches = testCase.expected.flatMap((value, i) => (out[i] === value ? [] : [i]))
    expect(mismatches).toEqual([])
  })

  it('keeps every value in [0, 1] and zero-fills channels the image lacks', () => {
    const testCase = fixture.cases.find((c) => c.channels === 1 && c.modelChannels === 2)!
    const out = normalizeImage(
      samplesOf(testCase),
      testCase.width,
      testCase.height,
      1,
      testCase.stats,
      2,
    )
    const area = testCase.width * testCase.height
    expect(out.every((v) => v >= 0 && v <= 1)).toBe(true)
    expect(out.subarray(area).every((v) => v === 0)).toBe(true)
  })

  it('inverts the channels an image has for dark objects, and leaves a missing channel 0', () => {
    const pixels = Uint8Array.of(10, 200, 90, 30, 250, 60)
    const stats = channelStats(pixels, 1)
    const bright = normalizeImage(pixels, 3, 2, 1, stats, 2)
    const dark = normalizeImage(pixels, 3, 2, 1, stats, 2, 'dark')
    // The darkest pixel (10) becomes the brightest input.
    expect(dark[0]).toBe(1)
    dark.subarray(0, 6).forEach((v, i) => {
      expect(v).toBeCloseTo(1 - bright[i], 6)
    })
    expect(dark.subarray(6).every((v) => v === 0)).toBe(true)
  })

  it('gives 0 for NaN samples, 1 for +Infinity and 0 for −Infinity', () => {
    const pixels = Float32Array.of(1, Number.NaN, 3, Number.POSITIVE_INFINITY, -Infinity, 2)
    const out = normalizeImage(pixels, 6, 1, 1, [computeChannelStats(pixels)], 1)
    expect([...out]).toEqual([0, 0, 1, 1, 0, expect.closeTo(0.5, 1)])
  })

  it('rejects a pixel buffer of the wrong length', () => {
    const stats = computeChannelStats([1, 2, 3, 4])
    expect(() => normalizeImage([1, 2, 3], 2, 2, 1, [stats], 2)).toThrow(/expected 4/)
  })
})

describe('channelStats', () => {
  it.each(cases)('matches the trainer’s statistics on interleaved samples: %s', (_n, testCase) => {
    const stats = channelStats(samplesOf(testCase), testCase.channels)
    expect(stats.length).toBe(testCase.stats.length)
    stats.forEach((actual, channel) => {
      expectSameStats(actual, testCase.stats[channel])
    })
  })

  it.each(cases)('matches them one channel at a time, as plain numbers: %s', (_n, testCase) => {
    testCase.stats.forEach((expected, channel) => {
      expectSameStats(computeChannelStats(channelValues(testCase, channel)), expected)
    })
  })

  // The fast paths (histograms for 8/16-bit, radix selection for float32) against the plain
  // definition: sort the finite values of each channel and interpolate between ranks.
  const interleaved = <T>(values: fc.Arbitrary<T>) =>
    fc
      .integer({ min: 1, max: 4 })
      .chain((channels) =>
        fc
          .array(values, { minLength: channels, maxLength: 400 })
          .map((all) => ({ channels, values: all.slice(0, all.length - (all.length % channels)) })),
      )
  const sameAsSorted = (samples: Samples, channels: number) => {
    const fast = channelStats(samples, channels)
    for (let channel = 0; channel < channels; channel++) {
      const plain = computeChannelStats(
        Array.from(samples.filter((_, i) => i % channels === channel)),
      )
      expect(fast[channel]).toEqual(plain)
    }
  }

  it('equals the sorted definition for 8-bit and 16-bit samples', () => {
    fc.assert(
      fc.property(interleaved(fc.integer({ min: 0, max: 255 })), ({ channels, values }) =>
        sameAsSorted(Uint8Array.from(values), channels),
      ),
    )
    fc.assert(
      fc.property(
        interleaved(fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constantFrom(0, 65535))),
        ({ channels, values }) => sameAsSorted(Uint16Array.from(values), channels),
      ),
    )
  })

  it('equals the sorted definition for float32 samples, NaN and infinities left out', () => {
    const float = fc.oneof(
      fc.float({ noDefaultInfinity: false }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0),
      fc.float({ min: -3, max: 3, noNaN: true }),
    )
    fc.assert(
      fc.property(interleaved(float), ({ channels, values }) =>
        sameAsSorted(Float32Array.from(values), channels),
      ),
    )
  })

  it('gives zeros for a channel without a finite value', () => {
    const [finite, empty] = channelStats(Float32Array.of(1, Number.NaN, 3, Number.NaN), 2)
    expect(finite).toMatchObject({ min: 1, max: 3, mean: 2 })
    expect(empty).toEqual({
      min: 0,
      max: 0,
      mean: 0,
      percentiles: { '0.1': 0, '1': 0, '50': 0, '99': 0, '99.9': 0 },
    })
  })

  it('rejects samples that do not divide into the channels', () => {
    expect(() => channelStats(new Uint8Array(5), 2)).toThrow(/5 samples/)
  })

  it('interpolates percentiles linearly between ranks', () => {
    expect(percentileOfSorted([0, 10], 50)).toBe(5)
    expect(percentileOfSorted([0, 10, 20, 30], 99.9)).toBeCloseTo(29.97, 10)
  })
})

describe('normalizationRange', () => {
  it('falls back to the maximum when p99.9 equals p1', () => {
    const stats = computeChannelStats([...new Array(2000).fill(0), 900])
    expect(normalizationRange(stats)).toEqual({ low: 0, high: 900 })
  })
})
