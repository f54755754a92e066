// Issue 15 in Chromium against stock clients and role changes: absurd entries written by a stock
// y-websocket client never reach an open editor and the image still opens at once; an edit too
// large for the server is not re-sent in a loop but kept, explained, and sent after an undo; a
// demoted editor turns read-only within a second; and the document left by a seeded run of
// hostile clients opens in the editor.
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  type CollabClient,
  connect,
  eventually,
  synced,
  tokenFor,
} from '../server/test/collabClients.ts'
import { startTestServer, type TestServer } from '../server/test/harness.ts'
import { FUZZ_IMAGE, runHostileFuzz } from '../server/test/hostileFuzz.ts'
import { annotationsOf, listAnnotations } from '../shared/doc/index.ts'
import { fuzzSeeds } from '../shared/testing/fuzzSeeds.ts'
import { writeRawAnnotation } from '../shared/testing/writeRawAnnotation.ts'
import type { BrowserSession } from './fixtures/browser.ts'
import { openEditorAs } from './fixtures/EditorPage.ts'
import { seedProject } from './fixtures/seedProject.ts'

const sessions: BrowserSession[] = []
const clients: CollabClient[] = []
const servers: TestServer[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy()
  for (const session of sessions.splice(0)) await session.close()
})
afterAll(async () => {
  for (const server of servers) await server.close()
})

/** A server with a 400 × 300 image and users of the given roles (password `<name>-password`). */
async function setUp(roles: Record<string, string>, overrides = {}) {
  const server = await startTestServer(overrides)
  servers.push(server)
  const { projectId, imageId, userIds } = await seedProject(server.admin, {
    name: 'Hardening',
    width: 400,
    height: 300,
    roles,
  })
  const open = (username: string) =>
    openEditorAs(sessions, server.url, username, projectId, imageId)
  return { server, projectId, imageId, userIds, open }
}

describe('hardening in the browser', () => {
  it("keeps a stock client's absurd entries from an open editor; the image still opens at once", async () => {
    const { server, imageId, open } = await setUp({ owner1: 'owner', mallory: 'annotator' })
    const watching = await open('owner1')
    const token = await tokenFor(server.url, 'mallory', 'mallory-password')
    const mallory = connect(server.url, imageId, token)
    clients.push(mallory)
    await synced(mallory)
    mallory.doc.transact(() => {
      const entries: Record<string, unknown>[] = [
        { kind: 'polygon', geometry: { rings: [[10, 10, 60, 10, 60, 60]] } },
        { kind: 'box', geometry: { x: 0, y: 0, width: 1e6, height: 1e6 } },
        { kind: 'polygon', geometry: { rings: [[1e300, 0, -1e300, 5, 0, 1e300]] } },
        { kind: 'mask', geometry: { x: 0, y: 0, width: 9e7, height: 9e7, counts: [8.1e15] } },
      ]
      for (const [k, fields] of entries.entries()) {
        writeRawAnnotation(mallory.doc, `entry${k}`, {
          classId: null,
          author: 1,
          updatedBy: 1,
          ...fields,
        })
      }
    })
    await watching.page.waitForFunction(
      () => window.__tesseraEditor?.editor.getAnnotations().length === 1,
      undefined,
      { timeout: 5_000 },
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await watching.editor.annotations()).toHaveLength(1)
    expect(await watching.editor.skipped()).toEqual([])
    // The image opens again, and is drawn, in under 2 s.
    const started = Date.now()
    await watching.page.reload()
    await watching.page.waitForFunction(
      () => window.__tesseraEditor?.drawnCount() === 1,
      undefined,
      { timeout: 5_000 },
    )
    const openMs = Date.now() - started
    console.log(`image opened and drawn after the attack in ${openMs} ms`)
    expect(openMs).toBeLessThan(2_000)
  })

  it('tells the user about an edit too large for the server, does not re-send it, and sends it after an undo', async () => {
    const { server, imageId, open } = await setUp(
      { big: 'annotator' },
      { maxMessageBytes: 64 * 1024 },
    )
    let upgrades = 0
    server.server.httpServer.on('upgrade', () => upgrades++)
    const { page } = await open('big')
    const before = upgrades
    // 20,000 vertices inside the image: valid, but about 180 KB on the wire.
    await page.evaluate(() => {
      const ring: number[] = []
      for (let i = 0; i < 20_000; i++) {
        const angle = (i / 20_000) * Math.PI * 2
        ring.push(200 + 100 * Math.cos(angle), 150 + 100 * Math.sin(angle))
      }
      window.__tesseraEditor!.editor.create('polygon', { rings: [ring] })
    })
    await page.getByTestId('editor.connection').filter({ hasText: 'too large' }).waitFor()
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    // One refused attempt, then no reconnect by itself (a stock client retries every second).
    expect(upgrades - before).toBe(0)
    const live = server.server.tessera.collab.liveDoc(`image:${imageId}`)
    expect(live ? annotationsOf(live).size : 0).toBe(0)
    // The edit is still in the browser.
    expect(await page.evaluate(() => window.__tesseraEditor!.editor.getAnnotations().length)).toBe(
      1,
    )
    await page.evaluate(() => window.__tesseraEditor!.editor.undo())
    await page.getByTestId('editor.reconnect').click()
    await page.waitForFunction(() => window.__tesseraEditor?.status() === 'connected', undefined, {
      timeout: 5_000,
    })
    expect(upgrades - before).toBe(1)
    const doc = server.server.tessera.collab.liveDoc(`image:${imageId}`)!
    await eventually(() => Y.encodeStateVector(doc).length > 1, 5_000, 'synced')
    expect(annotationsOf(doc).size).toBe(0)
  })

  it('turns an open editor read-only within a second of a demotion, and back when promoted', async () => {
    const { server, projectId, userIds, open } = await setUp({ dana: 'annotator' })
    const { page } = await open('dana')
    const started = Date.now()
    await server.admin.request('PATCH', `/api/projects/${projectId}/members/${userIds.dana}`, {
      role: 'viewer',
    })
    await page
      .getByTestId('editor.connection')
      .filter({ hasText: 'read only (viewer)' })
      .waitFor({ timeout: 1_000 })
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(await page.evaluate(() => window.__tesseraEditor!.editor.state.readOnly)).toBe(true)
    await server.admin.request('PATCH', `/api/projects/${projectId}/members/${userIds.dana}`, {
      role: 'annotator',
    })
    await page.waitForFunction(
      () => window.__tesseraEditor?.editor.state.readOnly === false,
      undefined,
      {
        timeout: 1_000,
      },
    )
  })

  it('opens the document left by a seeded run of hostile clients', async () => {
    const server = await startTestServer()
    servers.push(server)
    const [seed] = fuzzSeeds(1)
    const result = await runHostileFuzz({
      url: server.url,
      admin: server.admin,
      seed,
      steps: 150,
      maxMs: 10_000,
    })
    const live = server.server.tessera.collab.liveDoc(`image:${result.imageId}`)!
    const expected = listAnnotations(live, FUZZ_IMAGE)
    expect(expected.failed).toEqual([])
    for (const client of Object.values(result.clients)) client.destroy()
    const { page, editor } = await openEditorAs(
      sessions,
      server.url,
      'honest3',
      result.project,
      result.imageId,
    )
    await page.waitForFunction(
      (n) => window.__tesseraEditor?.editor.getAnnotations().length === n,
      expected.parsed.length,
      { timeout: 5_000 },
    )
    expect(await editor.skipped()).toEqual([])
    expect((await editor.annotations()).map((a) => a.id).sort()).toEqual(
      expected.parsed.map((a) => a.id).sort(),
    )
  })
})
