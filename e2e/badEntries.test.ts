// Issue 15 in Chromium: an image whose stored document holds absurd, schema-valid entries (a box
// of 1e6 × 1e6 px, a polygon near ±1e300, a mask of 9e7 × 9e7 px) opens at once for everyone,
// draws its other annotations and lists the three as skipped; the owner deletes them for all;
// an editor already open keeps drawing when such an entry arrives later. Long class names stay
// inside the side panel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { SqliteDocumentStore } from '../server/src/collab/index.ts'
import { startTestServer, type TestServer } from '../server/test/harness.ts'
import {
  createAnnotation,
  type ImageExtent,
  type NewAnnotation,
  SERVER_ORIGIN,
  userOrigin,
} from '../shared/doc/index.ts'
import { AppPages } from './fixtures/AppPages.ts'
import { type BrowserSession, openBrowser } from './fixtures/browser.ts'
import { EditorPage, openEditorAs } from './fixtures/EditorPage.ts'
import { seedProject } from './fixtures/seedProject.ts'

const IMAGE: ImageExtent = { width: 400, height: 300 }
const LONG_CLASS =
  `Lymphocyte_with_irregular_nuclear_membrane_${'and_condensed_chromatin_'.repeat(3)}`.slice(0, 100)
const BAD_IDS = ['huge-box', 'far-polygon', 'huge-mask']

let server: TestServer
let projectId: number
let imageId: number
const sessions: BrowserSession[] = []

const room = () => `image:${imageId}`
const liveDoc = () => server.server.tessera.collab.liveDoc(room())!

/** The three absurd entries of issue 15, as a stock y-websocket client could write them. */
function absurdEntries(prefix = ''): NewAnnotation[] {
  const side = 9e7
  return [
    {
      id: `${prefix}huge-box`,
      kind: 'box',
      geometry: { x: 0, y: 0, width: 1e6, height: 1e6 },
      classId: null,
    },
    {
      id: `${prefix}far-polygon`,
      kind: 'polygon',
      geometry: { rings: [[-1e300, -1e300, 1e300, -1e300, 0, 1e300]] },
      classId: null,
    },
    {
      id: `${prefix}huge-mask`,
      kind: 'mask',
      geometry: { x: 0, y: 0, width: side, height: side, counts: [0, side * side] },
      classId: null,
    },
  ]
}

const ordinaryEntries: NewAnnotation[] = [
  { kind: 'box', geometry: { x: 20, y: 20, width: 60, height: 40 }, classId: null },
  { kind: 'polygon', geometry: { rings: [[200, 100, 260, 100, 230, 160]] }, classId: null },
  {
    kind: 'mask',
    geometry: { x: 300, y: 200, width: 20, height: 10, counts: [0, 200] },
    classId: null,
  },
]

beforeAll(async () => {
  server = await startTestServer()
  const seeded = await seedProject(server.admin, {
    name: 'Bad entries',
    ...IMAGE,
    classes: [
      { name: 'nucleus', color: '#e6194b' },
      { name: LONG_CLASS, color: '#3cb44b' },
    ],
    roles: { olga: 'owner', alice: 'annotator' },
  })
  projectId = seeded.projectId
  imageId = seeded.imageId
  // Stored before anyone opens the image, as a document written before the server's guard.
  const doc = new Y.Doc()
  const writer = userOrigin(1)
  for (const entry of ordinaryEntries) createAnnotation(doc, entry, writer, IMAGE)
  // Without the image, only the record's schema is checked: these pass it.
  for (const entry of absurdEntries()) createAnnotation(doc, entry, writer)
  new SqliteDocumentStore(server.server.tessera.context.db).append(
    room(),
    Y.encodeStateAsUpdate(doc),
  )
})

afterAll(async () => {
  for (const session of sessions) await session.close()
  await server?.close()
})

/** Closes a test's browser now, so that an error in its page fails that test. */
async function closeSession(session: BrowserSession) {
  sessions.splice(sessions.indexOf(session), 1)
  await session.close()
}

