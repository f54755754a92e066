// In-browser segmentation in Chromium with the shipped model v0 (onnxruntime-web, wasm threads
// in a worker): the runtime gives the trainer's PyTorch outputs; one click on a demo nucleus
// makes a polygon that matches the nucleus and reaches a second user; Auto adds suggestions
// that a reviewer accepts (an annotator may only delete them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_IMAGES, encodeDemoImage } from '../server/src/demo/seedDemoProject.ts'
import { generateNuclei } from '../server/src/demo/syntheticNuclei.ts'
import { startTestServer, type TestServer } from '../server/test/harness.ts'
import { maskIoU } from '../shared/geometry/iou.ts'
import { rasterizePolygon } from '../shared/geometry/rasterize.ts'
import type { BrowserSession } from './fixtures/browser.ts'
import { openEditorAs } from './fixtures/EditorPage.ts'

let server: TestServer
let projectId: number
let imageId: number
const sessions: BrowserSession[] = []
const demo = DEMO_IMAGES[0]
const truth = generateNuclei(demo.spec)

const editorFor = (username: string) =>
  openEditorAs(sessions, server.url, username, projectId, imageId)

beforeAll(async () => {
  server = await startTestServer()
  const admin = server.admin
  projectId = (await admin.request('POST', '/api/projects', { name: 'Segment' })).body.id
  await admin.request('POST', `/api/projects/${projectId}/classes`, {
    name: 'nucleus',
    color: '#e6194b',
    shortcut: '1',
  })
  const bytes = await encodeDemoImage(demo.name, demo.spec)
  const form = new FormData()
  form.append('files', new Blob([bytes as Uint8Array<ArrayBuffer>]), demo.name)
  imageId = (await admin.request('POST', `/api/projects/${projectId}/images`, form)).body.images[0]
    .id
  for (const [username, role] of [
    ['alice', 'annotator'],
    ['bob', 'annotator'],
    ['rita', 'reviewer'],
  ]) {
    await admin.request('POST', '/api/users', { username, password: `${username}-password` })
    await admin.request('POST', `/api/projects/${projectId}/members`, { username, role })
  }
})

afterAll(async () => {
  for (const session of sessions) await session.close()
  await server?.close()
})

describe('segmentation in the browser', () => {
  it('runs v0 in onnxruntime-web with the PyTorch outputs, in a cross-origin isolated page (wasm threads possible)', async () => {
    const { page } = await editorFor('alice')
    await page.waitForSelector('[data-testid="model.status"][data-state="ready"]', {
      timeout: 60_000,
    })
    expect(await page.evaluate('self.crossOriginIsolated')).toBe(true)
    const report = (await page.evaluate('window.__tesseraEditor.segmentation().parity()')) as {
      worstExcess: Record<string, number>
      absolute: number
      passed: boolean
    }
    expect(Object.keys(report.worstExcess).sort()).toEqual(
      ['details', 'distance', 'features', 'foreground', 'mask', 'maskLowRes'].sort(),
    )
    for (const [name, worst] of Object.entries(report.worstExcess))
      expect(worst, name).toBeLessThanOrEqual(report.absolute)
    expect(report.passed).toBe(true)
  })

  it('turns one click on a nucleus into a polygon that matches it, seen by a second user', async () => {
    const alice = await editorFor('alice')
    const bob = await editorFor('bob')
    // The largest nucleus whose centre pixel is its own (not covered by a neighbour).
    const { width } = demo.spec
    const nucleus = [...truth.nuclei]
      .filter((n) => truth.labels[Math.round(n.cy) * width + Math.round(n.cx)] === n.label)
      .sort((a, b) => b.rx * b.ry - a.rx * a.ry)[0]
    await alice.page.getByTestId('tools.click').click()
    await alice.editor.clickImage(nucleus.cx, nucleus.cy)
    await alice.page.waitForFunction(
      () => {
        const editor = window.__tesseraEditor?.editor
        return editor?.assistSettled && editor.state.assisted?.result?.rings
      },
      undefined,
      { timeout: 30_000 },
    )
    await alice.page.keyboard.press('Enter')
    await bob.page.waitForFunction(
      () => window.__tesseraEditor!.editor.getAnnotations().length === 1,
      undefined,
      { timeout: 5_000 },
    )
    const [made] = (await bob.page.evaluate('window.__tesseraEditor.editor.getAnnotations()')) as {
      kind: string
      geometry: { rings: number[][] }
      author: number
    }[]
    expect(made.kind).toBe('polygon')
    const predicted = rasterizePolygon(made.geometry.rings, width, demo.spec.height)
    const expected = new Uint8Array(width * demo.spec.height)
    for (let i = 0; i < expected.length; i++)
      expected[i] = truth.labels[i] === nucleus.label ? 1 : 0
    expect(maskIoU(predicted, expected)).toBeGreaterThanOrEqual(0.8)
  })

  it('adds the objects in view as suggestions with Auto, which a reviewer accepts and an annotator may only delete', async () => {
    const { page } = await editorFor('alice')
    await page.waitForSelector('[data-testid="model.status"][data-state="ready"]', {
      timeout: 60_000,
    })
    await page.getByTestId('tools.auto').click()
    await page
      .getByTestId('model.message')
      .filter({ hasText: /suggestions? added/ })
      .waitFor()
    const suggestions = (await page.evaluate(
      `window.__tesseraEditor.editor.getAnnotations().filter((a) => a.origin.type === 'model' && a.origin.clicks === undefined)`,
    )) as { id: string; origin: { modelVersion: string; score: number }; review: string }[]
    // Most of the image's nuclei are proposed (one of them was already annotated by a click).
    expect(suggestions.length).toBeGreaterThan(truth.nuclei.length / 2)
    for (const s of suggestions) {
      expect(s.origin.modelVersion).toBe('v0')
      expect(s.review).toBe('pending')
    }
    // Auto again adds nothing where suggestions already are.
    await page.getByTestId('tools.auto').click()
    await page
      .getByTestId('model.message')
      .filter({ hasText: 'Auto: 0 suggestions added' })
      .waitFor()
    // The annotator has no Accept or Reject, only Delete on each pending suggestion.
    await expect.poll(() => page.getByTestId('annotation-list.delete').count()).toBeGreaterThan(0)
    expect(await page.getByTestId('annotation-list.accept').count()).toBe(0)
    expect(await page.getByTestId('annotation-list.reject').count()).toBe(0)
    // Deleting one removes it for everyone.
    await page.getByTestId('annotation-list.delete').first().click()
    await expect
      .poll(() =>
        page.evaluate(
          () =>
            window
              .__tesseraEditor!.editor.getAnnotations()
              .filter((a) => a.origin.type === 'model' && a.origin.clicks === undefined).length,
        ),
      )
      .toBe(suggestions.length - 1)

    // A reviewer, in a second browser, accepts one; the annotator sees it accepted.
    const reviewer = await editorFor('rita')
    await expect
      .poll(() => reviewer.page.getByTestId('annotation-list.accept').count())
      .toBe(suggestions.length - 1)
    await reviewer.page.getByTestId('annotation-list.accept').first().click()
    await page.waitForFunction(
      () =>
        window
          .__tesseraEditor!.editor.getAnnotations()
          .some(
            (a) =>
              a.origin.type === 'model' && a.origin.clicks === undefined && a.review === 'accepted',
          ),
      undefined,
      { timeout: 5_000 },
    )
    expect(await page.getByTestId('annotation-list.accept').count()).toBe(0)
  })
})
