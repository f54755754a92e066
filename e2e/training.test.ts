// The learning loop as a person sees it, on a real server with a real CPU worker process: Train
// on the project's Training tab, the progress bar moving while the job runs, and an editor of
// the same project, open in another page all along, switching from v0 to v1 without a reload;
// the click tool's mask then says it comes from v1 (the worker reports the version per answer).
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { spawnWorker } from '../server/src/workers/localWorker.ts'
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../server/test/harness.ts'
import {
  type LabelledImageFile,
  labelledProject,
  syntheticImages,
  workerToken,
} from '../server/test/labelledProject.ts'
import { maskIoU } from '../shared/geometry/iou.ts'
import { AppPages } from './fixtures/AppPages.ts'
import { type BrowserSession, openBrowser } from './fixtures/browser.ts'
import { EditorPage } from './fixtures/EditorPage.ts'
import { TrainingPage } from './fixtures/TrainingPage.ts'

let server: TestServer
let projectId: number
/** An image of the project that is not in the training set, open in the editor. */
let editorImage: LabelledImageFile
let editorImageId: number
let token: string
let session: BrowserSession | undefined
let worker: ChildProcess | undefined
const workerLines: string[] = []
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-worker-cache-'))

beforeAll(async () => {
  server = await startTestServer({ jobHeartbeatSeconds: 1 })
  ;({ projectId } = await labelledProject(server.admin, await syntheticImages(4, 96), 'Cells'))
  ;[editorImage] = await syntheticImages(1, 128, 300)
  const form = new FormData()
  form.append('files', new Blob([editorImage.bytes as Uint8Array<ArrayBuffer>]), editorImage.name)
  const upload = await server.admin.request('POST', `/api/projects/${projectId}/images`, form)
  editorImageId = upload.body.images[0].id
  token = await workerToken(server.admin)
})

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker!.once('exit', resolve))
    worker.kill('SIGTERM')
    await exited
  }
  await session?.close()
  await server?.close()
  fs.rmSync(cacheDir, { recursive: true, force: true })
})

/** A pixel inside the largest nucleus of the editor's image, and that nucleus as a mask. */
function clickTarget(image: LabelledImageFile) {
  const { width, height, labels } = image
  const sums = new Map<number, { n: number; x: number; y: number }>()
  for (let i = 0; i < width * height; i++) {
    if (labels[i] === 0) continue
    const sum = sums.get(labels[i]) ?? { n: 0, x: 0, y: 0 }
    sum.n++
    sum.x += i % width
    sum.y += Math.floor(i / width)
    sums.set(labels[i], sum)
  }
  // The largest nucleus whose centroid is its own pixel (not covered by a neighbour).
  const [label, sum] = [...sums]
    .filter(([l, s]) => labels[Math.round(s.y / s.n) * width + Math.round(s.x / s.n)] === l)
    .sort((a, b) => b[1].n - a[1].n)[0]
  const truth = new Uint8Array(width * height)
  for (let i = 0; i < truth.length; i++) truth[i] = labels[i] === label ? 1 : 0
  return { x: Math.round(sum.x / sum.n), y: Math.round(sum.y / sum.n), truth }
}

/** Waits until the click tool's mask is the settled answer of `version`, as the toolbar shows
 * it, and returns that mask over the whole image. */
async function settledClickMask(page: Page, version: string, timeout = 60_000) {
  await page
    .locator(
      `[data-testid="model.click-result"][data-model-version="${version}"][aria-busy="false"]`,
    )
    .waitFor({ timeout })
  const result = await page.evaluate(() => {
    const editor = window.__tesseraEditor!.editor
    const mask = editor.state.assisted?.result
    return mask && editor.assistSettled
      ? { modelVersion: mask.modelVersion, rect: mask.rect, mask: Array.from(mask.mask) }
      : null
  })
  expect(result?.modelVersion).toBe(version)
  const { width, height } = editorImage
  const full = new Uint8Array(width * height)
  const { rect, mask } = result!
  for (let y = 0; y < rect.height; y++)
    for (let x = 0; x < rect.width; x++)
      full[(rect.y + y) * width + rect.x + x] = mask[y * rect.width + x]
  return full
}

