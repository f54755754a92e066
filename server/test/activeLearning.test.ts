// Active learning on a real server: the project's settings, the pool a leased job scores and the
// blobs its worker may read, a completed job's scores as the project's ranking, and Next's
// claims (rank order, finished images and other people's claims skipped, the held claim again,
// expiry, release, the end on done), down to 100 parallel Next calls split over two server
// processes on one database that never give an image to two people.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { setReviewState, userOrigin } from '../../shared/doc/index.ts'
import {
  DEFAULT_ACTIVE_LEARNING,
  NextImage,
  ProjectRanking,
} from '../../shared/schemas/activeLearning.ts'
import { LeasedJob, PoolPage } from '../../shared/schemas/training.ts'
import { ADMIN_PASSWORD, ApiClient, startTestServer, type TestServer } from './harness.ts'
import { labelledProject, syntheticImages, workerToken } from './labelledProject.ts'
import { type ServerProcess, startServerProcess } from './serverProcess.ts'

const V0 = path.resolve(import.meta.dirname, '../../models/v0')
const v0 = (file: string) => fs.readFileSync(path.join(V0, file))
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const someMetrics = { n_images: 1, n_objects: 1, auto_ap50: 0.5, noc85: 3 }

let test: TestServer
let worker: ApiClient
let adminId: number
const users = new Map<string, ApiClient>()

beforeAll(async () => {
  test = await startTestServer()
  worker = ApiClient.withToken(test.url, await workerToken(test.admin, 'scorer'))
  adminId = (await test.admin.request('GET', '/api/auth/me')).body.user.id
}, 60_000)

afterAll(async () => {
  await test?.close()
})

/** Distinct tiny 8-bit PNGs (a different grey pattern each). */
async function tinyPngs(count: number, seed: number): Promise<{ name: string; bytes: Buffer }[]> {
  const files = []
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.alloc(16 * 16)
    for (let p = 0; p < pixels.length; p++) pixels[p] = (seed * 31 + i * 7 + p * (i + 3)) % 256
    const bytes = await sharp(pixels, { raw: { width: 16, height: 16, channels: 1 } })
      .png()
      .toBuffer()
    files.push({ name: `tiny-${seed}-${i}.png`, bytes })
  }
  return files
}

async function upload(projectId: number, files: { name: string; bytes: Uint8Array }[]) {
  const ids: number[] = []
  for (let start = 0; start < files.length; start += 10) {
    const form = new FormData()
    for (const file of files.slice(start, start + 10))
      form.append('files', new Blob([new Uint8Array(file.bytes)]), file.name)
    const response = await test.admin.request('POST', `/api/projects/${projectId}/images`, form)
    expect(response.status, JSON.stringify(response.body)).toBe(201)
    ids.push(...(response.body.images as { id: number }[]).map((image) => image.id))
  }
  return ids
}

/** A logged-in user with `role` in the project (the account is made once). */
async function member(username: string, projectId: number, role: string): Promise<ApiClient> {
  let client = users.get(username)
  if (!client) {
    const created = await test.admin.request('POST', '/api/users', {
      username,
      password: 'password-123',
    })
    expect(created.status).toBe(201)
    client = new ApiClient(test.url)
    expect((await client.login(username, 'password-123')).status).toBe(200)
    users.set(username, client)
  }
  const added = await test.admin.request('POST', `/api/projects/${projectId}/members`, {
    username,
    role,
  })
  expect(added.status).toBe(201)
  return client
}

/** Marks an image done the way the server writes documents (the index writes the status). */
function markDone(projectId: number, imageId: number) {
  const { db } = test.server.tessera.context
  const { width, height } = db
    .prepare('SELECT width, height FROM images WHERE id = ?')
    .get(imageId) as { width: number; height: number }
  const origin = userOrigin(adminId)
  test.server.tessera.collab.transact(
    { imageId, projectId, image: { width, height } },
    (doc) => setReviewState(doc, { status: 'done' }, origin),
    origin,
  )
}

const statusOf = (imageId: number) =>
  test.server.tessera.context.db
    .prepare('SELECT status FROM images WHERE id = ?')
    .pluck()
    .get(imageId)

async function next(client: ApiClient, projectId: number) {
  const response = await client.request('POST', `/api/projects/${projectId}/next`)
  expect(response.status, JSON.stringify(response.body)).toBe(200)
  return NextImage.parse(response.body)
}

