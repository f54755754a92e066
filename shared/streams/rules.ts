// Feedback rules evaluated on one frame's results: which enabled rules fire, on which objects,
// and the useq-shaped MDA events an `acquire` asks for. Pure: no clock, no I/O; the server adds
// ids, times and latency when it sends the events.
import type {
  FrameObject,
  MdaEvent,
  Rule,
  RuleCondition,
  RuleOp,
  SeriesId,
  StagePosition,
} from '../schemas/streams.ts'

/** What a rule reads of a frame: its objects and the per-frame figures derived from them. */
export interface FrameFigures {
  objects: FrameObject[]
  count: number
  meanArea: number
  meanScore: number
}

export interface RuleFiring {
  rule: Rule
  /** Object metrics: the objects that satisfy the condition; frame metrics: every object. */
  targets: FrameObject[]
}

export function compare(op: RuleOp, value: number, threshold: number): boolean {
  switch (op) {
    case '>=':
      return value >= threshold
    case '>':
      return value > threshold
    case '<=':
      return value <= threshold
    case '<':
      return value < threshold
  }
}

/** The object's value of an object metric, or undefined when it has none (a missing channel). */
function objectValue(condition: RuleCondition, object: FrameObject): number | undefined {
  switch (condition.metric) {
    case 'object_area':
      return object.area
    case 'object_score':
      return object.score
    case 'object_intensity':
      return object.meanIntensity[condition.channel ?? 0]
    default:
      return undefined
  }
}

function frameValue(condition: RuleCondition, frame: FrameFigures): number | undefined {
  switch (condition.metric) {
    case 'count':
      return frame.count
    case 'mean_area':
      return frame.meanArea
    case 'mean_score':
      return frame.meanScore
    default:
      return undefined
  }
}

/** The objects a condition matches, or null when it does not hold for the frame. */
export function matchCondition(
  condition: RuleCondition,
  frame: FrameFigures,
): FrameObject[] | null {
  const whole = frameValue(condition, frame)
  if (whole !== undefined)
    return compare(condition.op, whole, condition.value) ? frame.objects : null
  const targets = frame.objects.filter((object) => {
    const value = objectValue(condition, object)
    return (
      value !== undefined && Number.isFinite(value) && compare(condition.op, value, condition.value)
    )
  })
  return targets.length > 0 ? targets : null
}

/** Every enabled rule that holds for the frame, in rule order, once each. */
export function evaluateRules(rules: readonly Rule[], frame: FrameFigures): RuleFiring[] {
  const firings: RuleFiring[] = []
  for (const rule of rules) {
    if (!rule.enabled) continue
    const targets = matchCondition(rule.condition, frame)
    if (targets) firings.push({ rule, targets })
  }
  return firings
}

export interface MdaContext {
  streamId: number
  seriesId: SeriesId
  frame: number
  width: number
  height: number
  /** Micrometres per pixel, from the series' start. */
  pixelSize?: { x: number; y: number } | null
  /** The stage position of the frame's centre, from the frame. */
  stage?: StagePosition | null
}

/**
 * One MDAEvent per target: index {t: frame, p: k}; stage coordinates (x right, y down, no
 * rotation) only when both the pixel size and the stage position are known.
 */
export function mdaEvents(firing: RuleFiring, context: MdaContext): MdaEvent[] {
  const { pixelSize, stage } = context
  return firing.targets.map((target, k) => {
    const event: MdaEvent = {
      index: { t: context.frame, p: k },
      metadata: {
        tessera: {
          streamId: context.streamId,
          seriesId: context.seriesId,
          frame: context.frame,
          objectId: target.id,
          centroid: { x: target.centroid.x, y: target.centroid.y },
          ruleId: firing.rule.id,
        },
      },
    }
    if (pixelSize && stage) {
      event.x_pos = stage.x + (target.centroid.x - context.width / 2) * pixelSize.x
      event.y_pos = stage.y + (target.centroid.y - context.height / 2) * pixelSize.y
      if (stage.z !== undefined) event.z_pos = stage.z
    }
    return event
  })
}

/** Figures of a frame from its objects (0 means when there are none). */
export function frameFigures(objects: FrameObject[]): FrameFigures {
  const count = objects.length
  let area = 0
  let score = 0
  for (const object of objects) {
    area += object.area
    score += object.score
  }
  return {
    objects,
    count,
    meanArea: count === 0 ? 0 : area / count,
    meanScore: count === 0 ? 0 : score / count,
  }
}

/**
 * The rule list a PUT of `inputs` makes: a rule sent back with the id of a current rule keeps
 * it (so recorded events still name it); any other rule gets the next fresh id.
 */
export function assignRuleIds(
  current: readonly Rule[],
  inputs: readonly (Omit<Rule, 'id'> & { id?: number })[],
  nextRuleId: number,
): { rules: Rule[]; nextRuleId: number } {
  const known = new Set(current.map((rule) => rule.id))
  const taken = new Set<number>()
  let next = nextRuleId
  const rules = inputs.map(({ id, ...rule }) => {
    if (id !== undefined && known.has(id) && !taken.has(id)) {
      taken.add(id)
      return { ...rule, id }
    }
    return { ...rule, id: next++ }
  })
  return { rules, nextRuleId: next }
}
