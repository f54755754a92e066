// Login throttling over real HTTP: too many wrong passwords for a username, or from one client
// address, get 429 with Retry-After for a while that grows; the token endpoint is throttled too,
// unknown usernames look like known ones, and two server processes on one database agree.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './harness.ts'
import { startServerProcess } from './serverProcess.ts'

interface Answer {
  status: number
  error: string | undefined
  retryAfter: string | null
}

/** One password attempt from `address` (the server trusts X-Forwarded-For from loopback). */
async function attempt(
  server: TestServer | string,
  username: string,
  password: string,
  address: string,
  endpoint: 'login' | 'token' = 'login',
): Promise<Answer> {
  const url = typeof server === 'string' ? server : server.url
  const response = await fetch(`${url}/api/auth/${endpoint}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ username, password }),
  })
  const body = (await response.json()) as { error?: string }
  return {
    status: response.status,
    error: body.error,
    retryAfter: response.headers.get('retry-after'),
  }
}

async function attempts(count: number, ...args: Parameters<typeof attempt>): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < count; i++) statuses.push((await attempt(...args)).status)
  return statuses
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function createUser(server: TestServer, username: string) {
  const created = await server.admin.request('POST', '/api/users', {
    username,
    password: `${username}-password`,
  })
  expect(created.status).toBe(201)
}

describe('with the default limits', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
    for (const username of ['alice', 'bob', 'dave', 'erin', 'frank']) {
      await createUser(server, username)
    }
  })
  afterAll(() => server.close())

  it('refuses the 11th attempt for a username within a minute, the right password too', async () => {
    expect(await attempts(10, server, 'alice', 'wrong-password', '203.0.113.10')).toEqual(
      Array(10).fill(401),
    )
    const refused = await attempt(server, 'alice', 'alice-password', '203.0.113.10')
    expect(refused).toEqual({
      status: 429,
      error: 'Too many failed logins for this username. Try again in 1 minute.',
      retryAfter: '60',
    })
    // The lockout is the username's, wherever the attempt comes from ...
    expect((await attempt(server, 'Alice', 'alice-password', '198.51.100.10')).status).toBe(429)
    // ... and another username from the same address still logs in.
    expect((await attempt(server, 'bob', 'bob-password', '203.0.113.10')).status).toBe(200)
  })

  it('answers unknown usernames exactly as it answers known ones', async () => {
    const known: Answer[] = []
    const unknown: Answer[] = []
    for (let i = 0; i < 12; i++) {
      known.push(await attempt(server, 'dave', 'wrong-password', '203.0.113.11'))
      unknown.push(await attempt(server, 'nobody-here', 'wrong-password', '203.0.113.12'))
    }
    expect(unknown).toEqual(known)
    expect(known.map((answer) => answer.status)).toEqual([...Array(10).fill(401), 429, 429])
  })

  it('throttles the token endpoint too, counting together with logins', async () => {
    expect(await attempts(5, server, 'erin', 'wrong-password', '203.0.113.13')).toEqual(
      Array(5).fill(401),
    )
    expect(await attempts(5, server, 'erin', 'wrong-password', '203.0.113.13', 'token')).toEqual(
      Array(5).fill(401),
    )
    const refused = await attempt(server, 'erin', 'erin-password', '203.0.113.13', 'token')
    expect(refused.status).toBe(429)
    expect(refused.retryAfter).toBe('60')
    expect(refused.error).toMatch(/Try again in 1 minute/)
    expect((await attempt(server, 'erin', 'erin-password', '203.0.113.13')).status).toBe(429)
  })

  it('shares counts and lockouts with a second server process on the same database', async () => {
    const other = await startServerProcess({
      TESSERA_DATA: server.dataDir,
      TESSERA_DEMO: 'false',
      TESSERA_LOG_LEVEL: 'info',
    })
    try {
      expect(await attempts(5, server, 'frank', 'wrong-password', '203.0.113.14')).toEqual(
        Array(5).fill(401),
      )
      expect(await attempts(5, other.url, 'frank', 'wrong-password', '203.0.113.14')).toEqual(
        Array(5).fill(401),
      )
      const refused = await attempt(other.url, 'frank', 'frank-password', '203.0.113.14')
      expect(refused.status).toBe(429)
      expect((await attempt(server, 'frank', 'frank-password', '203.0.113.14')).status).toBe(429)
      const lockoutLines = other.output().match(/Login lockout: username "frank".*/g) ?? []
      expect(lockoutLines).toHaveLength(1)
      expect(lockoutLines[0]).toMatch(/from 203\.0\.113\.14\) refused for 60 s/)
    } finally {
      await other.stop()
    }
  })
})

describe('per client address', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ loginMaxFailures: 3, loginMaxFailuresPerAddress: 5 })
    for (const username of ['alice', 'bob', 'carol']) await createUser(server, username)
  })
  afterAll(() => server.close())

  it('locks other usernames from an address only once the address limit is reached', async () => {
    const address = '203.0.113.20'
    expect(await attempts(3, server, 'alice', 'wrong-password', address)).toEqual([401, 401, 401])
    expect((await attempt(server, 'alice', 'alice-password', address)).status).toBe(429)
    expect((await attempt(server, 'bob', 'bob-password', address)).status).toBe(200)
    expect(await attempts(2, server, 'bob', 'wrong-password', address)).toEqual([401, 401])
    // Five wrong passwords from this address: now every username from it waits.
    const refused = await attempt(server, 'carol', 'carol-password', address)
    expect(refused.status).toBe(429)
    expect(refused.error).toBe(
      'Too many failed logins from your network address. Try again in 1 minute.',
    )
    expect(refused.retryAfter).toBe('60')
    expect((await attempt(server, 'carol', 'carol-password', '198.51.100.20')).status).toBe(200)
  })

  it('counts IPv6 clients by their /64', async () => {
    expect(await attempts(3, server, 'x1', 'wrong-password', '2001:db8:1:2::a')).toEqual(
      Array(3).fill(401),
    )
    expect(await attempts(2, server, 'x2', 'wrong-password', '2001:db8:1:2::b')).toEqual(
      Array(2).fill(401),
    )
    expect((await attempt(server, 'carol', 'carol-password', '2001:db8:1:2::c')).status).toBe(429)
    expect((await attempt(server, 'carol', 'carol-password', '2001:db8:1:3::c')).status).toBe(200)
  })
})

describe('when a lockout ends', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({
      loginMaxFailures: 3,
      loginLockoutSeconds: 1,
      loginMaxLockoutSeconds: 30,
    })
    for (const username of ['alice', 'bob']) await createUser(server, username)
  })
  afterAll(() => server.close())

  it('lets the right password in, which clears the count and the lockouts', async () => {
    const address = '203.0.113.30'
    // A right password clears the count: three more wrong ones are still only 401.
    expect(await attempts(2, server, 'alice', 'wrong-password', address)).toEqual([401, 401])
    expect((await attempt(server, 'alice', 'alice-password', address)).status).toBe(200)
    expect(await attempts(3, server, 'alice', 'wrong-password', address)).toEqual([401, 401, 401])
    const refused = await attempt(server, 'alice', 'alice-password', address)
    expect(refused).toMatchObject({ status: 429, retryAfter: '1' })
    expect(refused.error).toMatch(/Try again in 1 second\./)

    await sleep(1_100)
    expect((await attempt(server, 'alice', 'alice-password', address)).status).toBe(200)
    // The lockout before was forgotten too: the next one is a first one again.
    expect(await attempts(3, server, 'alice', 'wrong-password', address)).toEqual([401, 401, 401])
    expect(await attempt(server, 'alice', 'alice-password', address)).toMatchObject({
      status: 429,
      retryAfter: '1',
    })
  })

  it('locks out twice as long the second time in a row', async () => {
    const address = '203.0.113.31'
    expect(await attempts(3, server, 'bob', 'wrong-password', address)).toEqual([401, 401, 401])
    expect(await attempt(server, 'bob', 'bob-password', address)).toMatchObject({
      status: 429,
      retryAfter: '1',
    })
    await sleep(1_100)
    expect(await attempts(3, server, 'bob', 'wrong-password', address)).toEqual([401, 401, 401])
    const second = await attempt(server, 'bob', 'bob-password', address)
    expect(second).toMatchObject({ status: 429, retryAfter: '2' })
    expect(second.error).toMatch(/Try again in 2 seconds\./)
  })
})