describe('an image whose document holds absurd entries', () => {
  let owner: { page: EditorPage['page']; editor: EditorPage; session: BrowserSession }

  it('opens for the owner in under 2 s, draws the other annotations and lists the three as skipped', async () => {
    const session = await openBrowser(server.url)
    sessions.push(session)
    const { page } = session
    await new AppPages(page).login('olga', 'olga-password')
    const started = Date.now()
    await page.goto(`/projects/${projectId}/images/${imageId}`)
    await page.getByTestId('editor.canvas').waitFor()
    await page.waitForFunction(
      (count) => {
        const api = window.__tesseraEditor
        return api?.editor.getAnnotations().length === count && api.drawnCount() === count
      },
      ordinaryEntries.length,
      { timeout: 15_000 },
    )
    const openedIn = Date.now() - started
    console.log(`bad image opened and drawn in ${openedIn} ms`)
    expect(openedIn).toBeLessThan(2000)
    owner = { page, editor: new EditorPage(page), session }

    const skipped = await owner.editor.skipped()
    expect(skipped.map((s) => s.id).sort()).toEqual([...BAD_IDS].sort())
    const items = page.getByTestId('skipped-entries.item')
    await expect.poll(() => items.count()).toBe(3)
    await expect
      .poll(() => page.getByTestId('skipped-entries').textContent())
      .toMatch(/Skipped entries \(3\)/)
    for (const id of BAD_IDS) {
      const text = await items.filter({ hasText: id }).textContent()
      expect(text).toMatch(/outside the image|more than the limit/)
    }
    // The page answers at once: nothing is still looping over the entries.
    const answered = Date.now()
    await page.evaluate(() => 1)
    expect(Date.now() - answered).toBeLessThan(500)
  })

  it('lets the owner delete them, for a second open editor too; an annotator sees only a count', async () => {
    const alice = await openEditorAs(sessions, server.url, 'alice', projectId, imageId)
    await expect.poll(() => alice.editor.skipped().then((s) => s.length)).toBe(3)
    await expect
      .poll(() => alice.page.getByTestId('skipped-entries').textContent())
      .toMatch(/Skipped entries \(3\)/)
    expect(await alice.page.getByTestId('skipped-entries.delete').count()).toBe(0)

    const deleteButtons = owner.page.getByTestId('skipped-entries.delete')
    for (let i = 0; i < BAD_IDS.length; i++) {
      await expect.poll(() => deleteButtons.count()).toBe(BAD_IDS.length - i)
      await deleteButtons.first().click()
    }
    await expect.poll(() => owner.page.getByTestId('skipped-entries').count()).toBe(0)
    await expect.poll(() => alice.editor.skipped().then((s) => s.length)).toBe(0)
    expect(await alice.page.getByTestId('skipped-entries').count()).toBe(0)
    const stored = liveDoc().getMap('annotations')
    for (const id of BAD_IDS) expect(stored.has(id)).toBe(false)
    expect(stored.size).toBe(ordinaryEntries.length)
    expect(await alice.editor.annotationCount()).toBe(ordinaryEntries.length)
    await closeSession(alice.session)
  })

  it('keeps drawing in an open editor when absurd entries arrive later, without a page error', async () => {
    const alice = await openEditorAs(sessions, server.url, 'alice', projectId, imageId)
    await expect.poll(() => alice.editor.drawnCount()).toBe(ordinaryEntries.length)
    const doc = liveDoc()
    doc.transact(() => {
      for (const entry of absurdEntries('late-')) createAnnotation(doc, entry, SERVER_ORIGIN)
    }, SERVER_ORIGIN)
    await expect
      .poll(() => alice.editor.skipped().then((s) => s.map((e) => e.id).sort()))
      .toEqual(BAD_IDS.map((id) => `late-${id}`).sort())
    // A new ordinary annotation after them is drawn: the canvas still renders.
    createAnnotation(
      doc,
      { kind: 'box', geometry: { x: 100, y: 200, width: 30, height: 30 }, classId: null },
      SERVER_ORIGIN,
      IMAGE,
    )
    await expect
      .poll(() => alice.editor.drawnCount(), { timeout: 5_000 })
      .toBe(ordinaryEntries.length + 1)
    const answered = Date.now()
    await alice.page.evaluate(() => 1)
    expect(Date.now() - answered).toBeLessThan(500)
    await closeSession(alice.session)
  })
})

describe('long class names', () => {
  it('stay inside the side panel, in the class filter and the class picker', async () => {
    const { page } = await openEditorAs(sessions, server.url, 'olga', projectId, imageId)
    const panel = (await page.locator('.side-panel').boundingBox())!
    const filter = (await page.getByLabel('Filter by class').boundingBox())!
    expect(filter.x + filter.width).toBeLessThanOrEqual(panel.x + panel.width)
    for (const button of await page.getByTestId('classes.pick').all()) {
      const box = (await button.boundingBox())!
      expect(box.x + box.width).toBeLessThanOrEqual(panel.x + panel.width)
    }
    const overflow = await page
      .locator('.side-panel')
      .evaluate((element) => element.scrollWidth - element.clientWidth)
    expect(overflow).toBeLessThanOrEqual(0)
  })
})
