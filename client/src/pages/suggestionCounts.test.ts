// A version's answered suggestions and clicks per click mask.
import { describe, expect, it } from 'vitest'
import { answeredSuggestions, clicksPerMask } from './suggestionCounts.ts'

describe('suggestion counts', () => {
  it('gives clicks per mask, none before the first mask', () => {
    const counts = { accepted: 1, edited: 1, rejected: 1, clickMasks: 4, clicks: 10 }
    expect(clicksPerMask(counts)).toBe(2.5)
    expect(clicksPerMask({ ...counts, clickMasks: 0, clicks: 0 })).toBeNull()
    expect(answeredSuggestions(counts)).toBe(3)
  })
})
