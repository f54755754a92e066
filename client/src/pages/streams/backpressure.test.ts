import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Backpressure } from '../../../../shared/schemas/streams.ts'
import { describeBackpressure, formatBackpressure, parseBackpressure } from './backpressure.ts'

describe('backpressure', () => {
  it('reads and writes the two policies', () => {
    expect(parseBackpressure('latest')).toEqual({ policy: 'latest' })
    expect(parseBackpressure('queue:8')).toEqual({ policy: 'queue', size: 8 })
    expect(formatBackpressure('latest', 'anything')).toEqual({ value: 'latest' })
    expect(formatBackpressure('queue', '16')).toEqual({ value: 'queue:16' })
    expect(describeBackpressure('queue:4')).toBe('queue of 4 (oldest dropped)')
  })

  it('refuses queue sizes the server would refuse', () => {
    for (const size of ['', '0', '-1', '1.5', '10000', 'x'])
      expect(formatBackpressure('queue', size)).toHaveProperty('error')
  })

  it('round-trips every valid queue size through the form', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9999 }), (n) => {
        const formatted = formatBackpressure('queue', String(n))
        expect(formatted).toEqual({ value: `queue:${n}` })
        if (!('value' in formatted)) return
        expect(Backpressure.safeParse(formatted.value).success).toBe(true)
        expect(parseBackpressure(formatted.value)).toEqual({ policy: 'queue', size: n })
      }),
    )
  })
})
