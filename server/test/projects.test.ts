// Projects, members and label classes over real HTTP, as owners, annotators and outsiders
// see them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiClient, startTestServer, type TestServer } from './harness.ts'

let server: TestServer
let alice: ApiClient
let bob: ApiClient
let bobId: number

async function user(username: string) {
  const created = await server.admin.request('POST', '/api/users', {
    username,
    password: `${username}-password`,
  })
  const client = new ApiClient(server.url)
  await client.login(username, `${username}-password`)
  return { client, id: created.body.id as number }
}

beforeAll(async () => {
  server = await startTestServer()
  alice = (await user('alice')).client
  const b = await user('bob')
  bob = b.client
  bobId = b.id
})
afterAll(() => server.close())

describe('projects', () => {
  it('creates a project owned by its creator, visible only to members', async () => {
    const created = await alice.request('POST', '/api/projects', {
      name: 'Nuclei 2026',
      description: 'HeLa, DAPI',
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ name: 'Nuclei 2026', role: 'owner', imageCount: 0 })
    const mine = await alice.request('GET', '/api/projects')
    expect(mine.body.projects.map((p: { name: string }) => p.name)).toEqual(['Nuclei 2026'])
    const bobs = await bob.request('GET', '/api/projects')
    expect(bobs.body.projects).toEqual([])
    const peek = await bob.request('GET', `/api/projects/${created.body.id}`)
    expect(peek.status).toBe(403)
    const missing = await bob.request('GET', '/api/projects/999999')
    expect(missing.status).toBe(403)
  })

  it('renames and deletes a project as its owner', async () => {
    const { body } = await alice.request('POST', '/api/projects', { name: 'Scratch' })
    const renamed = await alice.request('PATCH', `/api/projects/${body.id}`, { name: 'Scratch 2' })
    expect(renamed.body.name).toBe('Scratch 2')
    expect((await alice.request('DELETE', `/api/projects/${body.id}`)).status).toBe(204)
    expect((await alice.request('GET', `/api/projects/${body.id}`)).status).toBe(403)
  })
})

describe('members', () => {
  it('adds, re-roles and removes members, keeping at least one owner', async () => {
    const { body: project } = await alice.request('POST', '/api/projects', { name: 'Team' })
    const base = `/api/projects/${project.id}/members`
    const added = await alice.request('POST', base, { username: 'bob', role: 'annotator' })
    expect(added.status).toBe(201)
    expect(added.body).toMatchObject({ username: 'bob', role: 'annotator' })
    expect((await alice.request('POST', base, { username: 'bob', role: 'viewer' })).status).toBe(
      409,
    )
    const unknown = await alice.request('POST', base, { username: 'zed', role: 'viewer' })
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toMatch(/zed/)

    // Bob now sees the project with his role, and may not manage members.
    const bobs = await bob.request('GET', '/api/projects')
    expect(bobs.body.projects).toMatchObject([{ name: 'Team', role: 'annotator' }])
    expect((await bob.request('POST', base, { username: 'admin', role: 'owner' })).status).toBe(403)

    const list = await bob.request('GET', base)
    expect(list.body.members.map((m: { username: string }) => m.username)).toEqual(['alice', 'bob'])
    const aliceId = list.body.members.find(
      (m: { username: string }) => m.username === 'alice',
    ).userId
    const demoteLast = await alice.request('PATCH', `${base}/${aliceId}`, { role: 'viewer' })
    expect(demoteLast.status).toBe(409)
    expect(demoteLast.body.error).toMatch(/at least one owner/)
    expect((await alice.request('PATCH', `${base}/${bobId}`, { role: 'owner' })).body.role).toBe(
      'owner',
    )
    expect((await alice.request('PATCH', `${base}/${aliceId}`, { role: 'reviewer' })).status).toBe(
      200,
    )
    expect((await bob.request('DELETE', `${base}/${aliceId}`)).status).toBe(204)
    expect((await alice.request('GET', `/api/projects/${project.id}`)).status).toBe(403)
  })
})

describe('label classes', () => {
  it('adds, edits, reorders and deletes classes; refuses duplicates and bad colours', async () => {
    const { body: project } = await alice.request('POST', '/api/projects', { name: 'Classes' })
    const base = `/api/projects/${project.id}/classes`
    const nucleus = await alice.request('POST', base, {
      name: 'nucleus',
      color: '#FF0000',
      shortcut: '1',
    })
    expect(nucleus.status).toBe(201)
    expect(nucleus.body).toMatchObject({
      name: 'nucleus',
      color: '#ff0000',
      shortcut: '1',
      position: 0,
    })
    const cell = await alice.request('POST', base, {
      name: 'cell',
      color: '#00ff00',
      shortcut: '2',
    })
    const debris = await alice.request('POST', base, { name: 'debris', color: '#0000ff' })
    expect(debris.body.position).toBe(2)

    expect((await alice.request('POST', base, { name: 'nucleus', color: '#123456' })).status).toBe(
      409,
    )
    const sameKey = await alice.request('POST', base, {
      name: 'x',
      color: '#123456',
      shortcut: '1',
    })
    expect(sameKey.status).toBe(409)
    expect(sameKey.body.error).toMatch(/nucleus/)
    const badColour = await alice.request('POST', base, { name: 'y', color: 'red' })
    expect(badColour.status).toBe(400)
    expect(badColour.body.error).toMatch(/#rrggbb/)

    await alice.request('PATCH', `${base}/${debris.body.id}`, { position: 0, name: 'junk' })
    const ordered = await alice.request('GET', base)
    expect(ordered.body.classes.map((c: { name: string }) => c.name)).toEqual([
      'junk',
      'nucleus',
      'cell',
    ])
    expect((await alice.request('DELETE', `${base}/${cell.body.id}`)).status).toBe(204)
    expect((await alice.request('GET', base)).body.classes).toHaveLength(2)
    // A class id from another project is not found here.
    const { body: other } = await alice.request('POST', '/api/projects', { name: 'Other' })
    const foreign = await alice.request(
      'PATCH',
      `/api/projects/${other.id}/classes/${nucleus.body.id}`,
      {
        name: 'stolen',
      },
    )
    expect(foreign.status).toBe(404)
  })
})