async function ranking(client: ApiClient, projectId: number) {
  const response = await client.request('GET', `/api/projects/${projectId}/ranking`)
  expect(response.status).toBe(200)
  return ProjectRanking.parse(response.body)
}

async function leaseNow(client: ApiClient) {
  const response = await client.request('POST', '/api/worker/lease', {
    waitSeconds: 0,
    worker: { name: 'by hand', device: 'none' },
  })
  expect(response.status).toBe(200)
  return response.body.job === null ? null : LeasedJob.parse(response.body.job)
}

const put = (jobId: number, name: string, attempt: number, bytes: Uint8Array) =>
  worker.raw(
    'PUT',
    `/api/worker/jobs/${jobId}/files/${name}?attempt=${attempt}`,
    new Uint8Array(bytes) as Uint8Array<ArrayBuffer>,
    'application/octet-stream',
  )

/** Uploads v0's files under the job's result name, then `scores`, and completes the job. */
async function completeWithScores(job: LeasedJob, scores: Uint8Array) {
  for (const name of ['encoder', 'decoder', 'parity', 'checkpoint'] as const) {
    const file =
      name === 'parity' ? 'parity.json' : name === 'checkpoint' ? 'checkpoint.pt' : `${name}.onnx`
    expect((await put(job.id, name, job.attempt, v0(file))).status).toBe(200)
  }
  const card = {
    ...JSON.parse(v0('card.json').toString('utf8')),
    version: job.resultName,
    parentVersion: 'v0',
  }
  expect((await put(job.id, 'card', job.attempt, Buffer.from(JSON.stringify(card)))).status).toBe(
    200,
  )
  const uploaded = await put(job.id, 'scores', job.attempt, scores)
  expect(uploaded.status, JSON.stringify(uploaded.body)).toBe(200)
  const completed = await worker.request('POST', `/api/worker/jobs/${job.id}/complete`, {
    attempt: job.attempt,
    metrics: { validation: someMetrics, baseValidation: someMetrics },
    timings: { train: 1, score: 1 },
  })
  expect(completed.status, JSON.stringify(completed.body)).toBe(200)
  return completed.body as { version: { id: number; name: string }; promoted: boolean }
}

describe('active-learning settings', () => {
  it('round-trips for the owner, reads for any member, and keeps the training settings', async () => {
    const projectId = (await test.admin.request('POST', '/api/projects', { name: 'Settings' })).body
      .id as number
    const viewer = await member('settings-viewer', projectId, 'viewer')
    const annotator = await member('settings-annotator', projectId, 'annotator')
    const path = `/api/projects/${projectId}/active-learning`
    expect((await viewer.request('GET', path)).body).toEqual(DEFAULT_ACTIVE_LEARNING)
    await test.admin.request('PUT', `/api/projects/${projectId}/training/settings`, {
      autoTrainEvery: 7,
    })
    const changed = { strategy: 'boundary', claimMinutes: 5, preannotate: false }
    const saved = await test.admin.request('PUT', path, changed)
    expect(saved.status).toBe(200)
    expect(saved.body).toEqual(changed)
    expect((await viewer.request('GET', path)).body).toEqual(changed)
    const training = await test.admin.request('GET', `/api/projects/${projectId}/training/settings`)
    expect(training.body).toEqual({ autoTrainEvery: 7 })

    const refused = await annotator.request('PUT', path, DEFAULT_ACTIVE_LEARNING)
    expect(refused.status).toBe(403)
    expect(refused.body.error).toMatch(/owner/)
    const invalid = await test.admin.request('PUT', path, { ...changed, claimMinutes: 0 })
    expect(invalid.status).toBe(400)
    expect((await viewer.request('GET', path)).body).toEqual(changed)
  })
})

