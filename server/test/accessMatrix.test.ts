// Walks every route in the OpenAPI document and checks the access rules a user relies on:
// 401 without credentials, 403 for a non-member, 403 for a viewer writing, 403 for a
// cookie-authenticated write without the CSRF token. New routes are covered automatically.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiClient, startTestServer, type TestServer } from './harness.ts'

interface Operation {
  method: string
  path: string
  auth: 'public' | 'user' | 'admin' | 'worker'
  projectRole?: string
}

const UNSAFE = new Set(['post', 'put', 'patch', 'delete'])
let server: TestServer
let operations: Operation[]
let outsider: ApiClient
let viewer: ApiClient
let projectId: number

async function userClient(username: string): Promise<ApiClient> {
  const created = await server.admin.request('POST', '/api/users', {
    username,
    password: 'password-123',
  })
  expect(created.status).toBe(201)
  const client = new ApiClient(server.url)
  expect((await client.login(username, 'password-123')).status).toBe(200)
  return client
}

function concretePath(path: string): string {
  // Ids of things that need not exist: access checks run before any lookup.
  return path.replace('{projectId}', String(projectId)).replace(/\{\w+\}/g, '1')
}

beforeAll(async () => {
  server = await startTestServer()
  const document = (await server.admin.request('GET', '/api/openapi.json')).body
  operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods as Record<string, any>).map(([method, op]) => ({
      method,
      path,
      auth: op['x-auth'],
      projectRole: op['x-project-role'],
    })),
  )
  const project = await server.admin.request('POST', '/api/projects', { name: 'Access matrix' })
  projectId = project.body.id
  outsider = await userClient('outsider')
  viewer = await userClient('viewer')
  const added = await server.admin.request('POST', `/api/projects/${projectId}/members`, {
    username: 'viewer',
    role: 'viewer',
  })
  expect(added.status).toBe(201)
})

afterAll(() => server.close())

describe('access rules on every route', () => {
  it('lists a good number of routes, each with declared access', () => {
    expect(operations.length).toBeGreaterThan(20)
    for (const op of operations) expect(['public', 'user', 'admin', 'worker']).toContain(op.auth)
  })

  it('refuses every worker route to a logged-in user, even an admin (401: workers only)', async () => {
    const workerOps = operations.filter((o) => o.auth === 'worker')
    expect(workerOps.length).toBeGreaterThan(5)
    for (const op of workerOps) {
      const response = await server.admin.request(
        op.method.toUpperCase(),
        concretePath(op.path),
        UNSAFE.has(op.method) ? {} : undefined,
      )
      expect(response.status, `${op.method} ${op.path}`).toBe(401)
    }
  })

  it('refuses every non-public route without credentials (401)', async () => {
    const anonymous = new ApiClient(server.url)
    for (const op of operations.filter((o) => o.auth !== 'public')) {
      const response = await anonymous.request(
        op.method.toUpperCase(),
        concretePath(op.path),
        UNSAFE.has(op.method) ? {} : undefined,
      )
      expect(response.status, `${op.method} ${op.path}`).toBe(401)
      expect(typeof response.body.error).toBe('string')
    }
  })

  it('refuses every project route to a user who is not a member (403)', async () => {
    const projectOps = operations.filter((o) => o.projectRole)
    expect(projectOps.length).toBeGreaterThan(10)
    for (const op of projectOps) {
      const response = await outsider.request(
        op.method.toUpperCase(),
        concretePath(op.path),
        UNSAFE.has(op.method) ? {} : undefined,
      )
      expect(response.status, `${op.method} ${op.path}`).toBe(403)
    }
  })

  it('refuses every write above the viewer role to a viewer (403)', async () => {
    const writes = operations.filter((o) => o.projectRole && o.projectRole !== 'viewer')
    expect(writes.length).toBeGreaterThan(5)
    for (const op of writes) {
      const response = await viewer.request(
        op.method.toUpperCase(),
        concretePath(op.path),
        UNSAFE.has(op.method) ? {} : undefined,
      )
      expect(response.status, `${op.method} ${op.path}`).toBe(403)
      expect(response.body.error).toMatch(/role/)
    }
  })

  it('refuses every admin route to a non-admin (403)', async () => {
    for (const op of operations.filter((o) => o.auth === 'admin')) {
      const response = await viewer.request(
        op.method.toUpperCase(),
        concretePath(op.path),
        UNSAFE.has(op.method) ? {} : undefined,
      )
      expect(response.status, `${op.method} ${op.path}`).toBe(403)
    }
  })

  it('refuses every cookie-authenticated write without the CSRF token (403 csrf)', async () => {
    const noCsrf = new ApiClient(server.url)
    await noCsrf.login('admin', 'admin-password-for-tests')
    noCsrf.sendCsrf = false
    // Worker routes take no cookies at all (the test above).
    const writes = operations.filter(
      (o) => o.auth !== 'public' && o.auth !== 'worker' && UNSAFE.has(o.method),
    )
    for (const op of writes) {
      const response = await noCsrf.request(
        op.method.toUpperCase(),
        concretePath(op.path),
        UNSAFE.has(op.method) ? {} : undefined,
      )
      expect(response.status, `${op.method} ${op.path}`).toBe(403)
      expect(response.body.code).toBe('csrf')
    }
    // Nothing was changed by the refused writes.
    const project = await server.admin.request('GET', `/api/projects/${projectId}`)
    expect(project.body.name).toBe('Access matrix')
  })
})
