// The project live channel without a server: one EventSource per project shared by subscribers,
// closed with the last one; malformed messages dropped; reconnections reported; a stream the
// server refused is opened again later.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ProjectEvent, TrainingJob } from '../../../shared/schemas/training.ts'
import { parseProjectEvent, subscribeProjectEvents } from './projectEvents.ts'

class FakeEventSource {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSED = 2
  static all: FakeEventSource[] = []
  readyState = FakeEventSource.CONNECTING
  onopen: (() => void) | null = null
  onmessage: ((event: { data: string }) => void) | null = null
  onerror: (() => void) | null = null
  closed = false
  constructor(readonly url: string) {
    FakeEventSource.all.push(this)
  }
  open() {
    this.readyState = FakeEventSource.OPEN
    this.onopen?.()
  }
  send(data: unknown) {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) })
  }
  /** A network break: the browser reconnects by itself. */
  drop() {
    this.readyState = FakeEventSource.CONNECTING
    this.onerror?.()
  }
  /** An HTTP error: the browser gives up. */
  refuse() {
    this.readyState = FakeEventSource.CLOSED
    this.onerror?.()
  }
  close() {
    this.closed = true
    this.readyState = FakeEventSource.CLOSED
  }
}

const job: TrainingJob = {
  id: 3,
  projectId: 1,
  kind: 'train',
  state: 'running',
  attempt: 1,
  maxAttempts: 3,
  config: {
    minutes: 2,
    maxSteps: 100,
    batchSize: 8,
    cropSize: 128,
    learningRate: 5e-4,
    validationFraction: 0.2,
    seed: 0,
  },
  baseVersion: { id: 1, name: 'v0' },
  trainingSet: { images: 2, objects: 10, skipped: {}, suggestionsLeftOut: 0, hash: 'h' },
  progress: {
    phase: 'train',
    step: 5,
    totalSteps: 100,
    loss: 0.5,
    validation: null,
    etaSeconds: 60,
  },
  history: [{ step: 5, seconds: 3, loss: 0.5 }],
  logTail: 'step 5',
  error: null,
  resultVersion: null,
  timings: null,
  cancelRequested: false,
  triggeredBy: { userId: 1, username: 'admin' },
  createdAt: '2025-01-01T00:00:00Z',
  startedAt: '2025-01-01T00:00:01Z',
  finishedAt: null,
}
const jobEvent: ProjectEvent = { type: 'job', job }

beforeEach(() => {
  FakeEventSource.all = []
  vi.stubGlobal('EventSource', FakeEventSource)
  vi.useFakeTimers()
  vi.spyOn(console, 'warn').mockImplementation(() => undefined)
})
afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
})

describe('project events', () => {
  it('shares one stream per project among subscribers and closes it with the last', () => {
    const a: ProjectEvent[] = []
    const b: ProjectEvent[] = []
    const stopA = subscribeProjectEvents(1, { onEvent: (e) => a.push(e) })
    const stopB = subscribeProjectEvents(1, { onEvent: (e) => b.push(e) })
    const stopOther = subscribeProjectEvents(2, { onEvent: () => undefined })
    expect(FakeEventSource.all.map((s) => s.url)).toEqual([
      '/api/projects/1/events',
      '/api/projects/2/events',
    ])
    const [source] = FakeEventSource.all
    source!.open()
    source!.send(jobEvent)
    expect(a).toEqual([jobEvent])
    expect(b).toEqual([jobEvent])
    stopA()
    expect(source!.closed).toBe(false)
    stopB()
    expect(source!.closed).toBe(true)
    stopOther()
    // A later subscriber opens a new stream.
    const stopC = subscribeProjectEvents(1, { onEvent: () => undefined })
    expect(FakeEventSource.all).toHaveLength(3)
    stopC()
  })

  it('drops malformed messages with a warning and keeps going', () => {
    const seen: ProjectEvent[] = []
    const stop = subscribeProjectEvents(1, { onEvent: (e) => seen.push(e) })
    const source = FakeEventSource.all[0]!
    source.open()
    source.send('not json')
    source.send({ type: 'job', job: { id: 'x' } })
    source.send({ type: 'unknown' })
    source.send(jobEvent)
    expect(seen).toEqual([jobEvent])
    expect(console.warn).toHaveBeenCalledTimes(3)
    expect(parseProjectEvent(JSON.stringify(jobEvent))).toEqual(jobEvent)
    stop()
  })

  it('reports a reconnection (not the first open) so subscribers refetch', () => {
    const onReconnect = vi.fn()
    const stop = subscribeProjectEvents(1, { onEvent: () => undefined, onReconnect })
    const source = FakeEventSource.all[0]!
    source.open()
    expect(onReconnect).not.toHaveBeenCalled()
    source.drop()
    source.open()
    expect(onReconnect).toHaveBeenCalledTimes(1)
    stop()
  })

  it('opens a refused stream again after a pause, and reports the reconnection', () => {
    const onReconnect = vi.fn()
    const stop = subscribeProjectEvents(1, { onEvent: () => undefined, onReconnect })
    FakeEventSource.all[0]!.open()
    FakeEventSource.all[0]!.refuse()
    expect(FakeEventSource.all).toHaveLength(1)
    vi.advanceTimersByTime(2_000)
    expect(FakeEventSource.all).toHaveLength(2)
    FakeEventSource.all[1]!.open()
    expect(onReconnect).toHaveBeenCalledTimes(1)
    stop()
    expect(FakeEventSource.all[1]!.closed).toBe(true)
    // No retry after the last subscriber left.
    FakeEventSource.all[1]!.refuse()
    vi.advanceTimersByTime(60_000)
    expect(FakeEventSource.all).toHaveLength(2)
  })
})
