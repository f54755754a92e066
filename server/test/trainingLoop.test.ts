// The learning loop with a real worker process (python -m tessera_trainer work, CPU): synthetic
// images labelled and marked done through the collaboration socket → Train → the worker leases,
// downloads the frozen set, fine-tunes v0, uploads and completes → a new version with metrics is
// the project's current model, announced on the live channel. Also: what Train says it will
// train on, the automatic trigger, and a worker token's reach.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CurrentModel } from '../../shared/schemas/modelCard.ts'
import { ModelVersionList, ProjectEvent, TrainingJob } from '../../shared/schemas/training.ts'
import { spawnWorker } from '../src/workers/localWorker.ts'
import { ApiClient, startTestServer, type TestServer } from './harness.ts'
import { labelledProject, syntheticImages, workerToken } from './labelledProject.ts'

let test: TestServer
let projectId: number
let token: string

beforeAll(async () => {
  test = await startTestServer({
    jobHeartbeatSeconds: 1,
    autoTrainCheckSeconds: 1,
  })
  const files = await syntheticImages(4, 96)
  ;({ projectId } = await labelledProject(test.admin, files))
  token = await workerToken(test.admin)
}, 120_000)

afterAll(async () => {
  await test?.close()
})

/** Reads the project's live channel until `until` accepts an event (or the time is up). */
async function liveEvents(
  until: (event: ProjectEvent) => boolean,
  timeoutMs: number,
): Promise<ProjectEvent[]> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const events: ProjectEvent[] = []
  try {
    const response = await fetch(`${test.url}/api/projects/${projectId}/events`, {
      headers: { cookie: test.admin.cookieHeader() },
      signal: controller.signal,
    })
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end >= 0) {
        const message = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        end = buffer.indexOf('\n\n')
        const data = message
          .split('\n')
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice(6))
          .join('\n')
        if (!data) continue
        const event = ProjectEvent.parse(JSON.parse(data))
        events.push(event)
        if (until(event)) return events
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return events
}

/** A lease taken by hand (no Python): the job, or null when none is ready. */
async function leaseNow(worker: ApiClient, name = 'manual') {
  const response = await worker.request('POST', '/api/worker/lease', {
    waitSeconds: 0,
    worker: { name, device: 'none' },
  })
  return response.body.job
}

/** Cancels a job held by hand and ends it as its worker would on hearing so. */
async function cancelHeld(worker: ApiClient, projectId: number, jobId: number) {
  await test.admin.request('POST', `/api/projects/${projectId}/jobs/${jobId}/cancel`)
  await worker.request('POST', `/api/worker/jobs/${jobId}/fail`, {
    attempt: 1,
    error: 'cancelled',
    retry: false,
  })
}

