import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { FeedbackEvent, FrameSummary } from '../../../../shared/schemas/streams.ts'
import { chartColumns, frameKey, mergeEvents, mergeFrames } from './frameBuffer.ts'

const frame = (seq: number, extra: Partial<FrameSummary> = {}): FrameSummary => ({
  streamId: 1,
  seriesId: 1,
  frame: seq - 1,
  seq,
  width: 64,
  height: 64,
  acquiredAt: null,
  receivedAt: new Date(1_700_000_000_000 + seq * 100).toISOString(),
  processedAt: new Date(1_700_000_000_000 + seq * 100 + 20).toISOString(),
  latencyMs: 20,
  inferenceMs: 15,
  modelVersion: { id: 1, name: 'v0' },
  count: seq % 5,
  meanArea: 100 + seq,
  meanScore: 0.9,
  actions: [],
  keptImageId: null,
  ...extra,
})

const event = (id: number): FeedbackEvent => ({
  id,
  streamId: 1,
  seriesId: 1,
  frame: id,
  action: 'flag',
  ruleId: 1,
  ruleName: 'big',
  modelVersion: { id: 1, name: 'v0' },
  at: new Date(1_700_000_000_000 + id).toISOString(),
  latencyMs: 30,
  count: 2,
  targets: [],
})

describe('recent frames', () => {
  it('keeps each frame once, in arrival order, the newest within the bound', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 30 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 50 }),
        (batches, cap) => {
          let frames: FrameSummary[] = []
          const seen = new Set<number>()
          for (const batch of batches) {
            frames = mergeFrames(
              frames,
              batch.map((seq) => frame(seq)),
              cap,
            )
            for (const seq of batch) seen.add(seq)
          }
          // The newest `cap` of all frames seen, whatever the batches.
          expect(frames.map((f) => f.seq)).toEqual([...seen].sort((a, b) => a - b).slice(-cap))
        },
      ),
    )
  })

  it('holds the newest frames when more come than it keeps', () => {
    let frames: FrameSummary[] = []
    for (let seq = 1; seq <= 1000; seq++) frames = mergeFrames(frames, [frame(seq)], 300)
    expect(frames).toHaveLength(300)
    expect(frames[0]!.seq).toBe(701)
    expect(frames.at(-1)!.seq).toBe(1000)
  })

  it('a later copy of a frame replaces the earlier one', () => {
    const frames = mergeFrames([frame(1), frame(2)], [frame(2, { keptImageId: 9 })])
    expect(frames.map((f) => f.keptImageId)).toEqual([null, 9])
  })

  it('gives the chart ascending times and the figures per frame', () => {
    const later = frame(2)
    const earlierClock = { ...frame(3), receivedAt: frame(1).receivedAt }
    const [time, count, area, latency] = chartColumns([frame(1), later, earlierClock])
    expect(time[2]).toBe(time[1])
    expect(time[1]! - time[0]!).toBeCloseTo(0.1)
    expect(count).toEqual([1, 2, 3])
    expect(area).toEqual([101, 102, 103])
    expect(latency).toEqual([20, 20, 20])
  })

  it('names frames by series and number, whatever the series id type', () => {
    expect(frameKey(1, 2)).not.toBe(frameKey('1', 2))
    expect(frameKey('a', 2)).toBe(frameKey('a', 2))
  })
})

describe('event log', () => {
  it('keeps each event once, newest first, within the bound', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 20 }), { maxLength: 10 }),
        (batches) => {
          let log: FeedbackEvent[] = []
          const seen = new Set<number>()
          for (const batch of batches) {
            log = mergeEvents(log, batch.map(event), 50)
            for (const id of batch) seen.add(id)
          }
          expect(log.map((e) => e.id)).toEqual([...seen].sort((a, b) => b - a).slice(0, 50))
        },
      ),
    )
  })
})
