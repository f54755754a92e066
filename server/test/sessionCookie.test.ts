// The session cookie is Secure when people reach the app over HTTPS: by its configured public
// URL, or by a trusted proxy's X-Forwarded-Proto; plain http on loopback keeps it usable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, startTestServer, type TestServer } from './harness.ts'

/** The Set-Cookie header of a login as admin, with extra request headers. */
async function loginCookie(server: TestServer, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  })
  expect(response.status).toBe(200)
  const cookie = response.headers.getSetCookie().find((line) => line.startsWith('tessera_session='))
  expect(cookie).toBeDefined()
  return cookie!
}

const SECURE = /;\s*Secure(;|$)/i

describe('with a public URL on https', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ publicUrl: 'https://tessera.example.org' })
  })
  afterAll(() => server.close())

  it('marks the session cookie Secure, even for a request that came in over http', async () => {
    const cookie = await loginCookie(server)
    expect(cookie).toMatch(SECURE)
    expect(cookie).toMatch(/HttpOnly/i)
  })
})

describe('without a public URL', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server.close())

  it('keeps the cookie usable over plain http on loopback', async () => {
    expect(await loginCookie(server)).not.toMatch(SECURE)
  })

  it('marks it Secure when a trusted proxy on loopback says the request came over https', async () => {
    expect(await loginCookie(server, { 'x-forwarded-proto': 'https' })).toMatch(SECURE)
    expect(await loginCookie(server, { 'x-forwarded-proto': 'http' })).not.toMatch(SECURE)
  })
})
