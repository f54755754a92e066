import { describe, expect, it } from 'vitest'
import {
  emptyCounters,
  type FrameSummary,
  type StreamInfo,
} from '../../../../shared/schemas/streams.ts'
import { applyStreamEvent } from './streamList.ts'

const counters = emptyCounters()
const stream = (id: number, name = `s${id}`): StreamInfo => ({
  id,
  projectId: 1,
  name,
  backpressure: 'latest',
  keepFlagged: false,
  rules: [],
  createdAt: '2026-01-01T00:00:00.000Z',
  connected: 0,
  counters,
  series: null,
  latest: null,
})
const frame = (seq: number): FrameSummary => ({
  streamId: 2,
  seriesId: 1,
  frame: seq,
  seq,
  width: 8,
  height: 8,
  acquiredAt: null,
  receivedAt: '2026-01-01T00:00:00.000Z',
  processedAt: '2026-01-01T00:00:00.000Z',
  latencyMs: 1,
  inferenceMs: 1,
  modelVersion: { id: 1, name: 'v0' },
  count: 0,
  meanArea: 0,
  meanScore: 0,
  actions: [],
  keptImageId: null,
})

describe('applyStreamEvent', () => {
  it('adds, replaces and removes streams, in id order', () => {
    let list: readonly StreamInfo[] = [stream(1), stream(3)]
    list = applyStreamEvent(list, { type: 'stream', streamId: 2, stream: stream(2) })
    expect(list.map((s) => s.id)).toEqual([1, 2, 3])
    list = applyStreamEvent(list, { type: 'stream', streamId: 1, stream: stream(1, 'renamed') })
    expect(list.map((s) => s.name)).toEqual(['renamed', 's2', 's3'])
    list = applyStreamEvent(list, { type: 'stream', streamId: 3, stream: null })
    expect(list.map((s) => s.id)).toEqual([1, 2])
  })

  it('takes new counters and the newest frame from a batch of frames', () => {
    const list = [stream(1), stream(2)]
    const next = applyStreamEvent(list, {
      type: 'stream-frames',
      streamId: 2,
      frames: [frame(5), frame(7), frame(6)],
      counters: { ...counters, received: 7, processed: 7 },
    })
    expect(next[1]!.counters.processed).toBe(7)
    expect(next[1]!.latest?.seq).toBe(7)
    expect(next[0]).toBe(list[0])
  })

  it("leaves the list alone for other events and other projects' streams", () => {
    const list = [stream(1)]
    expect(
      applyStreamEvent(list, { type: 'stream-frames', streamId: 9, frames: [], counters }),
    ).toBe(list)
    expect(applyStreamEvent(list, { type: 'stream', streamId: 9, stream: null })).toBe(list)
  })
})
