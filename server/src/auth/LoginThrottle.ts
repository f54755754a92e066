// Login throttling: counts wrong passwords per username and per client address and, once either
// has too many, refuses every login for it for a while. It never checks a password itself.
import { createHash } from 'node:crypto'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { addressKey } from './addressKey.ts'
import type {
  LoginThrottleStore,
  StoredThrottleState,
  ThrottleState,
} from './LoginThrottleStore.ts'

/*
 * The policy.
 * - Per username: more than loginMaxFailures wrong passwords within loginWindowSeconds (a sliding
 *   window) and the next attempt starts a lockout: every login for that username, with the right
 *   password too, gets 429 until it ends (else guessing would just go on). Usernames that do not
 *   exist are counted the same way (keyed by a digest of the lower-cased name), so the answers
 *   never tell whether an account exists.
 * - Per client address (req.ip: the proxy's X-Forwarded-For only from a trusted proxy; IPv6 by
 *   its /64): the same with loginMaxFailuresPerAddress, which catches one password tried against
 *   many usernames. Its lockout refuses every username from that address, so everyone behind one
 *   NAT shares it: the default is five times the per-username limit, so typing mistakes of a
 *   whole lab do not add up to it within a window, and only wrong passwords count.
 * - A lockout lasts loginLockoutSeconds, doubling with each lockout in a row up to
 *   loginMaxLockoutSeconds; a key that stays clear of lockouts that long after its last one
 *   starts again at the first. Attempts refused during a lockout neither count nor extend it.
 * - A right password clears its username's count and lockouts; the address keeps its count
 *   (else logging in to one's own account between guesses would reset it) minus that attempt.
 * - An attempt counts as wrong from the moment it is admitted until its password proves right,
 *   so a burst of parallel guesses cannot all pass before the first is counted.
 */

export interface LoginThrottlePolicy {
  maxFailuresPerAccount: number
  maxFailuresPerAddress: number
  windowMs: number
  firstLockoutMs: number
  maxLockoutMs: number
}

export function loginThrottlePolicy(config: Config): LoginThrottlePolicy {
  return {
    maxFailuresPerAccount: config.loginMaxFailures,
    maxFailuresPerAddress: config.loginMaxFailuresPerAddress,
    windowMs: config.loginWindowSeconds * 1000,
    firstLockoutMs: config.loginLockoutSeconds * 1000,
    maxLockoutMs: Math.max(config.loginMaxLockoutSeconds, config.loginLockoutSeconds) * 1000,
  }
}

/** An admitted attempt; pass it to `succeeded` once its password proved right. */
export interface LoginAttempt {
  accountKey: string
  addressKey: string
  at: number
}

export type LoginAdmission =
  | { admitted: true; attempt: LoginAttempt }
  | { admitted: false; retryAfterSeconds: number; lockedOut: 'username' | 'address' }

interface KeyCheck {
  state: ThrottleState
  /** How long logins stay refused, 0 when this attempt may go ahead. */
  lockedForMs: number
  startedLockout: boolean
}

export class LoginThrottle {
  constructor(
    private readonly store: LoginThrottleStore,
    private readonly policy: LoginThrottlePolicy,
    private readonly log: Logger,
  ) {}

  async admit(username: string, ip: string | undefined, now = Date.now()): Promise<LoginAdmission> {
    const attempt: LoginAttempt = {
      accountKey: `account:${createHash('sha256').update(username.toLowerCase()).digest('hex')}`,
      addressKey: `address:${addressKey(ip)}`,
      at: now,
    }
    const limits = [this.policy.maxFailuresPerAccount, this.policy.maxFailuresPerAddress]
    const checks = await this.store.update(
      [attempt.accountKey, attempt.addressKey],
      now,
      (states) => {
        const checks = states.map((state, index) => this.check(state, limits[index]!, now))
        const refused = checks.some((check) => check.lockedForMs > 0)
        const next = checks.map(({ state }) =>
          refused ? state : { ...state, failures: [...state.failures, now] },
        )
        return { states: next.map((state) => this.stored(state, now)), result: checks }
      },
    )
    const [account, address] = checks as [KeyCheck, KeyCheck]
    const client = addressKey(ip)
    if (account.startedLockout) {
      this.logLockout(`username ${JSON.stringify(username.slice(0, 64))} (from ${client})`, account)
    }
    if (address.startedLockout) this.logLockout(`address ${client}`, address)
    const waitMs = Math.max(account.lockedForMs, address.lockedForMs)
    if (waitMs === 0) return { admitted: true, attempt }
    return {
      admitted: false,
      retryAfterSeconds: Math.ceil(waitMs / 1000),
      lockedOut: account.lockedForMs >= address.lockedForMs ? 'username' : 'address',
    }
  }

  /** The attempt's password was right: its username starts afresh, its address forgets it. */
  async succeeded(attempt: LoginAttempt, now = Date.now()): Promise<void> {
    await this.store.update([attempt.accountKey, attempt.addressKey], now, ([, address]) => {
      const failures = [...address!.failures]
      const own = failures.indexOf(attempt.at)
      if (own >= 0) failures.splice(own, 1)
      return { states: [null, this.stored({ ...address!, failures }, now)], result: undefined }
    })
  }

  private check(state: ThrottleState, limit: number, now: number): KeyCheck {
    const { windowMs, firstLockoutMs, maxLockoutMs } = this.policy
    const failures = state.failures.filter((at) => at > now - windowMs)
    if (state.lockedUntil > now) {
      return {
        state: { ...state, failures },
        lockedForMs: state.lockedUntil - now,
        startedLockout: false,
      }
    }
    if (failures.length < limit) {
      return { state: { ...state, failures }, lockedForMs: 0, startedLockout: false }
    }
    const quiet = state.lockedUntil > 0 && now - state.lockedUntil >= maxLockoutMs
    const lockouts = quiet ? 0 : state.lockouts
    const lockedForMs = Math.min(firstLockoutMs * 2 ** lockouts, maxLockoutMs)
    return {
      state: { failures: [], lockouts: lockouts + 1, lockedUntil: now + lockedForMs },
      lockedForMs,
      startedLockout: true,
    }
  }

  /** The state with the time it stops mattering, or null when it already has. */
  private stored(state: ThrottleState, now: number): StoredThrottleState | null {
    const lastFailure = state.failures[state.failures.length - 1] ?? 0
    const expiresAt = Math.max(
      lastFailure + this.policy.windowMs,
      state.lockedUntil > 0 ? state.lockedUntil + this.policy.maxLockoutMs : 0,
    )
    return expiresAt > now ? { ...state, expiresAt } : null
  }

  private logLockout(who: string, check: KeyCheck) {
    this.log.info(
      `Login lockout: ${who} refused for ${Math.ceil(check.lockedForMs / 1000)} s ` +
        `(lockout ${check.state.lockouts} in a row)`,
    )
  }
}

/** What a refused login tells the user: why, and when to try again. */
export function refusalMessage(admission: { retryAfterSeconds: number; lockedOut: string }) {
  const seconds = admission.retryAfterSeconds
  const minutes = Math.ceil(seconds / 60)
  const wait =
    seconds < 60
      ? `${seconds} second${seconds === 1 ? '' : 's'}`
      : `${minutes} minute${minutes === 1 ? '' : 's'}`
  const what =
    admission.lockedOut === 'username' ? 'for this username' : 'from your network address'
  return `Too many failed logins ${what}. Try again in ${wait}.`
}
