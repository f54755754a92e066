// Login throttling state in the app's SQLite database (table login_throttle, migration 7), so
// every server process on one database counts the same attempts.
import type { Statement } from 'better-sqlite3'
import type { Db } from '../db/database.ts'
import {
  FRESH_THROTTLE_STATE,
  type LoginThrottleStore,
  type StoredThrottleState,
  type ThrottleState,
} from './LoginThrottleStore.ts'

interface ThrottleRow {
  failures: string
  lockouts: number
  locked_until: number
}

export class SqliteLoginThrottleStore implements LoginThrottleStore {
  private readonly select: Statement
  private readonly upsert: Statement
  private readonly remove: Statement
  private readonly prune: Statement

  constructor(private readonly db: Db) {
    this.select = db.prepare(
      'SELECT failures, lockouts, locked_until FROM login_throttle WHERE key = ? AND expires_at > ?',
    )
    this.upsert = db.prepare(
      `INSERT INTO login_throttle (key, failures, lockouts, locked_until, expires_at)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, lockouts = excluded.lockouts,
         locked_until = excluded.locked_until, expires_at = excluded.expires_at`,
    )
    this.remove = db.prepare('DELETE FROM login_throttle WHERE key = ?')
    this.prune = db.prepare('DELETE FROM login_throttle WHERE expires_at <= ?')
  }

  update<T>(
    keys: readonly string[],
    now: number,
    change: (states: ThrottleState[]) => { states: (StoredThrottleState | null)[]; result: T },
  ): Promise<T> {
    // IMMEDIATE takes the write lock before reading, so two processes cannot both read the same
    // count and each add one to it.
    const run = this.db.transaction(() => {
      // Expired rows (usernames tried once, addresses long gone) would otherwise pile up.
      this.prune.run(now)
      const before = keys.map((key) => {
        const row = this.select.get(key, now) as ThrottleRow | undefined
        if (!row) return FRESH_THROTTLE_STATE
        return {
          failures: JSON.parse(row.failures) as number[],
          lockouts: row.lockouts,
          lockedUntil: row.locked_until,
        }
      })
      const { states, result } = change(before)
      keys.forEach((key, index) => {
        const state = states[index]
        if (!state) this.remove.run(key)
        else
          this.upsert.run(
            key,
            JSON.stringify(state.failures),
            state.lockouts,
            state.lockedUntil,
            state.expiresAt,
          )
      })
      return result
    })
    try {
      return Promise.resolve(run.immediate())
    } catch (error) {
      return Promise.reject(error)
    }
  }
}
