// The collaboration server against stock y-websocket clients that misbehave: absurd geometry,
// edits beyond the connection's role, spoofed authors and names, room aliases, foreign origins,
// and roles that change while a socket is open. Every client here is the npm package's own
// WebsocketProvider over a real socket to a real server.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  acceptSuggestion,
  annotationsOf,
  createAnnotation,
  listAnnotations,
  modelOrigin,
  readReviewState,
  setReviewState,
  userOrigin,
} from '../../shared/doc/index.ts'
import { CloseCode } from '../../shared/schemas/closeCodes.ts'
import { writeRawAnnotation } from '../../shared/testing/writeRawAnnotation.ts'
import { readImageIndex, SqliteDocumentStore } from '../src/collab/index.ts'
import {
  COLLAB_IMAGE,
  type CollabClient,
  collabProject,
  connect,
  eventually,
  synced,
} from './collabClients.ts'
import { startTestServer, type TestServer } from './harness.ts'

const IMAGE = COLLAB_IMAGE
const square = (x: number) => ({ rings: [[x, 0, x + 5, 0, x + 5, 5, x, 5]] })
let server: TestServer
const clients: CollabClient[] = []
const open = (imageId: number, token: string | null) => {
  const client = connect(server.url, imageId, token)
  clients.push(client)
  return client
}
const live = (imageId: number) => server.server.tessera.collab.liveDoc(`image:${imageId}`)!
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  server = await startTestServer()
})
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy()
})
afterAll(() => server.close())

describe('geometry the app can always draw', () => {
  it('repairs an absurd box, a far polygon and a huge mask before any other editor sees them', async () => {
    const { imageId, tokens } = await collabProject(server.admin, {
      attacker: 'annotator',
      watcher: 'owner',
    })
    const attacker = open(imageId, tokens.attacker)
    const watcher = open(imageId, tokens.watcher)
    await Promise.all([synced(attacker), synced(watcher)])
    // Every state the watcher's document passes through must be valid on the image.
    const seen: string[] = []
    watcher.doc.on('afterTransaction', () => {
      for (const failure of listAnnotations(watcher.doc, IMAGE).failed) seen.push(failure.error)
    })
    createAnnotation(
      attacker.doc,
      { kind: 'polygon', geometry: square(1), classId: 1 },
      userOrigin(1),
    )
    writeRawAnnotation(attacker.doc, 'box', {
      kind: 'box',
      geometry: { x: 0, y: 0, width: 1e6, height: 1e6 },
    })
    writeRawAnnotation(attacker.doc, 'far', {
      kind: 'polygon',
      geometry: { rings: [[1e300, 0, -1e300, 5, 0, 1e300]] },
    })
    writeRawAnnotation(attacker.doc, 'mask', {
      kind: 'mask',
      geometry: { x: 0, y: 0, width: 9e7, height: 9e7, counts: [9e7 * 9e7] },
    })
    await eventually(
      () => listAnnotations(watcher.doc).parsed.length === 1 && attacker.notices.length > 1,
      5_000,
      'the valid polygon only, and a notice',
    )
    await eventually(() => annotationsOf(attacker.doc).size === 1, 5_000, 'attacker repaired')
    expect(seen).toEqual([])
    const reasons = attacker.notices.flatMap((n) => (n.type === 'repaired' ? n.reasons : []))
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^box: vertex/),
        expect.stringMatching(/^far: vertex/),
        expect.stringMatching(/^mask: a mask of 90000000×90000000 pixels/),
      ]),
    )
    expect(listAnnotations(live(imageId), IMAGE)).toMatchObject({ failed: [] })
    const stored = new SqliteDocumentStore(server.server.tessera.context.db).load(
      `image:${imageId}`,
    ).doc
    expect(listAnnotations(stored, IMAGE).parsed.map((a) => a.kind)).toEqual(['polygon'])
    expect(listAnnotations(stored, IMAGE).failed).toEqual([])
  })
})

