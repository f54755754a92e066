import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { ChannelStats } from '../schemas/images.ts'
import {
  computeChannelStats,
  normalizationRange,
  normalizeImage,
  percentileOfSorted,
} from './normalization.ts'

interface FixtureCase {
  name: string
  width: number
  height: number
  channels: number
  modelChannels: number
  pixels: number[]
  stats: ChannelStats[]
  expected: number[]
}

// Written by trainer/tests/normalization_fixture.py from the trainer's own normalisation.
const fixture: { cases: FixtureCase[] } = JSON.parse(
  readFileSync(new URL('./fixtures/normalization.json', import.meta.url), 'utf8'),
)

function channelValues(testCase: FixtureCase, channel: number): number[] {
  const values: number[] = []
  for (let i = channel; i < testCase.pixels.length; i += testCase.channels) {
    values.push(testCase.pixels[i])
  }
  return values
}

describe('normalizeImage', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))(
    'gives the trainer’s float32 numbers exactly: %s',
    (_name, testCase) => {
      const out = normalizeImage(
        testCase.pixels,
        testCase.width,
        testCase.height,
        testCase.channels,
        testCase.stats,
        testCase.modelChannels,
      )
      expect(out.length).toBe(testCase.expected.length)
      const mismatches = testCase.expected.flatMap((value, i) => (out[i] === value ? [] : [i]))
      expect(mismatches).toEqual([])
    },
  )

  it('keeps every value in [0, 1] and zero-fills channels the image lacks', () => {
    const testCase = fixture.cases.find((c) => c.channels === 1 && c.modelChannels === 2)!
    const out = normalizeImage(
      testCase.pixels,
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

  it('rejects a pixel buffer of the wrong length', () => {
    const stats = computeChannelStats([1, 2, 3, 4])
    expect(() => normalizeImage([1, 2, 3], 2, 2, 1, [stats], 2)).toThrow(/expected 4/)
  })
})

describe('computeChannelStats', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))(
    'matches the trainer’s statistics: %s',
    (_name, testCase) => {
      testCase.stats.forEach((expected, channel) => {
        const stats = computeChannelStats(channelValues(testCase, channel))
        expect(stats.min).toBe(expected.min)
        expect(stats.max).toBe(expected.max)
        expect(stats.mean).toBeCloseTo(expected.mean, 9)
        expect(stats.percentiles).toEqual(expected.percentiles)
      })
    },
  )

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
