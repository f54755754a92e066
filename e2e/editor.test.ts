// Two people and a viewer on one image in Chromium: live sync within a second, undo that never
// reverts a collaborator, a read-only viewer, and an offline edit that merges on reconnect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../server/test/harness.ts'
import type { BrowserSession } from './fixtures/browser.ts'
import { openEditorAs } from './fixtures/EditorPage.ts'
import { seedProject } from './fixtures/seedProject.ts'

let server: TestServer
let projectId: number
let imageId: number
const sessions: BrowserSession[] = []

const editorFor = (username: string) =>
  openEditorAs(sessions, server.url, username, projectId, imageId)

beforeAll(async () => {
  server = await startTestServer()
  const seeded = await seedProject(server.admin, {
    name: 'Live',
    width: 400,
    height: 300,
    classes: [{ name: 'nucleus', color: '#e6194b', shortcut: '1' }],
    roles: { alice: 'annotator', bob: 'annotator', vic: 'viewer' },
  })
  projectId = seeded.projectId
  imageId = seeded.imageId
})

afterAll(async () => {
  for (const session of sessions) await session.close()
  await server?.close()
})

describe('live editor with two users', () => {
  it('shows a polygon drawn by one user to the other within a second; undo is per user', async () => {
    const alice = await editorFor('alice')
    const bob = await editorFor('bob')
    await alice.editor.drawPolygon([
      [50, 50],
      [120, 50],
      [120, 110],
      [50, 110],
    ])
    const drawnAt = Date.now()
    await bob.session.page.waitForFunction(
      () => window.__tesseraEditor!.editor.getAnnotations().length === 1,
      null,
      {
        timeout: 1000,
      },
    )
    expect(Date.now() - drawnAt).toBeLessThan(1000)
    const [polygon] = await bob.editor.annotations()
    expect(polygon.kind).toBe('polygon')

    // Bob draws a box and undoes twice: his box goes, Alice's polygon stays for both.
    await bob.session.page.getByTestId('tools.box').click()
    const canvas = (await bob.session.page.getByTestId('editor.canvas').boundingBox())!
    await bob.session.page.mouse.move(canvas.x + 400, canvas.y + 300)
    await bob.session.page.mouse.down()
    await bob.session.page.mouse.move(canvas.x + 450, canvas.y + 340, { steps: 3 })
    await bob.session.page.mouse.up()
    await expect.poll(() => alice.editor.annotationCount()).toBe(2)
    await bob.session.page.keyboard.press('Control+z')
    await bob.session.page.keyboard.press('Control+z')
    await expect.poll(() => alice.editor.annotationCount()).toBe(1)
    expect((await alice.editor.annotations())[0].id).toBe(polygon.id)
    expect((await bob.editor.annotations()).map((a) => a.id)).toEqual([polygon.id])
  })

  it('gives a viewer a read-only editor whose changes never reach the others', async () => {
    const viewer = await editorFor('vic')
    const page = viewer.session.page
    await expect
      .poll(() => page.getByTestId('editor.connection').textContent())
      .toMatch(/read only/)
    expect(await page.getByTestId('tools.polygon').isDisabled()).toBe(true)
    const before = await viewer.editor.annotationCount()
    await page.keyboard.press('p')
    await viewer.editor.clickImage(200, 200)
    await viewer.editor.clickImage(250, 200)
    await viewer.editor.clickImage(250, 250)
    await page.keyboard.press('Enter')
    // Even a write that bypasses the UI is refused by the server.
    await page.evaluate(() =>
      window.__tesseraEditor!.editor.doc.getMap('annotations').set('forged', 'x' as never),
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    const live = server.server.tessera.collab.liveDoc(`image:${imageId}`)!
    expect(live.getMap('annotations').has('forged')).toBe(false)
    expect(live.getMap('annotations').size).toBe(before)
  })

  it('keeps an edit made offline and merges it when the connection returns', async () => {
    const alice = await editorFor('alice')
    const bob = await editorFor('bob')
    const before = await bob.editor.annotationCount()
    // The network goes away: no new connection can open, and the open one breaks.
    await alice.session.context.setOffline(true)
    await alice.session.page.evaluate(() => window.__tesseraEditor!.dropConnection())
    await alice.editor.waitForStatus('offline')
    await alice.editor.drawPolygon([
      [200, 150],
      [260, 150],
      [230, 200],
    ])
    await expect
      .poll(() => alice.session.page.getByTestId('editor.connection').textContent())
      .toMatch(/1 edit kept/)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await bob.editor.annotationCount()).toBe(before)
    await alice.session.context.setOffline(false)
    await alice.editor.waitForStatus('connected', 15_000)
    await expect.poll(() => bob.editor.annotationCount(), { timeout: 10_000 }).toBe(before + 1)
    // The server kept it too.
    expect(
      server.server.tessera.collab.liveDoc(`image:${imageId}`)!.getMap('annotations').size,
    ).toBe(before + 1)
  })
})
