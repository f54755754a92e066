// The login throttling policy on a real SQLite database with a hand-driven clock: counts per
// username and address, lockouts that double up to a cap, and what a right password clears.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import { type LoginAdmission, LoginThrottle, type LoginThrottlePolicy } from './LoginThrottle.ts'
import { SqliteLoginThrottleStore } from './SqliteLoginThrottleStore.ts'

const POLICY: LoginThrottlePolicy = {
  maxFailuresPerAccount: 10,
  maxFailuresPerAddress: 50,
  windowMs: 60_000,
  firstLockoutMs: 60_000,
  maxLockoutMs: 900_000,
}

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
})

function throttleOnNewDatabase(policy = POLICY) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-throttle-'))
  folders.push(folder)
  const file = path.join(folder, 'tessera.sqlite')
  const lines: string[] = []
  const log: Logger = { error: () => {}, info: (line) => lines.push(line), debug: () => {} }
  const open = () =>
    new LoginThrottle(new SqliteLoginThrottleStore(openDatabase(file)), policy, log)
  return { throttle: open(), open, lines }
}

/** `count` wrong passwords, each admitted and never proved right. */
async function fail(
  throttle: LoginThrottle,
  username: string,
  ip: string,
  count: number,
  now: number,
) {
  for (let i = 0; i < count; i++) {
    const admission = await throttle.admit(username, ip, now + i)
    expect(admission.admitted).toBe(true)
  }
}

const refusal = (admission: LoginAdmission) =>
  admission.admitted ? 'admitted' : `${admission.lockedOut} ${admission.retryAfterSeconds}`

describe('LoginThrottle', () => {
  it('locks a username after ten wrong passwords in a minute, longer each time up to the cap', async () => {
    const { throttle, lines } = throttleOnNewDatabase()
    let now = 1_000_000
    const waits: string[] = []
    for (let lockout = 0; lockout < 6; lockout++) {
      await fail(throttle, 'alice', '203.0.113.1', 10, now)
      const refused = await throttle.admit('alice', '203.0.113.1', now + 10)
      waits.push(refusal(refused))
      if (!refused.admitted) now += 10 + refused.retryAfterSeconds * 1000
    }
    expect(waits).toEqual([
      'username 60',
      'username 120',
      'username 240',
      'username 480',
      'username 900',
      'username 900',
    ])
    expect(lines).toHaveLength(6)
    expect(lines[1]).toMatch(
      /Login lockout: username "alice" \(from 203\.0\.113\.1\) refused for 120 s/,
    )
  })

  it('refuses even the attempt that would be right, and does not count refused attempts', async () => {
    const { throttle } = throttleOnNewDatabase()
    const now = 5_000_000
    await fail(throttle, 'alice', '203.0.113.1', 10, now)
    expect(refusal(await throttle.admit('alice', '203.0.113.1', now + 100))).toBe('username 60')
    expect(refusal(await throttle.admit('ALICE', '198.51.100.9', now + 30_100))).toBe('username 30')
    // The lockout ended: ten more tries before the next one, which lasts twice as long.
    await fail(throttle, 'alice', '203.0.113.1', 10, now + 60_100)
    expect(refusal(await throttle.admit('alice', '203.0.113.1', now + 60_200))).toBe('username 120')
  })

  it('forgets wrong passwords older than the window, and lockouts after a quiet period', async () => {
    const { throttle } = throttleOnNewDatabase()
    const now = 9_000_000
    await fail(throttle, 'bob', '203.0.113.2', 9, now)
    await fail(throttle, 'bob', '203.0.113.2', 10, now + 60_000)
    expect(refusal(await throttle.admit('bob', '203.0.113.2', now + 60_010))).toBe('username 60')
    // Lockout ended at +120 010; the cap (900 s) later, the next lockout is a first one again.
    const quiet = now + 120_010 + 900_000
    await fail(throttle, 'bob', '203.0.113.2', 10, quiet)
    expect(refusal(await throttle.admit('bob', '203.0.113.2', quiet + 10))).toBe('username 60')
  })

  it('clears a username on a right password, but not its address', async () => {
    const { throttle } = throttleOnNewDatabase({ ...POLICY, maxFailuresPerAddress: 12 })
    const now = 20_000_000
    await fail(throttle, 'carol', '203.0.113.3', 9, now)
    const right = await throttle.admit('carol', '203.0.113.3', now + 9)
    if (!right.admitted) throw new Error('the tenth attempt was refused')
    await throttle.succeeded(right.attempt, now + 9)
    // Carol starts afresh; her address keeps its nine wrong passwords.
    await fail(throttle, 'carol', '203.0.113.3', 3, now + 10)
    expect(refusal(await throttle.admit('dave', '203.0.113.3', now + 20))).toBe('address 60')
    expect(refusal(await throttle.admit('dave', '198.51.100.1', now + 20))).toBe('admitted')
  })

  it('counts an attempt as wrong until it is proved right, so a burst cannot slip through', async () => {
    const { throttle } = throttleOnNewDatabase()
    const now = 30_000_000
    const burst = await Promise.all(
      Array.from({ length: 30 }, () => throttle.admit('erin', '203.0.113.4', now)),
    )
    expect(burst.filter((admission) => admission.admitted)).toHaveLength(10)
  })

  it('shares counts between two connections to one database (two server processes)', async () => {
    const { throttle, open } = throttleOnNewDatabase()
    const other = open()
    const now = 40_000_000
    await fail(throttle, 'frank', '203.0.113.5', 5, now)
    await fail(other, 'frank', '203.0.113.5', 5, now + 5)
    expect(refusal(await throttle.admit('frank', '203.0.113.5', now + 10))).toBe('username 60')
    expect(refusal(await other.admit('frank', '203.0.113.5', now + 20))).toBe('username 60')
  })
})