describe('review and authorship on the server', () => {
  it("keeps an annotator from marking an image reviewed, accepting a suggestion or writing someone else's name", async () => {
    const { project, imageId, tokens, userIds } = await collabProject(server.admin, {
      annotator1: 'annotator',
      reviewer1: 'reviewer',
    })
    const annotator = open(imageId, tokens.annotator1)
    const reviewer = open(imageId, tokens.reviewer1)
    await Promise.all([synced(annotator), synced(reviewer)])
    const suggestion = createAnnotation(
      annotator.doc,
      {
        kind: 'polygon',
        geometry: square(1),
        classId: 1,
        origin: { type: 'model', modelVersion: 'v0', score: 0.8 },
      },
      modelOrigin('v0'),
    )
    writeRawAnnotation(annotator.doc, 'spoofed', {
      kind: 'box',
      geometry: { x: 1, y: 1, width: 2, height: 2 },
      author: userIds.reviewer1,
      updatedBy: userIds.reviewer1,
    })
    await eventually(() => annotationsOf(live(imageId)).size === 2, 5_000, 'both arrive')
    acceptSuggestion(annotator.doc, suggestion, userOrigin(userIds.annotator1))
    setReviewState(annotator.doc, { status: 'reviewed' }, userOrigin(userIds.annotator1))
    await eventually(
      () => annotator.notices.filter((n) => n.type === 'repaired').length >= 2,
      5_000,
      'repair notices',
    )
    await eventually(
      () => readReviewState(annotator.doc).status !== 'reviewed',
      5_000,
      'status put back',
    )
    const byId = new Map(listAnnotations(live(imageId)).parsed.map((a) => [a.id, a]))
    expect(byId.get(suggestion)?.review).toBe('pending')
    expect(byId.get('spoofed')).toMatchObject({
      author: userIds.annotator1,
      updatedBy: userIds.annotator1,
    })
    expect(readReviewState(live(imageId)).status).not.toBe('reviewed')
    const listing = await server.admin.request('GET', `/api/projects/${project}/images`)
    expect(listing.body.images[0].status).not.toBe('reviewed')
    // The reviewer may do both.
    acceptSuggestion(reviewer.doc, suggestion, userOrigin(userIds.reviewer1))
    setReviewState(reviewer.doc, { status: 'reviewed' }, userOrigin(userIds.reviewer1))
    await eventually(
      () => readReviewState(live(imageId)).status === 'reviewed',
      5_000,
      'reviewed by the reviewer',
    )
    const db = server.server.tessera.context.db
    await eventually(() => readImageIndex(db, imageId)?.status === 'reviewed', 5_000, 'index')
    expect(listAnnotations(live(imageId)).parsed.find((a) => a.id === suggestion)?.review).toBe(
      'accepted',
    )
    expect(reviewer.notices.some((n) => n.type === 'repaired')).toBe(false)
  })

  it("answers a viewer's edit with a read-only notice instead of dropping it silently", async () => {
    const { imageId, tokens } = await collabProject(server.admin, { viewer2: 'viewer' })
    const viewer = open(imageId, tokens.viewer2)
    await synced(viewer)
    expect(viewer.notices[0]).toEqual({ type: 'access', role: 'viewer', readOnly: true })
    createAnnotation(
      viewer.doc,
      { kind: 'polygon', geometry: square(2), classId: 1 },
      userOrigin(1),
    )
    await eventually(
      () => viewer.notices.some((n) => n.type === 'read-only'),
      5_000,
      'read-only notice',
    )
    expect(annotationsOf(live(imageId)).size).toBe(0)
  })
})

describe('roles on open sockets', () => {
  const within = async (what: string, ms: number, condition: () => boolean) => {
    const started = Date.now()
    await eventually(condition, ms, what)
    return Date.now() - started
  }

  it('makes a demoted annotator read-only at once, and a promoted viewer writable', async () => {
    const { project, imageId, tokens, userIds } = await collabProject(server.admin, {
      demoted: 'annotator',
    })
    const client = open(imageId, tokens.demoted)
    await synced(client)
    const changed = await server.admin.request(
      'PATCH',
      `/api/projects/${project}/members/${userIds.demoted}`,
      { role: 'viewer' },
    )
    expect(changed.status).toBe(200)
    createAnnotation(
      client.doc,
      { kind: 'polygon', geometry: square(3), classId: 1 },
      userOrigin(1),
    )
    await within('read-only notice', 1_000, () =>
      client.notices.some((n) => n.type === 'access' && n.readOnly),
    )
    await sleep(300)
    expect(annotationsOf(live(imageId)).size).toBe(0)
    await server.admin.request('PATCH', `/api/projects/${project}/members/${userIds.demoted}`, {
      role: 'annotator',
    })
    await within('writable notice', 1_000, () => {
      const last = client.notices.at(-1)
      return last?.type === 'access' && !last.readOnly
    })
    createAnnotation(
      client.doc,
      { kind: 'polygon', geometry: square(9), classId: 1 },
      userOrigin(1),
    )
    // The client's edits build on the one that was dropped: the server asks for what it lacks,
    // so both arrive now, checked under the new role.
    await eventually(() => annotationsOf(live(imageId)).size === 2, 2_000, 'writes land')
  })

  it('closes the socket of a removed member (4403) and of a disabled account (4401) within a second', async () => {
    const { project, imageId, tokens, userIds } = await collabProject(server.admin, {
      removed: 'annotator',
      disabled: 'annotator',
    })
    const removed = open(imageId, tokens.removed)
    const disabled = open(imageId, tokens.disabled)
    await Promise.all([synced(removed), synced(disabled)])
    let started = Date.now()
    await server.admin.request('DELETE', `/api/projects/${project}/members/${userIds.removed}`)
    expect(await removed.closed).toBe(CloseCode.Forbidden)
    expect(Date.now() - started).toBeLessThan(1_000)
    started = Date.now()
    await server.admin.request('PATCH', `/api/users/${userIds.disabled}`, { disabled: true })
    expect(await disabled.closed).toBe(CloseCode.Unauthorized)
    expect(Date.now() - started).toBeLessThan(1_000)
    // Neither gets back in.
    removed.provider.disconnect()
    disabled.provider.disconnect()
    expect(await open(imageId, tokens.removed).closed).toBe(CloseCode.Forbidden)
    expect(await open(imageId, tokens.disabled).closed).toBe(CloseCode.Unauthorized)
  })
})