describe('scores per version', () => {
  let projectId: number
  let pool: number[]
  let job: LeasedJob

  beforeAll(async () => {
    ;({ projectId } = await labelledProject(
      test.admin,
      await syntheticImages(2, 64, 700),
      'Scored',
    ))
    pool = await upload(projectId, await tinyPngs(5, 1))
    await test.admin.request('PUT', `/api/projects/${projectId}/active-learning`, {
      ...DEFAULT_ACTIVE_LEARNING,
      strategy: 'tta',
    })
  }, 120_000)

  it('gives a leased job the pool of unfinished images and their samples, nothing else', async () => {
    const created = await test.admin.request('POST', `/api/projects/${projectId}/jobs`, {})
    expect(created.status).toBe(201)
    job = (await leaseNow(worker))!
    expect(job.id).toBe(created.body.id)
    expect(job.pool).toBe(`/api/worker/jobs/${job.id}/pool?cursor=0`)
    expect(job.scoring).toEqual({ strategy: 'tta' })

    // Pages of two, followed to the end: exactly the images nobody has finished.
    const items: PoolPage['items'] = []
    let url: string | null = `${job.pool}&limit=2`
    let pages = 0
    while (url) {
      const response = await worker.request('GET', url)
      expect(response.status, JSON.stringify(response.body)).toBe(200)
      const page = PoolPage.parse(response.body)
      expect(page.total).toBe(pool.length)
      items.push(...page.items)
      url = page.next ? `${page.next}&limit=2` : null
      pages++
    }
    expect(pages).toBe(3)
    expect(items.map((item) => item.imageId)).toEqual(pool)
    for (const item of items) {
      expect(item).toMatchObject({ width: 16, height: 16, channels: 1, dtype: 'uint8' })
      const blob = await worker.raw('GET', item.samples.url)
      expect(blob.status).toBe(200)
      expect(blob.body.length).toBe(item.samples.bytes)
      expect(sha256(blob.body)).toBe(item.samples.sha256)
    }

    // Keys that are not the project's raw samples: a thumbnail, another project's image.
    const { db } = test.server.tessera.context
    const thumbnail = db
      .prepare('SELECT thumbnail_key FROM images WHERE id = ?')
      .pluck()
      .get(pool[0])
    const other = (await test.admin.request('POST', '/api/projects', { name: 'Elsewhere' })).body
      .id as number
    const [otherImage] = await upload(other, await tinyPngs(1, 2))
    const otherRaw = db.prepare('SELECT raw_key FROM images WHERE id = ?').pluck().get(otherImage)
    for (const key of [thumbnail, otherRaw]) {
      const refused = await worker.request('GET', `/api/worker/jobs/${job.id}/blobs/${key}`)
      expect(refused.status).toBe(403)
    }
    // Another worker token holds nothing here.
    const stranger = ApiClient.withToken(test.url, await workerToken(test.admin, 'stranger'))
    expect((await stranger.request('GET', job.pool!)).status).toBe(403)
    expect((await stranger.raw('GET', items[0]!.samples.url)).status).toBe(403)

    // An image finished meanwhile leaves the pool (it is read when asked).
    markDone(projectId, pool[4]!)
    const after = PoolPage.parse((await worker.request('GET', job.pool!)).body)
    expect(after.items.map((item) => item.imageId)).toEqual(pool.slice(0, 4))
    expect(after.next).toBeNull()
  })

  it("stores a completed job's scores as the project's ranking, with the version", async () => {
    expect(await ranking(test.admin, projectId)).toEqual({
      version: null,
      strategy: null,
      scoredAt: null,
      scores: [],
      claims: [],
    })
    // The pool scored in an order of its own, plus an image the project does not have.
    const order = [pool[2]!, pool[0]!, pool[4]!, 999_999, pool[3]!, pool[1]!]
    const scores = {
      strategy: 'tta',
      version: job.resultName,
      items: order.map((imageId, i) => ({ imageId, score: 1 - i / 10, rank: i + 1 })),
      seconds: 1.5,
    }
    const before = Date.now()
    const { version } = await completeWithScores(job, Buffer.from(JSON.stringify(scores)))
    expect(version.name).toBe(job.resultName)
    const viewer = await member('ranking-viewer', projectId, 'viewer')
    const ranked = await ranking(viewer, projectId)
    expect(ranked.version).toEqual(version)
    expect(ranked.strategy).toBe('tta')
    expect(Date.parse(ranked.scoredAt!)).toBeGreaterThanOrEqual(before - 1000)
    expect(ranked.scores.map((s) => [s.imageId, s.rank])).toEqual([
      [pool[2], 1],
      [pool[0], 2],
      [pool[4], 3],
      [pool[3], 5],
      [pool[1], 6],
    ])
    // The scores file stays with the version, as the worker sent it.
    const versions = (await test.admin.request('GET', `/api/projects/${projectId}/models`)).body
    const info = versions.versions.find((v: { id: number }) => v.id === version.id)
    expect(Object.keys(info.files)).toContain('scores')
    // A retried completion changes nothing.
    const retried = await worker.request('POST', `/api/worker/jobs/${job.id}/complete`, {
      attempt: job.attempt,
      metrics: { validation: someMetrics, baseValidation: someMetrics },
      timings: {},
    })
    expect(retried.body.version).toEqual(version)
    expect(await ranking(viewer, projectId)).toEqual(ranked)
  })

  it('hands out images by rank with Next, skipping finished and claimed ones', async () => {
    const ana = await member('ana', projectId, 'annotator')
    const ben = await member('ben', projectId, 'annotator')
    const viewer = users.get('ranking-viewer')!
    // pool[4] (rank 3) was marked done in the first test.
    expect(statusOf(pool[4]!)).toBe('done')
    const first = await next(ana, projectId)
    expect(first).toMatchObject({
      image: { id: pool[2] },
      claim: { imageId: pool[2], username: 'ana' },
      score: { imageId: pool[2], rank: 1 },
      reason: 'ranked',
    })
    const second = await next(ben, projectId)
    expect(second).toMatchObject({ image: { id: pool[0] }, reason: 'ranked' })
    // Ana again: her own claim, renewed.
    const again = await next(ana, projectId)
    expect(again).toMatchObject({ image: { id: pool[2] }, reason: 'held' })
    expect(Date.parse(again.claim!.expiresAt)).toBeGreaterThanOrEqual(
      Date.parse(first.claim!.expiresAt),
    )
    const claims = (await ranking(viewer, projectId)).claims
    expect(claims.map((c) => [c.imageId, c.username])).toEqual([
      [pool[2], 'ana'],
      [pool[0], 'ben'],
    ])
    // A viewer cannot take one.
    expect((await viewer.request('POST', `/api/projects/${projectId}/next`)).status).toBe(403)

    // Ana finishes hers: the claim ends, and her Next goes on past the done image (rank 3).
    markDone(projectId, pool[2]!)
    expect((await ranking(viewer, projectId)).claims.map((c) => c.username)).toEqual(['ben'])
    expect(await next(ana, projectId)).toMatchObject({ image: { id: pool[3] }, reason: 'ranked' })

    // Ben's claim runs out (moved back in time): his image goes to the next caller.
    test.server.tessera.context.db
      .prepare('UPDATE image_claims SET expires_at = ? WHERE image_id = ?')
      .run(Date.now() - 1, pool[0])
    const carl = await member('carl', projectId, 'annotator')
    expect(await next(carl, projectId)).toMatchObject({ image: { id: pool[0] }, reason: 'ranked' })
    // Ben gets the last scored one; then only the unscored done images remain: nothing.
    expect(await next(ben, projectId)).toMatchObject({ image: { id: pool[1] }, reason: 'ranked' })
    const dora = await member('dora', projectId, 'annotator')
    expect(await next(dora, projectId)).toEqual({
      image: null,
      claim: null,
      score: null,
      reason: null,
    })
  })

  it('releases a claim for its holder or an owner only', async () => {
    const ben = users.get('ben')!
    const carl = users.get('carl')!
    const release = (client: ApiClient, imageId: number) =>
      client.request('POST', `/api/projects/${projectId}/images/${imageId}/release`)
    const refused = await release(carl, pool[1]!)
    expect(refused.status).toBe(403)
    expect(refused.body.error).toMatch(/holds this image/)
    expect((await release(ben, pool[1]!)).status).toBe(204)
    expect((await release(test.admin, pool[0]!)).status).toBe(204)
    const claims = (await ranking(ben, projectId)).claims
    expect(claims.map((c) => c.username)).toEqual(['ana'])
    expect((await release(ben, 999_999)).status).toBe(404)
    // Released images are free again, best rank first.
    expect(await next(users.get('dora')!, projectId)).toMatchObject({ image: { id: pool[0] } })
  })

  it('keeps a version whose scores file is bad, without scores (the older ranking stays)', async () => {
    const previous = await ranking(test.admin, projectId)
    // New unfinished images, so that the next job has a pool.
    const extra = await upload(projectId, await tinyPngs(2, 3))
    const created = await test.admin.request('POST', `/api/projects/${projectId}/jobs`, {})
    expect(created.status).toBe(201)
    const second = (await leaseNow(worker))!
    expect(second.pool).not.toBeNull()
    const duplicated = {
      strategy: 'tta',
      version: second.resultName,
      items: extra.map((imageId) => ({ imageId, score: 0.5, rank: 1 })),
      seconds: 1,
    }
    const { version } = await completeWithScores(second, Buffer.from(JSON.stringify(duplicated)))
    expect(version.name).toBe(second.resultName)
    const db = test.server.tessera.context.db
    expect(
      db.prepare('SELECT count(*) FROM image_scores WHERE version_id = ?').pluck().get(version.id),
    ).toBe(0)
    const now = await ranking(test.admin, projectId)
    expect(now.version).toEqual(previous.version)
    expect(now.scores).toEqual(previous.scores)
  })

  it('gives no pool when every image is finished', async () => {
    const { projectId: finished } = await labelledProject(
      test.admin,
      await syntheticImages(1, 64, 800),
      'All done',
    )
    const created = await test.admin.request('POST', `/api/projects/${finished}/jobs`, {})
    expect(created.status).toBe(201)
    const leased = (await leaseNow(worker))!
    expect(leased).toMatchObject({ id: created.body.id, pool: null, scoring: null })
    const page = PoolPage.parse(
      (await worker.request('GET', `/api/worker/jobs/${leased.id}/pool`)).body,
    )
    expect(page).toEqual({ items: [], total: 0, next: null })
    await worker.request('POST', `/api/worker/jobs/${leased.id}/fail`, {
      attempt: leased.attempt,
      error: 'done here',
      retry: false,
    })
  }, 60_000)
})

