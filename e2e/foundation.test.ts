// The foundation as a user meets it in Chromium: log in (and be told when to try again after too
// many wrong passwords), create a project and open it from its card, add a class, upload a 16-bit
// TIFF, see its thumbnail and its statistics; a refused upload shows the reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeTiff } from '../server/src/images/encodeTiff.ts'
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../server/test/harness.ts'
import { AppPages } from './fixtures/AppPages.ts'
import { type BrowserSession, openBrowser } from './fixtures/browser.ts'

let server: TestServer
let browser: BrowserSession

beforeAll(async () => {
  server = await startTestServer()
  browser = await openBrowser(server.url)
})
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe('foundation in the browser', () => {
  it('logs in, creates a project, adds a class, uploads a 16-bit TIFF and shows its stats', async () => {
    const { page } = browser
    const app = new AppPages(page)
    await page.goto('/')
    await page.getByTestId('login.username').fill('admin')
    await page.getByTestId('login.password').fill('wrong-password')
    await page.getByTestId('login.submit').click()
    await expect
      .poll(() => page.getByTestId('login.error').textContent())
      .toMatch(/Wrong username or password/)

    // After ten wrong passwords for one username the next attempt is refused, saying until when.
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${server.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'intruder', password: `guess-${i}` }),
      })
      expect(response.status).toBe(401)
    }
    await page.getByTestId('login.username').fill('intruder')
    await page.getByTestId('login.password').fill('guess-10')
    await page.getByTestId('login.submit').click()
    await expect
      .poll(() => page.getByTestId('login.error').textContent())
      .toBe('Too many failed logins for this username. Try again in 1 minute.')

    await app.login('admin', ADMIN_PASSWORD)
    await app.createProject('HeLa DAPI')
    // The whole card on the projects list opens the project, not only its name.
    await page.getByTestId('nav.home').click()
    const card = app.projectCard('HeLa DAPI')
    await card.waitFor()
    const box = await card.boundingBox()
    if (!box) throw new Error('the project card is not visible')
    await card.click({ position: { x: box.width - 8, y: box.height - 8 } })
    await page.getByTestId('project.name').filter({ hasText: 'HeLa DAPI' }).waitFor()
    expect(new URL(page.url()).pathname).toMatch(/^\/projects\/\d+$/)
    await app.addClass('nucleus', '1')
    await page.getByTestId('classes.item').filter({ hasText: '1' }).waitFor()
    expect(await page.getByTestId('classes.item').count()).toBe(1)

    // A 16-bit gradient whose maximum (60001) no 8-bit path could produce.
    const width = 300
    const height = 200
    const samples = Uint16Array.from(
      { length: width * height },
      (_, i) => 1 + Math.round((60000 * (i % width)) / (width - 1)),
    )
    const tiff = Buffer.from(encodeTiff([{ width, height, channels: 1, samples }]))
    await app.upload([{ name: 'gradient16.tif', mimeType: 'image/tiff', buffer: tiff }])
    await expect
      .poll(() => page.getByTestId('project.upload.message').textContent())
      .toMatch(/Added 1 image/)
    const thumbnail = page.getByTestId('image-grid.thumbnail').first()
    await expect
      .poll(() => thumbnail.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), {
        timeout: 10_000,
      })
      .toBe(256)

    await thumbnail.click()
    await page.getByTestId('image.stats').waitFor()
    expect(await page.getByTestId('image.name').textContent()).toBe('gradient16.tif')
    expect(await page.getByTestId('image.stats.max').first().textContent()).toBe('60001')

    // A refused upload tells the user why.
    await page.goBack()
    await app.upload([
      { name: 'fake.tif', mimeType: 'image/tiff', buffer: Buffer.from('not an image') },
    ])
    await expect
      .poll(() => page.getByTestId('project.upload.message').textContent())
      .toMatch(/fake\.tif is not a PNG, JPEG or TIFF/)
    expect(await page.getByTestId('image-grid.item').count()).toBe(1)
  })
})
