// Feedback rules as the form edits them (text fields) and as the API stores them (RuleInput), and
// how a person reads one ("any object with area ≥ 500 → flag").
import {
  OBJECT_METRICS,
  type RuleAction,
  RuleInput,
  type RuleMetric,
  type RuleOp,
} from '../../../../shared/schemas/streams.ts'

export interface RuleDraft {
  /** Identity of the row while it is edited (not sent). */
  key: string
  /** The stored rule's id: sent back, it keeps the rule (recorded events name it). */
  id?: number
  name: string
  enabled: boolean
  metric: RuleMetric
  op: RuleOp
  value: string
  /** object_intensity only. */
  channel: string
  action: RuleAction
}

export const METRIC_LABELS: Record<RuleMetric, string> = {
  object_area: 'object area (px)',
  object_score: 'object score',
  object_intensity: 'object intensity',
  count: 'count',
  mean_area: 'mean area (px)',
  mean_score: 'mean score',
}

export const OP_LABELS: Record<RuleOp, string> = { '>=': '≥', '>': '>', '<=': '≤', '<': '<' }

export const ACTION_LABELS: Record<RuleAction, string> = {
  flag: 'flag the frame',
  acquire: 'acquire at the objects',
  stop: 'stop the series',
}

export const CHANNELS = 4

const isObjectMetric = (metric: RuleMetric) =>
  (OBJECT_METRICS as readonly string[]).includes(metric)
export const hasChannel = (metric: RuleMetric) => metric === 'object_intensity'

let nextKey = 0
const newKey = () => `rule-${++nextKey}`

/** A new row: flag frames with an object of at least 500 px. */
export function newDraft(position: number): RuleDraft {
  return {
    key: newKey(),
    name: `Rule ${position}`,
    enabled: true,
    metric: 'object_area',
    op: '>=',
    value: '500',
    channel: '0',
    action: 'flag',
  }
}

/** A rule to save: a RuleInput, with the id of the stored rule it replaces. */
export type RuleToSave = RuleInput & { id?: number }

export function draftOf(rule: RuleToSave): RuleDraft {
  return {
    key: newKey(),
    ...(rule.id === undefined ? {} : { id: rule.id }),
    name: rule.name,
    enabled: rule.enabled,
    metric: rule.condition.metric,
    op: rule.condition.op,
    value: String(rule.condition.value),
    channel: String(rule.condition.channel ?? 0),
    action: rule.action,
  }
}

/** The rule a row stands for, or what is wrong with it. */
export function ruleInputOf(draft: RuleDraft): { rule: RuleToSave } | { error: string } {
  const name = draft.name.trim()
  if (!name) return { error: 'A rule needs a name' }
  const value = Number(draft.value)
  if (draft.value.trim() === '' || !Number.isFinite(value))
    return { error: `${name}: the value must be a number` }
  const channel = Number(draft.channel)
  if (
    hasChannel(draft.metric) &&
    !(Number.isInteger(channel) && channel >= 0 && channel < CHANNELS)
  )
    return { error: `${name}: the channel is 0 to ${CHANNELS - 1}` }
  const parsed = RuleInput.safeParse({
    name,
    enabled: draft.enabled,
    condition: {
      metric: draft.metric,
      op: draft.op,
      value,
      ...(hasChannel(draft.metric) ? { channel } : {}),
    },
    action: draft.action,
  })
  if (!parsed.success) return { error: `${name}: ${parsed.error.issues[0]?.message}` }
  return { rule: draft.id === undefined ? parsed.data : { id: draft.id, ...parsed.data } }
}

/** Every row's rule, or the first row's problem. */
export function rulesOf(drafts: readonly RuleDraft[]): { rules: RuleToSave[] } | { error: string } {
  const rules: RuleToSave[] = []
  for (const draft of drafts) {
    const result = ruleInputOf(draft)
    if ('error' in result) return result
    rules.push(result.rule)
  }
  return { rules }
}

/** "any object with area (px) ≥ 500 → flag the frame". */
export function describeCondition(rule: RuleInput): string {
  const { metric, op, value, channel } = rule.condition
  const what = hasChannel(metric)
    ? `intensity (channel ${channel ?? 0})`
    : METRIC_LABELS[metric].replace(/^object /, '')
  const test = `${what} ${OP_LABELS[op]} ${value}`
  return isObjectMetric(metric) ? `any object with ${test}` : `frame ${test}`
}

export const describeRule = (rule: RuleInput) =>
  `${describeCondition(rule)} → ${ACTION_LABELS[rule.action]}`
