// Live collaboration over the real server with stock y-websocket clients in Node: convergence,
// read-only viewers, authentication, limits, the derived index, and durability across kill -9.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import sharp from 'sharp'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  createAnnotation,
  listAnnotations,
  setReviewState,
  userOrigin,
} from '../../shared/doc/index.ts'
import { CloseCode } from '../../shared/schemas/closeCodes.ts'
import { writeRawAnnotation } from '../../shared/testing/writeRawAnnotation.ts'
import { computeImageIndex, readImageIndex, SqliteDocumentStore } from '../src/collab/index.ts'
import {
  type CollabClient,
  collabProject,
  connect,
  eventually,
  synced,
  tokenFor,
} from './collabClients.ts'
import { ApiClient, startTestServer, type TestServer } from './harness.ts'
import { startServerProcess } from './serverProcess.ts'

// Inside the 64×64 test image for x ≤ 59.
const square = (x: number) => ({ rings: [[x, 0, x + 5, 0, x + 5, 5, x, 5]] })
let server: TestServer
const clients: CollabClient[] = []
const open = (imageId: number, token: string | null) => {
  const client = connect(server.url, imageId, token)
  clients.push(client)
  return client
}

beforeAll(async () => {
  server = await startTestServer()
})
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy()
})
afterAll(() => server.close())

