// Saves docs/screenshot.png for the README: the demo project as a new user first sees it; and
// docs/editor.png: a demo image after Auto, with the click tool's mask of one nucleus.
// Run with: npx vite build && npx tsx e2e/screenshot.ts
import fs from 'node:fs'
import path from 'node:path'
import { seedDemoProject } from '../server/src/demo/seedDemoProject.ts'
import { ADMIN_PASSWORD, startTestServer } from '../server/test/harness.ts'
import { AppPages } from './fixtures/AppPages.ts'
import { openBrowser } from './fixtures/browser.ts'
import { EditorPage } from './fixtures/EditorPage.ts'

const server = await startTestServer()
const projectId = await seedDemoProject(server.server.tessera.context)
const browser = await openBrowser(server.url)
try {
  const app = new AppPages(browser.page)
  await app.login('admin', ADMIN_PASSWORD)
  await browser.page.goto(`/projects/${projectId}`)
  await browser.page.getByTestId('image-grid.thumbnail').first().waitFor()
  await browser.page.waitForFunction(() =>
    [...document.querySelectorAll('img')].every((img) => img.complete && img.naturalWidth > 0),
  )
  const out = path.resolve(import.meta.dirname, '../docs/screenshot.png')
  fs.mkdirSync(path.dirname(out), { recursive: true })
  await browser.page.screenshot({ path: out })
  console.log(`wrote ${out}`)

  const page = browser.page
  await page.getByTestId('image-grid.thumbnail').first().click()
  await page.waitForSelector('[data-testid="model.status"][data-state="ready"]', {
    timeout: 60_000,
  })
  await page.getByTestId('tools.auto').click()
  await page.getByTestId('model.message').filter({ hasText: 'added' }).waitFor()
  // Reject one suggestion and segment that nucleus with one click instead.
  const [first] = (await page.evaluate(
    `window.__tesseraEditor.editor.getAnnotations().map((a) => ({ id: a.id, rings: a.geometry.rings }))`,
  )) as { id: string; rings: number[][] }[]
  await page.evaluate(`window.__tesseraEditor.editor.reject(${JSON.stringify(first.id)})`)
  const ring = first.rings[0]
  let cx = 0
  let cy = 0
  for (let i = 0; i < ring.length; i += 2) {
    cx += ring[i] / (ring.length / 2)
    cy += ring[i + 1] / (ring.length / 2)
  }
  await page.getByTestId('tools.click').click()
  await new EditorPage(page).clickImage(cx, cy)
  await page.waitForFunction('window.__tesseraEditor.editor.assistSettled')
  await page.waitForTimeout(300)
  const editorShot = path.resolve(import.meta.dirname, '../docs/editor.png')
  await page.screenshot({ path: editorShot })
  console.log(`wrote ${editorShot}`)
} finally {
  await browser.close()
  await server.close()
}
