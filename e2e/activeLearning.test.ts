// Active learning as annotators meet it, on a real server and the shipped model in the browser.
// A training job is leased and completed by hand through the worker API (v0's files as v1, and a
// scores file ranking the project's unfinished images, as a worker uploads it); the owner turns
// pre-annotation on in the Training tab. A reviewer (accepting suggestions is a reviewer's right) presses Next and gets the
// rank-1 image with v1's suggestions already on it, accepts one, edits one by dragging a vertex,
// rejects one, and makes a mask with the click tool; an annotator's Next gives another image;
// the Training tab's v1 row shows 1 / 1 / 1 and the clicks per mask.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ADMIN_PASSWORD,
  ApiClient,
  startTestServer,
  type TestServer,
} from '../server/test/harness.ts'
import { labelledProject, syntheticImages, workerToken } from '../server/test/labelledProject.ts'
import { LeasedJob, PoolPage } from '../shared/schemas/training.ts'
import { ActiveLearningPage } from './fixtures/ActiveLearningPage.ts'
import { AppPages } from './fixtures/AppPages.ts'
import { type BrowserSession, openBrowser } from './fixtures/browser.ts'

const V0 = path.join(import.meta.dirname, '..', 'models', 'v0')
const v0 = (file: string) => fs.readFileSync(path.join(V0, file))
const metrics = { n_images: 1, n_objects: 4, auto_ap50: 0.5, noc85: 3 }

let server: TestServer
let projectId: number
/** The unfinished images, best rank first, as the scores file ranks them. */
let ranked: number[]
const sessions: BrowserSession[] = []

/** Leases the queued job as a worker would, scores its pool (reverse upload order, so rank 1 is
 * not simply the oldest image) and completes it with v0's files under the job's result name. */
async function completeJobByHand(worker: ApiClient): Promise<{ id: number; name: string }> {
  const leased = await worker.request('POST', '/api/worker/lease', {
    waitSeconds: 5,
    worker: { name: 'e2e by hand', device: 'none' },
  })
  expect(leased.status, JSON.stringify(leased.body)).toBe(200)
  const job = LeasedJob.parse(leased.body.job)
  expect(job.scoring?.strategy).toBe('diverse')
  const pool: number[] = []
  for (let url = job.pool; url !== null; ) {
    const page = PoolPage.parse((await worker.request('GET', url)).body)
    pool.push(...page.items.map((item) => item.imageId))
    url = page.next
  }
  ranked = [...pool].sort((a, b) => b - a)
  const put = async (name: string, bytes: Uint8Array) => {
    const response = await worker.raw(
      'PUT',
      `/api/worker/jobs/${job.id}/files/${name}?attempt=${job.attempt}`,
      new Uint8Array(bytes) as Uint8Array<ArrayBuffer>,
      'application/octet-stream',
    )
    expect(response.status, `${name}: ${JSON.stringify(response.body)}`).toBe(200)
  }
  await put('encoder', v0('encoder.onnx'))
  await put('decoder', v0('decoder.onnx'))
  await put('parity', v0('parity.json'))
  await put('checkpoint', v0('checkpoint.pt'))
  const card = JSON.parse(v0('card.json').toString('utf8'))
  await put(
    'card',
    Buffer.from(JSON.stringify({ ...card, version: job.resultName, parentVersion: 'v0' })),
  )
  const scores = {
    strategy: 'diverse',
    version: job.resultName,
    items: ranked.map((imageId, i) => ({ imageId, score: 1 - i / 10, rank: i + 1 })),
    seconds: 1,
  }
  await put('scores', Buffer.from(JSON.stringify(scores)))
  const completed = await worker.request('POST', `/api/worker/jobs/${job.id}/complete`, {
    attempt: job.attempt,
    metrics: { validation: metrics, baseValidation: metrics },
    timings: { train: 1, score: 1 },
  })
  expect(completed.status, JSON.stringify(completed.body)).toBe(200)
  return completed.body.version
}