describe('Next under concurrency', () => {
  let other: ServerProcess | undefined

  afterAll(async () => {
    await other?.stop('SIGTERM')
  })

  it('never gives one image to two people: 100 parallel calls per round, two processes', async () => {
    const projectId = (await test.admin.request('POST', '/api/projects', { name: 'Crowd' })).body
      .id as number
    const images = await upload(projectId, await tinyPngs(30, 9))
    const annotators: { name: string; here: ApiClient; there: ApiClient }[] = []
    // A second server process on the same database: half the calls go there.
    other = await startServerProcess({
      TESSERA_DATA: test.dataDir,
      TESSERA_DEMO: 'false',
      TESSERA_ADMIN_PASSWORD: ADMIN_PASSWORD,
    })
    for (let i = 0; i < 10; i++) {
      const name = `crowd${i}`
      const here = await member(name, projectId, 'annotator')
      const there = new ApiClient(other.url)
      expect((await there.login(name, 'password-123')).status).toBe(200)
      annotators.push({ name, here, there })
    }
    const given = new Map<number, string>()
    const rounds: { calls: number; ms: number; images: number }[] = []
    for (let round = 0; round < 4; round++) {
      const started = performance.now()
      const calls = Array.from({ length: 100 }, (_, i) => {
        const annotator = annotators[i % 10]!
        const client = Math.floor(i / 10) % 2 === 0 ? annotator.here : annotator.there
        return client
          .request('POST', `/api/projects/${projectId}/next`)
          .then((response) => ({ annotator: annotator.name, response }))
      })
      const answers = await Promise.all(calls)
      const ms = performance.now() - started
      const byUser = new Map<string, Set<number | null>>()
      const holders = new Map<number, Set<string>>()
      for (const { annotator, response } of answers) {
        expect(response.status, JSON.stringify(response.body)).toBe(200)
        const body = NextImage.parse(response.body)
        const imageId = body.image?.id ?? null
        if (!byUser.has(annotator)) byUser.set(annotator, new Set())
        byUser.get(annotator)!.add(imageId)
        if (imageId === null) continue
        expect(body.claim?.username).toBe(annotator)
        if (!holders.has(imageId)) holders.set(imageId, new Set())
        holders.get(imageId)!.add(annotator)
      }
      // Each image at most one holder; each annotator one image (their claim, again and again).
      for (const [, holder] of holders) expect(holder.size).toBe(1)
      for (const [, got] of byUser) expect(got.size).toBe(1)
      for (const [imageId, holder] of holders) {
        // Never an image given before (they are marked done after each round).
        expect(given.has(imageId)).toBe(false)
        given.set(imageId, [...holder][0]!)
      }
      rounds.push({ calls: answers.length, ms: Math.round(ms), images: holders.size })
      for (const imageId of holders.keys()) markDone(projectId, imageId)
    }
    expect(rounds.map((r) => r.images)).toEqual([10, 10, 10, 0])
    expect([...given.keys()].sort((a, b) => a - b)).toEqual(images)
    const claims = test.server.tessera.context.db
      .prepare('SELECT count(*) FROM image_claims WHERE project_id = ?')
      .pluck()
      .get(projectId)
    expect(claims).toBe(0)
    console.info(
      `Next under concurrency: ${rounds.map((r) => `${r.calls} calls → ${r.images} images in ${r.ms} ms`).join('; ')}; 30 images, 10 annotators, 2 processes, each image given once`,
    )
  }, 120_000)
})