describe('collaboration', () => {
  it('converges when several clients edit at once', async () => {
    const { imageId, tokens } = await collabProject(server.admin, {
      ann1: 'annotator',
      ann2: 'annotator',
      ann3: 'owner',
    })
    const [a, b, c] = [
      open(imageId, tokens.ann1),
      open(imageId, tokens.ann2),
      open(imageId, tokens.ann3),
    ]
    await Promise.all([a, b, c].map((x) => synced(x)))
    for (let i = 0; i < 10; i++) {
      for (const [k, client] of [a, b, c].entries()) {
        createAnnotation(
          client.doc,
          { kind: 'polygon', geometry: square(i * 5 + k), classId: 1 },
          userOrigin(k),
        )
      }
    }
    await eventually(
      () => [a, b, c].every((x) => listAnnotations(x.doc).parsed.length === 30),
      10_000,
      'all 30',
    )
    // The clients wrote made-up user ids: the server's corrections reach all three too.
    const same = (x: CollabClient, y: CollabClient) =>
      isDeepStrictEqual(x.doc.toJSON(), y.doc.toJSON())
    await eventually(() => same(a, b) && same(b, c), 10_000, 'identical documents')
    expect(a.doc.toJSON()).toEqual(b.doc.toJSON())
    expect(b.doc.toJSON()).toEqual(c.doc.toJSON())
    const live = server.server.tessera.collab.liveDoc(`image:${imageId}`)!
    expect(listAnnotations(live).parsed).toHaveLength(30)
  })

  it("drops a viewer's updates while the viewer still receives everyone else's", async () => {
    const { imageId, tokens } = await collabProject(server.admin, {
      editor1: 'annotator',
      viewer1: 'viewer',
    })
    const editor = open(imageId, tokens.editor1)
    const viewer = open(imageId, tokens.viewer1)
    await Promise.all([synced(editor), synced(viewer)])
    createAnnotation(
      viewer.doc,
      { kind: 'polygon', geometry: square(50), classId: 1 },
      userOrigin(99),
    )
    createAnnotation(
      editor.doc,
      { kind: 'polygon', geometry: square(0), classId: 1 },
      userOrigin(1),
    )
    await eventually(
      () => listAnnotations(viewer.doc).parsed.length === 2,
      5_000,
      'viewer receives',
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(listAnnotations(editor.doc).parsed).toHaveLength(1)
    const live = server.server.tessera.collab.liveDoc(`image:${imageId}`)!
    // The author is the editor's account, whatever user id its client wrote.
    const editorId = (await server.admin.request('GET', '/api/users')).body.users.find(
      (u: { username: string }) => u.username === 'editor1',
    ).id
    expect(listAnnotations(live).parsed.map((a) => a.author)).toEqual([editorId])
    // A fresh client sees only the editor's annotation.
    const late = open(imageId, tokens.editor1)
    await synced(late)
    expect(listAnnotations(late.doc).parsed).toHaveLength(1)
  })

  it('syncs a stock WebsocketProvider with a token and plain Yjs calls', async () => {
    const { imageId, tokens } = await collabProject(server.admin, {
      plain1: 'annotator',
      plain2: 'annotator',
    })
    const first = open(imageId, tokens.plain1)
    const second = open(imageId, tokens.plain2)
    await Promise.all([synced(first), synced(second)])
    first.doc.transact(() => {
      writeRawAnnotation(first.doc, 'plain', {
        kind: 'box',
        geometry: { x: 1, y: 2, width: 3, height: 4 },
        classId: null,
      })
      // Roots the app does not know are cleared by the server.
      first.doc.getMap('scratch').set('hello', 'world')
    })
    await eventually(
      () => listAnnotations(second.doc).parsed.some((a) => a.id === 'plain'),
      5_000,
      'plain annotation',
    )
    await eventually(() => first.doc.getMap('scratch').size === 0, 5_000, 'scratch cleared')
    expect(second.doc.getMap('scratch').size).toBe(0)
    expect(listAnnotations(second.doc).parsed[0].author).not.toBeNull()
  })

  it('closes connections without credentials, of non-members and to unknown images, with named codes', async () => {
    const { imageId } = await collabProject(server.admin, {})
    expect(await open(imageId, null).closed).toBe(CloseCode.Unauthorized)
    expect(await open(imageId, 'tsr_not-a-token').closed).toBe(CloseCode.Unauthorized)
    await server.admin.request('POST', '/api/users', {
      username: 'stranger',
      password: 'stranger-password',
    })
    const stranger = await tokenFor(server.url, 'stranger', 'stranger-password')
    expect(await open(imageId, stranger).closed).toBe(CloseCode.Forbidden)
    const adminToken = await tokenFor(server.url, 'admin', 'admin-password-for-tests')
    expect(await open(999_999, adminToken).closed).toBe(CloseCode.NotFound)
  })

  it('closes a connection that sends a message above the size limit', async () => {
    const small = await startTestServer({ maxMessageBytes: 64 * 1024 })
    try {
      const { imageId, tokens } = await collabProject(small.admin, { big1: 'annotator' })
      const client = connect(small.url, imageId, tokens.big1)
      clients.push(client)
      await synced(client)
      client.doc.getMap('scratch').set('blob', 'x'.repeat(200 * 1024))
      expect(await client.closed).toBe(CloseCode.MessageTooBig)
      expect(
        small.server.tessera.collab.liveDoc(`image:${imageId}`)?.getMap('scratch').get('blob'),
      ).toBeUndefined()
    } finally {
      await small.close()
    }
  })

  it('keeps the image index and status in step with the document', async () => {
    const { project, imageId, tokens } = await collabProject(server.admin, { idx1: 'annotator' })
    const client = open(imageId, tokens.idx1)
    await synced(client)
    for (let i = 0; i < 3; i++)
      createAnnotation(
        client.doc,
        { kind: 'polygon', geometry: square(i * 7), classId: 2 },
        userOrigin(5),
      )
    createAnnotation(
      client.doc,
      { kind: 'box', geometry: { x: 1, y: 1, width: 3, height: 3 }, classId: 7 },
      userOrigin(5),
    )
    const db = server.server.tessera.context.db
    await eventually(() => readImageIndex(db, imageId)?.annotationCount === 4, 5_000, 'index')
    expect(readImageIndex(db, imageId)).toMatchObject({
      countsByClass: { '2': 3, '7': 1 },
      status: 'in_progress',
    })
    setReviewState(client.doc, { status: 'done' }, userOrigin(5))
    await eventually(() => readImageIndex(db, imageId)?.status === 'done', 5_000, 'status done')
    const listing = await server.admin.request('GET', `/api/projects/${project}/images`)
    expect(listing.body.images[0].status).toBe('done')
    // Oracle: the index built from updates equals one computed from the stored document.
    const stored = new SqliteDocumentStore(db).load(`image:${imageId}`).doc
    const rebuilt = computeImageIndex(imageId, stored)
    const { imageId: _, ...incremental } = readImageIndex(db, imageId)!
    expect({ ...rebuilt, imageId: undefined }).toMatchObject({ ...incremental, imageId: undefined })
  })

  it("deletes an image's document with it: editors are told, and a new image with its id opens empty", async () => {
    const { project, imageId, tokens } = await collabProject(server.admin, { del1: 'annotator' })
    const client = open(imageId, tokens.del1)
    await synced(client)
    createAnnotation(
      client.doc,
      { kind: 'polygon', geometry: square(3), classId: null },
      userOrigin(5),
    )
    const db = server.server.tessera.context.db
    const rows = () =>
      db.prepare('SELECT COUNT(*) FROM doc_updates WHERE room = ?').pluck().get(`image:${imageId}`)
    await eventually(() => rows() === 1, 5_000, 'update stored')
    expect(
      (await server.admin.request('DELETE', `/api/projects/${project}/images/${imageId}`)).status,
    ).toBe(204)
    expect(await client.closed).toBe(CloseCode.NotFound)
    expect(rows()).toBe(0)
    // No trace of the document is left: log, snapshot, index, live room.
    const left = (sql: string) => db.prepare(sql).pluck().get(`image:${imageId}`)
    expect(left('SELECT count(*) FROM doc_snapshots WHERE room = ?')).toBe(0)
    expect(
      db.prepare('SELECT count(*) FROM image_index WHERE image_id = ?').pluck().get(imageId),
    ).toBe(0)
    expect(server.server.tessera.collab.liveDoc(`image:${imageId}`)).toBeUndefined()
    // SQLite hands the freed id to the next image (the last one was deleted).
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#101010' } })
      .toColourspace('b-w')
      .png()
      .toBuffer()
    const form = new FormData()
    form.append('files', new Blob([png as Uint8Array<ArrayBuffer>]), 'again.png')
    const again = (await server.admin.request('POST', `/api/projects/${project}/images`, form)).body
      .images[0].id
    expect(again).toBe(imageId)
    const fresh = open(again, tokens.del1)
    await synced(fresh)
    expect(listAnnotations(fresh.doc).parsed).toHaveLength(0)
  })
})

describe('presence', () => {
  it('tells the project page who is on which image, by their account names', async () => {
    const { project, imageId, tokens } = await collabProject(server.admin, {
      pres1: 'annotator',
      pres2: 'viewer',
    })
    const a = open(imageId, tokens.pres1)
    const b = open(imageId, tokens.pres2)
    await Promise.all([synced(a), synced(b)])
    a.provider.awareness.setLocalStateField('user', { id: 1, name: 'Ada', color: '#e6194b' })
    b.provider.awareness.setLocalStateField('user', { id: 2, name: 'Bea', color: '#3cb44b' })
    const names = async () => {
      const response = await server.admin.request('GET', `/api/projects/${project}/presence`)
      return response.body.images
        .flatMap((i: any) => (i.imageId === imageId ? i.users.map((u: any) => u.name) : []))
        .sort()
    }
    // Names come from the accounts, not from what a client claims.
    await expect.poll(names).toEqual(['pres1', 'pres2'])
    b.destroy()
    await expect.poll(names).toEqual(['pres1'])
  })
})

describe('durability', () => {
  it('keeps every update a client had received across kill -9 and a restart', async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-crash-'))
    const env = {
      TESSERA_DATA: data,
      TESSERA_DEMO: 'false',
      TESSERA_ADMIN_PASSWORD: 'admin-password',
    }
    let processServer = await startServerProcess(env)
    try {
      const admin = new ApiClient(processServer.url)
      await admin.login('admin', 'admin-password')
      const { imageId, tokens } = await collabProject(admin, {
        crash1: 'annotator',
        crash2: 'annotator',
      })
      const writer = connect(processServer.url, imageId, tokens.crash1)
      const reader = connect(processServer.url, imageId, tokens.crash2)
      clients.push(writer, reader)
      await Promise.all([synced(writer), synced(reader)])
      for (let i = 0; i < 50; i++)
        createAnnotation(
          writer.doc,
          { kind: 'polygon', geometry: square(i), classId: 1 },
          userOrigin(1),
        )
      await eventually(
        () => listAnnotations(reader.doc).parsed.length === 50,
        10_000,
        'reader has 50',
      )
      const received = listAnnotations(reader.doc)
        .parsed.map((a) => a.id)
        .sort()
      expect(await processServer.stop('SIGKILL')).toBeNull()
      writer.provider.disconnect()
      reader.provider.disconnect()

      processServer = await startServerProcess(env)
      const fresh = connect(processServer.url, imageId, tokens.crash2)
      clients.push(fresh)
      await synced(fresh)
      expect(
        listAnnotations(fresh.doc)
          .parsed.map((a) => a.id)
          .sort(),
      ).toEqual(received)
    } finally {
      await processServer.stop('SIGTERM')
      fs.rmSync(data, { recursive: true, force: true })
    }
  })

  it('persists the document through a graceful restart (snapshot compaction)', async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-restart-'))
    const s = await startTestServer({ dataDir: data })
    try {
      const { imageId, tokens } = await collabProject(s.admin, { snap1: 'annotator' })
      const client = connect(s.url, imageId, tokens.snap1)
      await synced(client)
      for (let i = 0; i < 20; i++)
        createAnnotation(
          client.doc,
          { kind: 'polygon', geometry: square(i), classId: 1 },
          userOrigin(1),
        )
      const expected = Y.encodeStateVector(client.doc)
      await eventually(() => {
        const live = s.server.tessera.collab.liveDoc(`image:${imageId}`)
        return !!live && listAnnotations(live).parsed.length === 20
      })
      client.destroy()
      await s.server.close()
      const store = new SqliteDocumentStore(
        (await import('../src/db/database.ts')).openDatabase(path.join(data, 'tessera.sqlite')),
      )
      const reloaded = store.load(`image:${imageId}`)
      expect(reloaded.logged).toBe(0) // compacted into the snapshot on shutdown
      expect(listAnnotations(reloaded.doc).parsed).toHaveLength(20)
      expect(Y.encodeStateVector(reloaded.doc).length).toBeGreaterThanOrEqual(expected.length)
    } finally {
      await s.close()
      fs.rmSync(data, { recursive: true, force: true })
    }
  })
})