beforeAll(async () => {
  server = await startTestServer()
  const admin = server.admin
  // One labelled image to train on, five nobody has labelled yet to rank.
  ;({ projectId } = await labelledProject(admin, await syntheticImages(1, 96, 500), 'Ranked'))
  const form = new FormData()
  for (const file of await syntheticImages(5, 192, 600))
    form.append('files', new Blob([file.bytes as Uint8Array<ArrayBuffer>]), file.name)
  expect((await admin.request('POST', `/api/projects/${projectId}/images`, form)).status).toBe(201)
  for (const [username, role] of [
    ['rita', 'reviewer'],
    ['bob', 'annotator'],
  ]) {
    await admin.request('POST', '/api/users', { username, password: `${username}-password` })
    await admin.request('POST', `/api/projects/${projectId}/members`, { username, role })
  }
  const settings = await admin.request('PUT', `/api/projects/${projectId}/active-learning`, {
    strategy: 'diverse',
    claimMinutes: 30,
    preannotate: false,
  })
  expect(settings.status, JSON.stringify(settings.body)).toBe(200)
  const job = await admin.request('POST', `/api/projects/${projectId}/jobs`, {
    minutes: 0.3,
    maxSteps: 10,
  })
  expect(job.status, JSON.stringify(job.body)).toBe(201)
  const version = await completeJobByHand(ApiClient.withToken(server.url, await workerToken(admin)))
  expect(version.name).toBe('v1')
  const current = await admin.request('GET', `/api/projects/${projectId}/model`)
  if (current.body.version !== 'v1') {
    const promoted = await admin.request(
      'POST',
      `/api/projects/${projectId}/models/${version.id}/promote`,
    )
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200)
  }
})

afterAll(async () => {
  for (const session of sessions) await session.close()
  await server?.close()
})

async function signIn(username: string) {
  const session = await openBrowser(server.url)
  sessions.push(session)
  await new AppPages(session.page).login(username, `${username}-password`)
  return new ActiveLearningPage(session.page)
}

