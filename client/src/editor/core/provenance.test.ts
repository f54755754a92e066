// Provenance: suggestions, click masks and people's drawings told apart and named.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AnnotationOrigin } from '../../../../shared/schemas/annotation.ts'
import {
  clickOrigin,
  describeClickMask,
  describeOrigin,
  isClickMask,
  isSuggestion,
} from './provenance.ts'

describe('provenance', () => {
  it('tells a suggestion from a click mask and a drawing', () => {
    const suggestion = { origin: { type: 'model', modelVersion: 'v1', score: 0.93 } } as const
    const click = { origin: clickOrigin('v1', 3) }
    const drawn = { origin: { type: 'human' } } as const
    expect([suggestion, click, drawn].map(isSuggestion)).toEqual([true, false, false])
    expect([suggestion, click, drawn].map(isClickMask)).toEqual([false, true, false])
    expect(describeOrigin(suggestion.origin)).toBe('v1 93%')
    expect(describeOrigin(click.origin)).toBe('Mask from v1 · 3 clicks')
    expect(describeOrigin(drawn.origin)).toBeNull()
    expect(describeClickMask('v2', 1)).toBe('Mask from v2 · 1 click')
  })

  it('makes origins the schema accepts for any click count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.string({ minLength: 1 }), (n, v) => {
        const origin = clickOrigin(v, n)
        expect(AnnotationOrigin.safeParse(origin).success).toBe(true)
        expect(origin.clicks).toBe(n)
      }),
    )
  })
})