/** Opens a websocket with the given Origin: 'open', 'http <status>' when refused, or 'error'. */
function upgrade(url: string, origin: string | undefined) {
  return new Promise<string>((resolve) => {
    const ws = new WebSocket(url, origin ? { origin } : {})
    ws.on('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`))
    ws.on('open', () => {
      resolve('open')
      ws.close()
    })
    ws.on('error', () => resolve('error'))
  })
}

describe('rooms and origins', () => {
  it('refuses every name of an image but its canonical one', async () => {
    const { imageId, tokens } = await collabProject(server.admin, { alias: 'annotator' })
    const token = tokens.alias
    for (const name of [
      `image:0${imageId}`,
      `image:${imageId}.0`,
      `image:+${imageId}`,
      `image: ${imageId}`,
    ]) {
      const ws = new WebSocket(
        `${server.url.replace('http', 'ws')}/collab/${encodeURIComponent(name)}?token=${token}`,
      )
      const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)))
      expect(code, name).toBe(CloseCode.NotFound)
    }
    const db = server.server.tessera.context.db
    expect(
      db
        .prepare(
          "SELECT count(*) FROM doc_updates WHERE room NOT IN (SELECT 'image:' || id FROM images)",
        )
        .pluck()
        .get(),
    ).toBe(0)
    const canonical = open(imageId, token)
    await synced(canonical)
  })

  it('refuses a websocket from a foreign origin, and from another port of the same host', async () => {
    const { imageId, tokens } = await collabProject(server.admin, { origins: 'annotator' })
    const url = `${server.url.replace('http', 'ws')}/collab/image:${imageId}?token=${tokens.origins}`
    const host = new URL(server.url).host
    const attempt = (origin: string | undefined) => upgrade(url, origin)
    expect(await attempt('http://evil.example')).toBe('http 403')
    expect(await attempt(`http://${host.replace(/:\d+$/, ':1')}`)).toBe('http 403')
    expect(await attempt('null')).toBe('http 403')
    expect(await attempt(`http://${host}`)).toBe('open')
    // Clients that are not browsers send no Origin and bring their own credentials.
    expect(await attempt(undefined)).toBe('open')

    const listed = await startTestServer({
      publicUrl: 'https://tessera.example.org',
      allowedOrigins: 'http://localhost:5173',
    })
    try {
      const other = await collabProject(listed.admin, { listed: 'annotator' })
      const otherUrl = `${listed.url.replace('http', 'ws')}/collab/image:${other.imageId}?token=${other.tokens.listed}`
      const at = (origin: string) => upgrade(otherUrl, origin)
      expect(await at('https://tessera.example.org')).toBe('open')
      expect(await at('http://localhost:5173')).toBe('open')
      // With a public URL configured, the request's own Host no longer decides.
      expect(await at(`http://${new URL(listed.url).host}`)).toBe('http 403')
    } finally {
      await listed.close()
    }
  })

  it('gives every collaborator the name of their account, whatever their client claims', async () => {
    const { project, imageId, tokens } = await collabProject(server.admin, { named: 'viewer' })
    const client = open(imageId, tokens.named)
    await synced(client)
    client.provider.awareness.setLocalStateField('user', {
      id: 1,
      name: 'Administrator',
      color: '#000000',
    })
    client.provider.awareness.setLocalStateField('cursor', { x: 3, y: 4 })
    await expect
      .poll(async () => {
        const response = await server.admin.request('GET', `/api/projects/${project}/presence`)
        return response.body.images.flatMap((i: { users: { name: string }[] }) =>
          i.users.map((u) => u.name),
        )
      })
      .toEqual(['named'])
    // Other collaborators receive the corrected state, cursor kept.
    const states = [...server.server.tessera.collab.loadedRooms()]
      .find((r) => r.imageId === imageId)!
      .awareness.getStates()
    expect([...states.values()][0]).toMatchObject({
      user: { name: 'named' },
      cursor: { x: 3, y: 4 },
    })
  })
})