describe('active learning', () => {
  it("lets the owner turn pre-annotation on in the Training tab's settings", async () => {
    const session = await openBrowser(server.url)
    sessions.push(session)
    await new AppPages(session.page).login('admin', ADMIN_PASSWORD)
    const owner = new ActiveLearningPage(session.page)
    expect(await owner.saveSettings(projectId, { claimMinutes: 45, preannotate: true })).toBe(
      'Uncertainty and diversity; Next holds an image for 45 min; pre-annotation on.',
    )
    const saved = await server.admin.request('GET', `/api/projects/${projectId}/active-learning`)
    expect(saved.body).toEqual({ strategy: 'diverse', claimMinutes: 45, preannotate: true })
    // A reviewer reads them and cannot change them.
    const rita = await signIn('rita')
    await rita.page.goto(`/projects/${projectId}/training`)
    await rita.page
      .getByTestId('active-learning.status')
      .filter({ hasText: 'pre-annotation on' })
      .waitFor()
    expect(await rita.page.getByTestId('active-learning.save').count()).toBe(0)
  })

  it('hands out the top-ranked free image with suggestions on it, and counts what people did with them', async () => {
    const rita = await signIn('rita')
    await rita.openImages(projectId)
    expect(await rita.page.getByTestId('images.scored-by').textContent()).toMatch(
      /^Scored by v1 \(Uncertainty and diversity\) at /,
    )
    // Ranked images first, best first; the labelled (done) image last, unscored.
    const order = await rita.gridOrder()
    expect(order.map((o) => o.imageId).slice(0, ranked.length)).toEqual(ranked)
    expect(order.map((o) => o.rank)).toEqual([1, 2, 3, 4, 5, null])

    // Next: the rank-1 image, held for rita, with v1's proposals put on it as suggestions.
    const first = await rita.pressNext('images.next')
    expect(first).toBe(ranked[0])
    const claim = await rita.claimLine()
    expect(claim).toMatch(/^Yours until \d{2}:\d{2}/)
    // Held for the 45 minutes the owner chose.
    const until = new Date()
    until.setMinutes(until.getMinutes() + 45)
    const clock = (d: Date) =>
      `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
    expect([clock(until), clock(new Date(until.getTime() - 60_000))]).toContain(
      claim.match(/\d{2}:\d{2}/)![0],
    )
    expect(await rita.rankLine()).toBe('Rank 1 of 5 · scored by v1, Uncertainty and diversity')
    const line = await rita.preannotated()
    expect(line).toMatch(/^\d+ suggestions? from v1$/)
    const suggestions = await rita.suggestions()
    expect(suggestions.length).toBeGreaterThanOrEqual(3)
    expect(line).toBe(`${suggestions.length} suggestions from v1`)
    for (const s of suggestions) expect(s).toMatchObject({ modelVersion: 'v1', review: 'pending' })

    // Accept one as it is, edit one (drag a vertex), reject one.
    const [toAccept, toEdit, toReject] = suggestions
    await rita.accept(toAccept!.id)
    await rita.dragFirstVertex(toEdit!.id, 3, 3)
    await rita.reject(toReject!.id)
    await expect
      .poll(async () => {
        const now = new Map((await rita.suggestions()).map((s) => [s.id, s]))
        return [toAccept, toEdit, toReject].map((s) => now.get(s!.id)?.review ?? 'gone')
      })
      .toEqual(['accepted', 'accepted', 'gone'])
    const edited = (await rita.suggestions()).find((s) => s.id === toEdit!.id)!
    expect(edited.rings).not.toEqual(toEdit!.rings)
    expect((await rita.suggestions()).find((s) => s.id === toAccept!.id)!.rings).toEqual(
      toAccept!.rings,
    )

    // The click tool, where the rejected suggestion was: the mask says which version drew it and
    // with how many clicks, in the toolbar and in the annotation list.
    const xs = toReject!.rings[0]!.filter((_, i) => i % 2 === 0)
    const ys = toReject!.rings[0]!.filter((_, i) => i % 2 === 1)
    await rita.page.getByTestId('tools.click').click()
    await rita.editor.clickImage(
      (Math.min(...xs) + Math.max(...xs)) / 2,
      (Math.min(...ys) + Math.max(...ys)) / 2,
    )
    await rita.page
      .locator('[data-testid="model.click-result"][data-model-version="v1"][aria-busy="false"]')
      .waitFor({ timeout: 30_000 })
    expect(await rita.page.getByTestId('model.click-result').textContent()).toBe(
      'Mask from v1 · 1 click',
    )
    await rita.page.keyboard.press('Enter')
    await rita.page
      .getByTestId('annotation-list.provenance')
      .filter({ hasText: 'Mask from v1 · 1 click' })
      .waitFor()
    const clickMask = (await rita.page.evaluate(() =>
      window
        .__tesseraEditor!.editor.getAnnotations()
        .find((a) => a.origin.type === 'model' && a.origin.clicks),
    ))!
    expect(clickMask).toMatchObject({
      review: 'accepted',
      origin: { type: 'model', modelVersion: 'v1', clicks: 1 },
    })

    // A second annotator's Next: another image; rita's shows as hers.
    const bob = await signIn('bob')
    await bob.openImages(projectId)
    expect(await bob.gridClaim(first)).toMatch(/^Held by rita until /)
    const second = await bob.pressNext('images.next')
    expect(second).toBe(ranked[1])
    expect(await bob.claimLine()).toMatch(/^Yours until /)
    expect(await bob.rankLine()).toMatch(/^Rank 2 of 5 · /)

    // rita's Next while she holds an image unfinished says so; once it is done, Shift+N opens
    // the next free image (rank 3: bob holds rank 2).
    await rita.page.getByTestId('editor.next').click()
    expect(await rita.nextMessage('editor.next')).toMatch(/^This image is yours until /)
    await rita.page.getByTestId('image.status').selectOption('done')
    await expect
      .poll(
        async () =>
          (await server.admin.request('GET', `/api/projects/${projectId}/images/${first}`)).body
            .status,
      )
      .toBe('done')
    const third = await rita.pressNextKey(first)
    expect(third).toBe(ranked[2])

    // The version's counts beside its metrics.
    await expect
      .poll(() => rita.versionCounts(projectId, 'v1'), { timeout: 15_000 })
      .toEqual({ accepted: '1', edited: '1', rejected: '1', clicksPerMask: '1.0' })
  }, 300_000)
})
