import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { latestThrottle } from './latestThrottle.ts'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/** A job that takes `ms` and records what it ran and when. */
function recorder(ms: number) {
  const runs: { value: number; at: number }[] = []
  const run = (value: number) => {
    runs.push({ value, at: Date.now() })
    return new Promise<void>((resolve) => setTimeout(resolve, ms))
  }
  return { runs, run }
}

describe('latestThrottle', () => {
  it('runs the first value at once and then only the newest, once per interval', async () => {
    const { runs, run } = recorder(10)
    const start = Date.now()
    const throttle = latestThrottle(250, run)
    // 60 frames a second for two seconds.
    for (let i = 1; i <= 120; i++) {
      throttle.push(i)
      await vi.advanceTimersByTimeAsync(1000 / 60)
    }
    await vi.advanceTimersByTimeAsync(1000)
    expect(runs[0]).toEqual({ value: 1, at: start })
    const gaps = runs.slice(1).map((r, i) => r.at - runs[i]!.at)
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(250)
    expect(runs.length).toBeGreaterThanOrEqual(8)
    expect(runs.length).toBeLessThanOrEqual(10)
    // The last value pushed is always shown in the end.
    expect(runs.at(-1)!.value).toBe(120)
    const values = runs.map((r) => r.value)
    expect([...values].sort((a, b) => a - b)).toEqual(values)
  })

  it('never runs two jobs at once, even when one outlasts the interval', async () => {
    let running = 0
    let most = 0
    const throttle = latestThrottle(100, async () => {
      running++
      most = Math.max(most, running)
      await new Promise((resolve) => setTimeout(resolve, 400))
      running--
    })
    for (let i = 0; i < 50; i++) {
      throttle.push(i)
      await vi.advanceTimersByTimeAsync(20)
    }
    await vi.advanceTimersByTimeAsync(2000)
    expect(most).toBe(1)
  })

  it('goes on after a failed job and stops when cancelled', async () => {
    const values: number[] = []
    const throttle = latestThrottle(100, async (value: number) => {
      values.push(value)
      if (value === 1) throw new Error('no picture')
    })
    throttle.push(1)
    throttle.push(2)
    await vi.advanceTimersByTimeAsync(150)
    expect(values).toEqual([1, 2])
    throttle.push(3)
    throttle.cancel()
    await vi.advanceTimersByTimeAsync(500)
    expect(values).toEqual([1, 2])
  })
})
