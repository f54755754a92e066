import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  OBJECT_METRICS,
  RuleAction,
  type RuleInput,
  RuleMetric,
  RuleOp,
} from '../../../../shared/schemas/streams.ts'
import {
  describeRule,
  draftOf,
  newDraft,
  type RuleToSave,
  ruleInputOf,
  rulesOf,
} from './ruleForm.ts'

const ruleInput: fc.Arbitrary<RuleToSave> = fc
  .record({
    id: fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: undefined }),
    name: fc.string({ minLength: 1, maxLength: 100 }).filter((s) => s.trim() === s && s !== ''),
    enabled: fc.boolean(),
    metric: fc.constantFrom(...RuleMetric.options),
    op: fc.constantFrom(...RuleOp.options),
    value: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }),
    channel: fc.integer({ min: 0, max: 3 }),
    action: fc.constantFrom(...RuleAction.options),
  })
  .map(({ id, name, enabled, metric, op, value, channel, action }) => ({
    ...(id === undefined ? {} : { id }),
    name,
    enabled,
    // -0 is written "0" by String and read back as 0.
    condition: {
      metric,
      op,
      value: Object.is(value, -0) ? 0 : value,
      ...(metric === 'object_intensity' ? { channel } : {}),
    },
    action,
  }))

describe('rule form', () => {
  it('gives back every rule it was filled from', () => {
    fc.assert(
      fc.property(ruleInput, (rule) => {
        expect(ruleInputOf(draftOf(rule))).toEqual({ rule })
      }),
    )
  })

  it('a new row is a valid flag rule', () => {
    const result = ruleInputOf(newDraft(1))
    expect(result).toEqual({
      rule: {
        name: 'Rule 1',
        enabled: true,
        condition: { metric: 'object_area', op: '>=', value: 500 },
        action: 'flag',
      },
    })
  })

  it('says what is wrong with a row', () => {
    const draft = newDraft(2)
    expect(ruleInputOf({ ...draft, name: '  ' })).toEqual({ error: 'A rule needs a name' })
    expect(ruleInputOf({ ...draft, value: 'big' })).toEqual({
      error: 'Rule 2: the value must be a number',
    })
    expect(ruleInputOf({ ...draft, value: '' })).toHaveProperty('error')
    expect(ruleInputOf({ ...draft, metric: 'object_intensity', channel: '4' })).toEqual({
      error: 'Rule 2: the channel is 0 to 3',
    })
    // A channel only matters for intensity.
    expect(ruleInputOf({ ...draft, metric: 'count', channel: '9' })).toHaveProperty('rule')
    expect(rulesOf([newDraft(1), { ...draft, value: 'x' }])).toHaveProperty('error')
    expect(rulesOf([newDraft(1), newDraft(2)])).toHaveProperty('rules.length', 2)
  })

  it('reads rules as sentences', () => {
    const rule = (metric: RuleMetric, extra = {}): RuleInput => ({
      name: 'r',
      enabled: true,
      condition: { metric, op: '>=', value: 500, ...extra },
      action: 'flag',
    })
    expect(describeRule(rule('object_area'))).toBe(
      'any object with area (px) ≥ 500 → flag the frame',
    )
    expect(describeRule(rule('object_intensity', { channel: 1 }))).toBe(
      'any object with intensity (channel 1) ≥ 500 → flag the frame',
    )
    expect(describeRule({ ...rule('count'), action: 'stop' })).toBe(
      'frame count ≥ 500 → stop the series',
    )
    for (const metric of OBJECT_METRICS) expect(describeRule(rule(metric))).toMatch(/^any object/)
  })
})
