// A processed frame as the rest of the app sees it: its summary (figures, rule actions, timing)
// and the feedback events its rule firings become, before they are recorded and sent. Pure.
import type { FeedbackEvent, FrameSummary } from '../../../shared/schemas/streams.ts'
import { type FrameFigures, mdaEvents, type RuleFiring } from '../../../shared/streams/rules.ts'
import type { PendingFrame } from './liveStream.ts'

const round = (ms: number) => Math.round(ms * 100) / 100

export interface FrameOutcome {
  streamId: number
  frame: PendingFrame
  modelVersion: { id: number; name: string }
  figures: FrameFigures
  firings: readonly RuleFiring[]
  inferenceMs: number
}

export function frameSummary(outcome: FrameOutcome, processedMs: number): FrameSummary {
  const { frame, figures } = outcome
  return {
    streamId: outcome.streamId,
    seriesId: frame.series.id,
    frame: frame.frame,
    seq: frame.seq,
    width: frame.series.width,
    height: frame.series.height,
    acquiredAt: frame.acquiredAt,
    receivedAt: frame.receivedAt,
    processedAt: new Date().toISOString(),
    latencyMs: round(processedMs - frame.receivedMs),
    inferenceMs: round(outcome.inferenceMs),
    modelVersion: outcome.modelVersion,
    count: figures.count,
    meanArea: figures.meanArea,
    meanScore: figures.meanScore,
    actions: outcome.firings.map((firing) => firing.rule.action),
    keptImageId: null,
  }
}

/** The event one firing sends (without its id, which recording gives it), at `nowMs`. */
export function feedbackDraft(
  outcome: FrameOutcome,
  firing: RuleFiring,
  nowMs: number,
): Omit<FeedbackEvent, 'id'> {
  const { frame } = outcome
  const { series } = frame
  const draft: Omit<FeedbackEvent, 'id'> = {
    streamId: outcome.streamId,
    seriesId: series.id,
    frame: frame.frame,
    action: firing.rule.action,
    ruleId: firing.rule.id,
    ruleName: firing.rule.name,
    modelVersion: outcome.modelVersion,
    at: new Date().toISOString(),
    latencyMs: round(nowMs - frame.receivedMs),
    count: outcome.figures.count,
    targets: firing.targets.map((target) => ({
      objectId: target.id,
      centroid: { x: target.centroid.x, y: target.centroid.y },
    })),
  }
  if (firing.rule.action === 'acquire')
    draft.mda = mdaEvents(firing, {
      streamId: outcome.streamId,
      seriesId: series.id,
      frame: frame.frame,
      width: series.width,
      height: series.height,
      pixelSize: series.pixelSize,
      stage: frame.stage,
    })
  return draft
}