describe('the training loop', () => {
  it('says what Train will train on', async () => {
    const preview = await test.admin.request('GET', `/api/projects/${projectId}/training`)
    expect(preview.status).toBe(200)
    expect(preview.body).toMatchObject({
      images: 4,
      newSinceCurrent: 4,
      currentVersion: { name: 'v0' },
      activeJob: null,
    })
    expect(preview.body.objects).toBeGreaterThan(10)
  })

  it('trains a new version on a real worker, makes it current and tells the live channel', async () => {
    const before = CurrentModel.parse(
      (await test.admin.request('GET', `/api/projects/${projectId}/model`)).body,
    )
    expect(before.version).toBe('v0')
    const heard = liveEvents((event) => event.type === 'model', 240_000)
    // The stream is open before the job starts.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const created = await test.admin.request('POST', `/api/projects/${projectId}/jobs`, {
      minutes: 0.25,
      maxSteps: 12,
    })
    expect(created.status).toBe(201)
    const job = TrainingJob.parse(created.body)
    expect(job.state).toBe('queued')
    expect(job.trainingSet.images).toBe(4)
    expect(job.baseVersion.name).toBe('v0')

    const lines: string[] = []
    const worker = spawnWorker({
      serverUrl: test.url,
      token,
      once: true,
      name: 'loop-test',
      onLine: (line) => lines.push(line),
    })
    const exitCode = await new Promise<number | null>((resolve) => worker.on('exit', resolve))
    expect(exitCode, lines.slice(-20).join('\n')).toBe(0)

    const done = TrainingJob.parse(
      (await test.admin.request('GET', `/api/projects/${projectId}/jobs/${job.id}`)).body,
    )
    expect(done.state).toBe('succeeded')
    expect(done.resultVersion?.name).toBe('v1')
    expect(done.history.length).toBeGreaterThan(0)
    expect(Object.keys(done.timings ?? {})).toEqual(
      expect.arrayContaining(['download', 'train', 'evaluate', 'export', 'upload', 'queueWait']),
    )

    const versions = ModelVersionList.parse(
      (await test.admin.request('GET', `/api/projects/${projectId}/models`)).body,
    )
    const v1 = versions.versions.find((version) => version.name === 'v1')!
    expect(v1.parent?.name).toBe('v0')
    expect(v1.trainingSet.images).toBe(4)
    const validation = (v1.metrics as { validation: { n_images: number; auto_ap50: number } })
      .validation
    expect(validation.n_images).toBeGreaterThan(0)
    expect(validation.auto_ap50).toBeGreaterThanOrEqual(0)

    // A retried completion (its answer lost) gives the same version, never a second one.
    const retried = await ApiClient.withToken(test.url, token).request(
      'POST',
      `/api/worker/jobs/${job.id}/complete`,
      { attempt: done.attempt, metrics: v1.metrics, timings: {} },
    )
    expect(retried.status).toBe(200)
    expect(retried.body.version).toEqual({ id: v1.id, name: 'v1' })
    const again = ModelVersionList.parse(
      (await test.admin.request('GET', `/api/projects/${projectId}/models`)).body,
    )
    expect(again.versions.length).toBe(versions.versions.length)

    // Promoted or left as a candidate by the rule; either way an owner can make it current.
    if (versions.currentId !== v1.id) {
      const promoted = await test.admin.request(
        'POST',
        `/api/projects/${projectId}/models/${v1.id}/promote`,
      )
      expect(promoted.status).toBe(200)
    }
    const after = CurrentModel.parse(
      (await test.admin.request('GET', `/api/projects/${projectId}/model`)).body,
    )
    expect(after.version).toBe('v1')
    expect(after.card.parentVersion).toBe('v0')
    const encoder = await test.admin.raw('GET', after.files.encoder)
    expect(encoder.status).toBe(200)

    const events = await heard
    const jobEvents = events.filter((event) => event.type === 'job')
    expect(jobEvents.some((event) => event.job.state === 'running')).toBe(true)
    const model = events.find((event) => event.type === 'model')
    expect(model?.type === 'model' && model.current.version).toBe('v1')

    // Nothing new since v1 was trained.
    const preview = await test.admin.request('GET', `/api/projects/${projectId}/training`)
    expect(preview.body).toMatchObject({ newSinceCurrent: 0, currentVersion: { name: 'v1' } })
  }, 300_000)

  it('refuses a second job while one runs, and replaces a queued one', async () => {
    const first = await test.admin.request('POST', `/api/projects/${projectId}/jobs`, {})
    expect(first.status).toBe(201)
    const second = await test.admin.request('POST', `/api/projects/${projectId}/jobs`, {})
    expect(second.status).toBe(201)
    const replaced = await test.admin.request(
      'GET',
      `/api/projects/${projectId}/jobs/${first.body.id}`,
    )
    expect(replaced.body.state).toBe('cancelled')
    expect(replaced.body.error).toContain(`Replaced by job ${second.body.id}`)
    // A worker takes it: now a new request is refused until it ends.
    const worker = ApiClient.withToken(test.url, token)
    expect((await leaseNow(worker)).id).toBe(second.body.id)
    const refused = await test.admin.request('POST', `/api/projects/${projectId}/jobs`, {})
    expect(refused.status).toBe(409)
    expect(refused.body.error).toMatch(/training/)
    const cancelled = await test.admin.request(
      'POST',
      `/api/projects/${projectId}/jobs/${second.body.id}/cancel`,
    )
    expect(cancelled.body.cancelRequested).toBe(true)
    const heartbeat = await worker.request('POST', `/api/worker/jobs/${second.body.id}/heartbeat`, {
      attempt: 1,
      progress: {
        phase: 'train',
        step: 1,
        totalSteps: 10,
        loss: 1,
        validation: null,
        etaSeconds: 5,
      },
    })
    expect(heartbeat.body.cancel).toBe(true)
    await worker.request('POST', `/api/worker/jobs/${second.body.id}/fail`, {
      attempt: 1,
      error: 'cancelled',
      retry: false,
    })
    const ended = await test.admin.request(
      'GET',
      `/api/projects/${projectId}/jobs/${second.body.id}`,
    )
    expect(ended.body.state).toBe('cancelled')
  })

  it('keeps a worker token to the worker API and to the job it holds', async () => {
    const worker = ApiClient.withToken(test.url, token)
    // Not a user: the user API does not know it.
    for (const path of ['/api/projects', `/api/projects/${projectId}/model`, '/api/auth/me']) {
      expect((await worker.request('GET', path)).status).toBe(401)
    }
    // A user cannot use the worker API.
    expect(
      (
        await test.admin.request('POST', '/api/worker/lease', {
          waitSeconds: 0,
          worker: { name: 'x', device: 'cpu' },
        })
      ).status,
    ).toBe(401)
    // Another project's job, held by another worker: neither its data nor its blobs.
    const other = await labelledProject(test.admin, await syntheticImages(1, 64, 900), 'Other')
    const job = await test.admin.request('POST', `/api/projects/${other.projectId}/jobs`, {})
    const secondToken = await workerToken(test.admin, 'second')
    const holder = ApiClient.withToken(test.url, secondToken)
    const leased = await leaseNow(holder, 'holder')
    expect(leased.id).toBe(job.body.id)
    const page = await holder.request('GET', leased.dataset)
    expect(page.status).toBe(200)
    const samples = page.body.items[0].samples.url as string
    expect((await holder.raw('GET', samples)).status).toBe(200)
    expect((await worker.request('GET', leased.dataset)).status).toBe(403)
    expect((await worker.raw('GET', samples)).status).toBe(403)
    // Only the job's own blobs, even for its holder.
    const foreign = samples.replace(/[0-9a-f]{64}$/, 'ab'.repeat(32))
    expect((await holder.raw('GET', foreign)).status).toBe(403)
    // A revoked token is refused from its next call.
    const tokens = await test.admin.request('GET', '/api/admin/worker-tokens')
    const second = tokens.body.tokens.find((t: { name: string }) => t.name === 'second')
    expect(
      (await test.admin.request('DELETE', `/api/admin/worker-tokens/${second.id}`)).status,
    ).toBe(204)
    expect((await holder.request('GET', leased.dataset)).status).toBe(401)
    await test.admin.request('POST', `/api/projects/${other.projectId}/jobs/${job.body.id}/cancel`)
  })

  it("keeps a deleted image's samples for the queued job that froze them", async () => {
    const frozen = await labelledProject(test.admin, await syntheticImages(2, 64, 700), 'Deleted')
    const job = await test.admin.request('POST', `/api/projects/${frozen.projectId}/jobs`, {})
    expect(job.status).toBe(201)
    const deleted = await test.admin.request(
      'DELETE',
      `/api/projects/${frozen.projectId}/images/${frozen.imageIds[0]}`,
    )
    expect(deleted.status).toBe(204)
    const worker = ApiClient.withToken(test.url, token)
    const leased = await leaseNow(worker)
    expect(leased.id).toBe(job.body.id)
    const page = await worker.request('GET', leased.dataset)
    expect(page.body.items).toHaveLength(2)
    for (const item of page.body.items) {
      const samples = await worker.raw('GET', item.samples.url)
      expect(samples.status).toBe(200)
    }
    await cancelHeld(worker, frozen.projectId, job.body.id)
  })

  it('holds a waiting worker until a job is queued, then hands it out at once', async () => {
    const worker = ApiClient.withToken(test.url, token)
    const lease = (waitSeconds: number) =>
      worker.request('POST', '/api/worker/lease', {
        waitSeconds,
        worker: { name: 'poller', device: 'none' },
      })
    let started = Date.now()
    const empty = await lease(1.5)
    expect(empty.body.job).toBeNull()
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400)

    const project = await labelledProject(test.admin, await syntheticImages(1, 64, 800), 'Poll')
    started = Date.now()
    const waiting = lease(20)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const queuedAt = Date.now()
    const job = await test.admin.request('POST', `/api/projects/${project.projectId}/jobs`, {})
    const leased = await waiting
    expect(leased.body.job?.id).toBe(job.body.id)
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(Date.now() - queuedAt).toBeLessThan(3_000)
    await cancelHeld(worker, project.projectId, job.body.id)
  })

  it('queues a job by itself every N newly done images', async () => {
    const files = await syntheticImages(2, 64, 500)
    const auto = await labelledProject(test.admin, files, 'Automatic')
    const settings = await test.admin.request(
      'PUT',
      `/api/projects/${auto.projectId}/training/settings`,
      { autoTrainEvery: 2 },
    )
    expect(settings.body).toEqual({ autoTrainEvery: 2 })
    const started = Date.now()
    let jobs: TrainingJob[] = []
    while (jobs.length === 0 && Date.now() - started < 15_000) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      jobs = (await test.admin.request('GET', `/api/projects/${auto.projectId}/jobs`)).body.jobs
    }
    expect(jobs).toHaveLength(1)
    expect(jobs[0].triggeredBy).toBeNull()
    expect(jobs[0].trainingSet.images).toBe(2)
    await test.admin.request('PUT', `/api/projects/${auto.projectId}/training/settings`, {
      autoTrainEvery: null,
    })
    await test.admin.request('POST', `/api/projects/${auto.projectId}/jobs/${jobs[0].id}/cancel`)
  })
})