/** Waits until the element `testId` reads exactly `version`. */
function versionShown(page: Page, testId: string, version: string, timeout = 15_000) {
  return page
    .getByTestId(testId)
    .filter({ hasText: new RegExp(`^${version}$`) })
    .waitFor({ timeout })
}

describe('training from the browser', () => {
  it('trains v1 from the Training tab while an open editor follows it without a reload', async () => {
    onTestFailed(() => {
      console.log(`The worker's last lines:\n${workerLines.slice(-30).join('\n')}`)
    })
    session = await openBrowser(server.url)
    await new AppPages(session.page).login('admin', ADMIN_PASSWORD)

    // The editor, open first: v0 answers a click on a nucleus.
    const editorPage = session.page
    const editor = new EditorPage(editorPage)
    await editor.open(projectId, editorImageId)
    await editorPage
      .locator('[data-testid="model.status"][data-state="ready"]')
      .waitFor({ timeout: 60_000 })
    await versionShown(editorPage, 'editor.model-version', 'v0')
    await editorPage.evaluate('window.__sameDocument = true')
    const target = clickTarget(editorImage)
    await editorPage.getByTestId('tools.click').click()
    await editor.clickImage(target.x, target.y)
    const fromV0 = await settledClickMask(editorPage, 'v0')
    expect(maskIoU(fromV0, target.truth)).toBeGreaterThan(0.5)

    // The Training tab in a second page of the same browser; a worker waits for a job.
    const trainingPage = await session.context.newPage()
    const trainingErrors: string[] = []
    trainingPage.on('pageerror', (error) => trainingErrors.push(error.message))
    const training = new TrainingPage(trainingPage)
    await training.open(projectId)
    await versionShown(trainingPage, 'training.version-label', 'v0')
    worker = spawnWorker({
      serverUrl: server.url,
      token,
      device: 'cpu',
      once: true,
      name: 'e2e worker',
      cacheDir,
      onLine: (line) => workerLines.push(line),
    })
    const workerExit = new Promise<number | null>((resolve) => worker!.on('exit', resolve))
    await training.recordProgress()
    const job = await training.train(0.3)

    // The job runs to the end; its progress bar moved forward on the way.
    await trainingPage
      .locator('[data-testid="training.job"][data-state="succeeded"]')
      .waitFor({ timeout: 240_000 })
    expect(await workerExit, workerLines.slice(-20).join('\n')).toBe(0)
    const running = (await training.progressSamples())
      .filter((sample) => sample.state === 'running')
      .map((sample) => sample.step)
    expect(running.length).toBeGreaterThanOrEqual(2)
    expect(running.some((step, i) => i > 0 && step > running[i - 1]!)).toBe(true)
    expect(Math.max(...running)).toBeGreaterThan(Math.min(...running))
    await expect(job.getByTestId('training.job.result').getAttribute('data-version')).resolves.toBe(
      'v1',
    )

    // v1 becomes the project's model (by the automatic rule, or promoted here).
    await training.promoteUnlessCurrent('v1')
    await versionShown(trainingPage, 'training.version-label', 'v1')

    // The editor, never reloaded, switched: its label says v1 and the object it was segmenting
    // was answered again, by v1.
    await versionShown(editorPage, 'editor.model-version', 'v1', 60_000)
    expect(await editorPage.evaluate('window.__sameDocument')).toBe(true)
    await settledClickMask(editorPage, 'v1')

    // A new click on the same nucleus is answered by v1 too.
    await editorPage.keyboard.press('Escape')
    await editorPage
      .getByTestId('model.click-result')
      .waitFor({ state: 'detached', timeout: 10_000 })
    await editor.clickImage(target.x, target.y)
    const fromV1 = await settledClickMask(editorPage, 'v1')
    expect(maskIoU(fromV1, target.truth)).toBeGreaterThan(0.5)
    expect(trainingErrors).toEqual([])
  }, 360_000)
})
