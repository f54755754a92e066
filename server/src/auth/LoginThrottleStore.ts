// Where login throttling keeps its counts: one small state per key (a username or a client
// address), changed only inside `update`, so another store (e.g. Redis) can replace SQLite.

export interface ThrottleState {
  /** Times (ms since epoch) of recent wrong passwords, oldest first; attempts still being checked count too. */
  failures: number[]
  /** Lockouts in a row; the next one lasts twice as long as the last. */
  lockouts: number
  /** End of the current or the last lockout (ms since epoch), 0 when there was none. */
  lockedUntil: number
}

export interface StoredThrottleState extends ThrottleState {
  /** After this time (ms since epoch) the state says nothing any more and may be dropped. */
  expiresAt: number
}

export const FRESH_THROTTLE_STATE: ThrottleState = { failures: [], lockouts: 0, lockedUntil: 0 }

export interface LoginThrottleStore {
  /**
   * Reads the state of each key (FRESH_THROTTLE_STATE when absent or expired at `now`), lets
   * `change` compute the new states (null deletes the key), writes them, and returns `change`'s
   * result, all as one atomic step across every process sharing the store. `change` is pure and
   * may run more than once (an optimistic store retries it on conflict).
   */
  update<T>(
    keys: readonly string[],
    now: number,
    change: (states: ThrottleState[]) => { states: (StoredThrottleState | null)[]; result: T },
  ): Promise<T>
}
