// Accounts over real HTTP: login and logout, sessions, API tokens, user administration,
// and the JSON error contract.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, ApiClient, startTestServer, type TestServer } from './harness.ts'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(() => server.close())

describe('system routes', () => {
  it('answers health and serves an OpenAPI document of every route', async () => {
    const anonymous = new ApiClient(server.url)
    expect((await anonymous.request('GET', '/api/health')).body).toMatchObject({ ok: true })
    const document = (await anonymous.request('GET', '/api/openapi.json')).body
    expect(document.openapi).toBe('3.1.0')
    expect(document.paths['/api/projects/{projectId}/classes'].post.requestBody).toBeDefined()
    expect(Object.keys(document.paths)).toContain('/api/auth/login')
  })

  it('answers unknown routes, bad JSON and oversized bodies with JSON errors', async () => {
    const unknown = await server.admin.request('GET', '/api/nothing-here')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toMatch(/No route/)
    const badJson = await server.admin.raw('POST', '/api/projects', '{"name":', 'application/json')
    expect(badJson.status).toBe(400)
    expect(badJson.body.error).toMatch(/not valid JSON/)
    const huge = await server.admin.request('POST', '/api/projects', {
      name: 'x',
      description: 'y'.repeat(2 * 1024 * 1024),
    })
    expect(huge.status).toBe(413)
    const invalid = await server.admin.request('POST', '/api/projects', { name: '' })
    expect(invalid.status).toBe(400)
    expect(invalid.body.error).toMatch(/Project name is required/)
  })
})

describe('sessions', () => {
  it('logs in, reports the user, and logs out', async () => {
    const client = new ApiClient(server.url)
    const wrong = await client.login('admin', 'not-the-password')
    expect(wrong.status).toBe(401)
    expect(wrong.body.error).toBe('Wrong username or password')
    const unknownUser = await client.login('nobody', 'whatever-password')
    expect(unknownUser.status).toBe(401)
    const ok = await client.login('admin', ADMIN_PASSWORD)
    expect(ok.status).toBe(200)
    expect(ok.headers.get('set-cookie')).toMatch(/HttpOnly/i)
    expect(ok.headers.get('set-cookie')).toMatch(/SameSite=Strict/i)
    const me = await client.request('GET', '/api/auth/me')
    expect(me.body.user.username).toBe('admin')
    expect(me.body.csrfToken).toBe(ok.body.csrfToken)
    expect((await client.request('POST', '/api/auth/logout')).status).toBe(204)
    expect((await client.request('GET', '/api/auth/me')).status).toBe(401)
  })

  it('ends the sessions of a disabled user and of a user whose password changed', async () => {
    const created = await server.admin.request('POST', '/api/users', {
      username: 'carol',
      password: 'carol-password',
      displayName: 'Carol',
    })
    expect(created.status).toBe(201)
    const carol = new ApiClient(server.url)
    await carol.login('carol', 'carol-password')
    expect((await carol.request('GET', '/api/auth/me')).status).toBe(200)

    await server.admin.request('PATCH', `/api/users/${created.body.id}`, {
      password: 'new-password',
    })
    expect((await carol.request('GET', '/api/auth/me')).status).toBe(401)
    expect((await carol.login('carol', 'carol-password')).status).toBe(401)
    expect((await carol.login('carol', 'new-password')).status).toBe(200)

    await server.admin.request('PATCH', `/api/users/${created.body.id}`, { disabled: true })
    expect((await carol.request('GET', '/api/auth/me')).status).toBe(401)
    const refused = await carol.login('carol', 'new-password')
    expect(refused.status).toBe(403)
    expect(refused.body.error).toMatch(/disabled/)
  })
})

describe('API tokens', () => {
  it('creates a token that works as a bearer without CSRF, lists and revokes it', async () => {
    const anonymous = new ApiClient(server.url)
    const refused = await anonymous.request('POST', '/api/auth/token', {
      username: 'admin',
      password: 'wrong-password',
    })
    expect(refused.status).toBe(401)
    const created = await anonymous.request('POST', '/api/auth/token', {
      username: 'admin',
      password: ADMIN_PASSWORD,
      name: 'script',
    })
    expect(created.status).toBe(201)
    const script = ApiClient.withToken(server.url, created.body.token)
    const project = await script.request('POST', '/api/projects', { name: 'From a script' })
    expect(project.status).toBe(201)
    const tokens = await script.request('GET', '/api/auth/tokens')
    expect(tokens.body.tokens.map((t: { name: string }) => t.name)).toContain('script')
    expect(JSON.stringify(tokens.body)).not.toContain(created.body.token)
    expect((await script.request('DELETE', `/api/auth/tokens/${created.body.id}`)).status).toBe(204)
    expect((await script.request('GET', '/api/projects')).status).toBe(401)
    const forged = await ApiClient.withToken(server.url, 'tsr_forged').request(
      'GET',
      '/api/projects',
    )
    expect(forged.status).toBe(401)
  })
})

describe('user administration', () => {
  it('lets the admin create, list and promote users; refuses duplicates and weak passwords', async () => {
    const created = await server.admin.request('POST', '/api/users', {
      username: 'dave',
      password: 'dave-password',
    })
    expect(created.body).toMatchObject({ username: 'dave', displayName: 'dave', isAdmin: false })
    const duplicate = await server.admin.request('POST', '/api/users', {
      username: 'DAVE',
      password: 'dave-password',
    })
    expect(duplicate.status).toBe(409)
    const weak = await server.admin.request('POST', '/api/users', {
      username: 'erin',
      password: 'short',
    })
    expect(weak.status).toBe(400)
    expect(weak.body.error).toMatch(/at least 8/)
    const list = await server.admin.request('GET', '/api/users')
    expect(list.body.users.map((u: { username: string }) => u.username)).toEqual(
      expect.arrayContaining(['admin', 'dave']),
    )
    const promoted = await server.admin.request('PATCH', `/api/users/${created.body.id}`, {
      isAdmin: true,
    })
    expect(promoted.body.isAdmin).toBe(true)
  })

  it('refuses to remove the last active administrator', async () => {
    const list = await server.admin.request('GET', '/api/users')
    const admins = list.body.users.filter((u: { isAdmin: boolean }) => u.isAdmin)
    for (const user of admins.filter((u: { username: string }) => u.username !== 'admin')) {
      await server.admin.request('PATCH', `/api/users/${user.id}`, { isAdmin: false })
    }
    const admin = admins.find((u: { username: string }) => u.username === 'admin')
    const refused = await server.admin.request('PATCH', `/api/users/${admin.id}`, {
      disabled: true,
    })
    expect(refused.status).toBe(409)
    expect((await server.admin.request('GET', '/api/auth/me')).status).toBe(200)
  })
})
