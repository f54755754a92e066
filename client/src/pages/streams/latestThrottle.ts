// Runs an async job on the newest value pushed, at most one at a time and at most once per
// interval; values pushed meanwhile are dropped except the newest, which runs next. The live
// view loads frame pictures this way: a few a second, however fast frames arrive.

export interface LatestThrottle<T> {
  push(value: T): void
  /** Stops: nothing pending runs, a running job's end is ignored. */
  cancel(): void
}

export function latestThrottle<T>(
  intervalMs: number,
  run: (value: T) => Promise<unknown>,
): LatestThrottle<T> {
  let pending: { value: T } | null = null
  let running = false
  let cancelled = false
  let timer: ReturnType<typeof setTimeout> | null = null
  let lastStart = Number.NEGATIVE_INFINITY

  const pump = () => {
    if (cancelled || running || timer !== null || pending === null) return
    const wait = lastStart + intervalMs - Date.now()
    if (wait > 0) {
      timer = setTimeout(() => {
        timer = null
        pump()
      }, wait)
      return
    }
    const { value } = pending
    pending = null
    running = true
    lastStart = Date.now()
    run(value)
      .catch(() => {
        // The job reports its own errors; the throttle goes on with the next value.
      })
      .finally(() => {
        running = false
        pump()
      })
  }

  return {
    push(value) {
      pending = { value }
      pump()
    },
    cancel() {
      cancelled = true
      pending = null
      if (timer !== null) clearTimeout(timer)
      timer = null
    },
  }
}
