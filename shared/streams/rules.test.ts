import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { FrameObject, Rule } from '../schemas/streams.ts'
import { assignRuleIds, evaluateRules, frameFigures, matchCondition, mdaEvents } from './rules.ts'

const object = (id: number, area: number, score = 0.9, cx = 10, cy = 20): FrameObject => ({
  id,
  area,
  score,
  centroid: { x: cx, y: cy },
  bbox: { x: cx - 2, y: cy - 2, width: 4, height: 4 },
  meanIntensity: [100 * id, 7],
})

const rule = (id: number, partial: Partial<Rule> & Pick<Rule, 'condition'>): Rule => ({
  id,
  name: `rule ${id}`,
  enabled: true,
  action: 'flag',
  ...partial,
})

describe('evaluateRules', () => {
  const frame = frameFigures([object(1, 50), object(2, 400, 0.5), object(3, 900, 0.7)])

  it('an object metric fires when any object satisfies it; those objects are the targets', () => {
    const [firing] = evaluateRules(
      [rule(1, { condition: { metric: 'object_area', op: '>=', value: 400 } })],
      frame,
    )
    expect(firing.targets.map((t) => t.id)).toEqual([2, 3])
    expect(
      evaluateRules(
        [rule(1, { condition: { metric: 'object_area', op: '>', value: 900 } })],
        frame,
      ),
    ).toEqual([])
  })

  it('a frame metric targets every object; means are 0 without objects', () => {
    const [firing] = evaluateRules(
      [rule(1, { condition: { metric: 'count', op: '>=', value: 3 } })],
      frame,
    )
    expect(firing.targets).toHaveLength(3)
    expect(frame.meanArea).toBeCloseTo(450)
    const empty = frameFigures([])
    expect(empty).toMatchObject({ count: 0, meanArea: 0, meanScore: 0 })
    expect(matchCondition({ metric: 'mean_score', op: '<', value: 0.5 }, empty)).toEqual([])
  })

  it('intensity reads the chosen channel, and a missing channel never matches', () => {
    expect(
      matchCondition({ metric: 'object_intensity', op: '<', value: 10, channel: 1 }, frame),
    ).toHaveLength(3)
    expect(
      matchCondition({ metric: 'object_intensity', op: '>=', value: 0, channel: 3 }, frame),
    ).toBeNull()
  })

  it('one firing per enabled rule, in rule order', () => {
    const rules = [
      rule(5, { condition: { metric: 'count', op: '>', value: 0 }, action: 'stop' }),
      rule(2, { condition: { metric: 'count', op: '>', value: 0 }, enabled: false }),
      rule(3, { condition: { metric: 'object_score', op: '<', value: 0.8 }, action: 'acquire' }),
    ]
    expect(evaluateRules(rules, frame).map((f) => f.rule.id)).toEqual([5, 3])
  })

  it('fires exactly when the comparison holds (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 8 }),
        fc.constantFrom('>=', '>', '<=', '<'),
        fc.integer({ min: 0, max: 1000 }),
        (areas, op, value) => {
          const figures = frameFigures(areas.map((area, i) => object(i + 1, area)))
          const firings = evaluateRules(
            [rule(1, { condition: { metric: 'object_area', op, value } })],
            figures,
          )
          const holds = (a: number) =>
            op === '>=' ? a >= value : op === '>' ? a > value : op === '<=' ? a <= value : a < value
          const expected = areas.filter(holds)
          expect(firings.length).toBe(expected.length > 0 ? 1 : 0)
          if (firings.length) expect(firings[0].targets.map((t) => t.area)).toEqual(expected)
        },
      ),
    )
  })
})

describe('mdaEvents', () => {
  const firing = {
    rule: rule(7, { condition: { metric: 'count', op: '>', value: 0 } }),
    targets: [object(1, 10, 0.9, 74, 32), object(2, 10, 0.9, 64, 64)],
  }
  const base = { streamId: 3, seriesId: 'a', frame: 12, width: 128, height: 128 }

  it('stage coordinates from the pixel size and the frame centre, index {t, p}', () => {
    const events = mdaEvents(firing, {
      ...base,
      pixelSize: { x: 0.5, y: 0.25 },
      stage: { x: 1000, y: 2000, z: 5 },
    })
    expect(events[0]).toMatchObject({ index: { t: 12, p: 0 }, x_pos: 1005, y_pos: 1992, z_pos: 5 })
    expect(events[1]).toMatchObject({ index: { t: 12, p: 1 }, x_pos: 1000, y_pos: 2000 })
    expect(events[0].metadata.tessera).toEqual({
      streamId: 3,
      seriesId: 'a',
      frame: 12,
      objectId: 1,
      centroid: { x: 74, y: 32 },
      ruleId: 7,
    })
  })

  it('no stage coordinates without a pixel size or a stage position', () => {
    for (const context of [
      { ...base, stage: { x: 1, y: 2 } },
      { ...base, pixelSize: { x: 1, y: 1 } },
    ]) {
      const [event] = mdaEvents(firing, context)
      expect(event.x_pos).toBeUndefined()
      expect(event.y_pos).toBeUndefined()
    }
  })
})

describe('assignRuleIds', () => {
  const condition = { metric: 'count', op: '>', value: 0 } as const
  const input = { name: 'r', enabled: true, condition, action: 'flag' as const }

  it('keeps the id of a current rule sent back; fresh ids for the rest, once each', () => {
    const current = [rule(1, { condition }), rule(2, { condition })]
    const { rules, nextRuleId } = assignRuleIds(
      current,
      [{ ...input, id: 2 }, input, { ...input, id: 2 }, { ...input, id: 99 }],
      3,
    )
    expect(rules.map((r) => r.id)).toEqual([2, 3, 4, 5])
    expect(nextRuleId).toBe(6)
  })
})
