// Saves docs/screenshot.png for the README: the demo project as a new user first sees it.
// Run with: npx vite build && npx tsx e2e/screenshot.ts
import fs from 'node:fs'
import path from 'node:path'
import { seedDemoProject } from '../server/src/demo/seedDemoProject.ts'
import { ADMIN_PASSWORD, startTestServer } from '../server/test/harness.ts'
import { AppPages } from './fixtures/AppPages.ts'
import { openBrowser } from './fixtures/browser.ts'

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
} finally {
  await browser.close()
  await server.close()
}
