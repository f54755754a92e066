// The learning loop when things go wrong, with real processes: a worker killed mid-job (its lease
// expires, a second worker resumes from the checkpoint, the first one's late completion is
// refused), a cancel mid-job, the server killed mid-job and restarted on the same data folder,
// and worker uploads that must be refused without changing anything. Every wait is bounded.
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type ModelVersionInfo,
  ModelVersionList,
  TrainingJob,
} from '../../shared/schemas/training.ts'
import type { WorkerProcessOptions } from '../src/workers/localWorker.ts'
import { ADMIN_PASSWORD, ApiClient, startTestServer, type TestServer } from './harness.ts'
import { labelledProject, syntheticImages, workerToken } from './labelledProject.ts'
import { type ServerProcess, startServerProcess } from './serverProcess.ts'
import { WorkerRun, waitUntil } from './workerRun.ts'

const LEASE_SECONDS = 4
const HEARTBEAT_SECONDS = 1
const REPOSITORY = path.resolve(import.meta.dirname, '../..')
const V0 = path.join(REPOSITORY, 'models', 'v0')
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-faults-cache-'))
const workers: WorkerRun[] = []

afterAll(async () => {
  for (const worker of workers) await worker.kill('SIGKILL')
  fs.rmSync(cacheDir, { recursive: true, force: true })
})

/** A worker with this file's download cache, killed after the tests if still running. */
function startWorker(options: Omit<WorkerProcessOptions, 'onLine' | 'cacheDir'>): WorkerRun {
  const worker = new WorkerRun({ ...options, cacheDir })
  workers.push(worker)
  return worker
}

async function getJob(client: ApiClient, projectId: number, jobId: number) {
  const response = await client.request('GET', `/api/projects/${projectId}/jobs/${jobId}`)
  expect(response.status).toBe(200)
  return TrainingJob.parse(response.body)
}

async function versionsOf(client: ApiClient, projectId: number): Promise<ModelVersionInfo[]> {
  const response = await client.request('GET', `/api/projects/${projectId}/models`)
  expect(response.status).toBe(200)
  return ModelVersionList.parse(response.body).versions
}

async function createJob(client: ApiClient, projectId: number, minutes: number, maxSteps: number) {
  const created = await client.request('POST', `/api/projects/${projectId}/jobs`, {
    minutes,
    maxSteps,
  })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  return TrainingJob.parse(created.body)
}

const someMetrics = { n_images: 1, n_objects: 1, auto_ap50: 0.5, noc85: 3 }
const completeBody = (attempt: number) => ({
  attempt,
  metrics: { validation: someMetrics, baseValidation: someMetrics },
  timings: { train: 1 },
  log: ['late'],
})

describe('a worker killed or cancelled mid-job', () => {
  let test: TestServer
  let projectId: number
  let token: string

  beforeAll(async () => {
    test = await startTestServer({
      jobLeaseSeconds: LEASE_SECONDS,
      jobHeartbeatSeconds: HEARTBEAT_SECONDS,
      jobBackoffSeconds: 0.5,
    })
    ;({ projectId } = await labelledProject(test.admin, await syntheticImages(4, 96)))
    token = await workerToken(test.admin)
  }, 120_000)

  afterAll(async () => {
    await test?.close()
  })

  it('expires the lease of a worker killed with -9; a second one resumes and succeeds once', async () => {
    const before = await versionsOf(test.admin, projectId)
    const job = await createJob(test.admin, projectId, 0.4, 400)
    const first = startWorker({
      serverUrl: test.url,
      token,
      once: true,
      name: 'first',
      checkpointSeconds: 1,
    })
    // A few steps in, so that a restart from 0 could not pass for a resume.
    const checkpoint = await first.waitFor(
      (event) => event.event === 'checkpoint' && Number(event.step) >= 3,
      90_000,
      'a checkpoint of the first worker at step 3 or later',
    )
    expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL')
    const killedAt = Date.now()

    // No heartbeat: the lease expires and the sweep puts the job back in the queue.
    const requeued = await waitUntil(
      () => getJob(test.admin, projectId, job.id),
      (current) => current.state !== 'running' && current.state !== 'leased',
      (LEASE_SECONDS + 4) * 1000,
      'the lease to expire',
    )
    const expiredAfterMs = Date.now() - killedAt
    expect(requeued).toMatchObject({ state: 'queued', attempt: 1, resultVersion: null })
    expect(requeued.error).toMatch(/lease expired/i)
    expect(expiredAfterMs).toBeLessThan((LEASE_SECONDS + 2) * 1000)

    const second = startWorker({
      serverUrl: test.url,
      token,
      once: true,
      name: 'second',
      checkpointSeconds: 1,
    })
    const started = await second.waitFor(
      (event) => event.event === 'job',
      60_000,
      'the second lease',
    )
    expect(started).toMatchObject({ job: job.id, attempt: 2, resume: true })
    const resumed = await second.waitFor((event) => event.event === 'resumed', 60_000, 'the resume')
    // The last checkpoint the first worker uploaded: the one seen, or one it sent just after.
    expect(Number(resumed.step)).toBeGreaterThanOrEqual(Number(checkpoint.step))
    // The second attempt's heartbeats go on from the saved step (a restart would count from 1).
    const training = await waitUntil(
      () => getJob(test.admin, projectId, job.id),
      (current) =>
        current.attempt === 2 &&
        ((current.progress?.phase === 'train' && current.progress.step > 0) ||
          current.state !== 'running'),
      60_000,
      "the second attempt's first training heartbeat",
    )
    expect(training.progress?.step).toBeGreaterThanOrEqual(Number(resumed.step))

    // The first worker's completion arrives late (same token, its attempt): refused, no version.
    const worker = ApiClient.withToken(test.url, token)
    const lateWhileRunning = await worker.request(
      'POST',
      `/api/worker/jobs/${job.id}/complete`,
      completeBody(1),
    )
    expect(lateWhileRunning.status).toBe(409)
    expect(lateWhileRunning.body).toMatchObject({ code: 'lease-lost' })
    expect(lateWhileRunning.body.error).toMatch(/Attempt 1 .* has ended/)

    const exit = await second.exit(150_000, 'the second worker to finish the job')
    expect(exit.code, second.tail()).toBe(0)
    const done = await getJob(test.admin, projectId, job.id)
    expect(done).toMatchObject({ state: 'succeeded', attempt: 2 })
    // The second attempt continued the chart from the saved step: one starting point only, and
    // its training records (every 25 steps) come after the resumed step.
    expect(done.history.filter((point) => point.step === 0)).toHaveLength(1)
    expect(done.logTail).toContain(`"event": "resumed", "step": ${resumed.step}`)
    const trained = second.events.filter((event) => event.event === 'train')
    expect(trained.every((event) => Number(event.step) > Number(resumed.step))).toBe(true)

    const after = await versionsOf(test.admin, projectId)
    expect(after).toHaveLength(before.length + 1)
    const fromJob = after.filter((version) => version.jobId === job.id)
    expect(fromJob).toHaveLength(1)
    expect(fromJob[0].name).toBe(done.resultVersion?.name)

    // Late again, now that the job succeeded: still 409, and nothing moves.
    const lateAfter = await worker.request(
      'POST',
      `/api/worker/jobs/${job.id}/complete`,
      completeBody(1),
    )
    expect(lateAfter.status).toBe(409)
    expect(lateAfter.body).toMatchObject({ code: 'lease-lost' })
    expect(await getJob(test.admin, projectId, job.id)).toEqual(done)
    expect(await versionsOf(test.admin, projectId)).toEqual(after)
    console.info(
      `kill -9 worker: checkpoint at step ${checkpoint.step}, lease expired ${expiredAfterMs} ms after the kill, resumed at step ${resumed.step}, first heartbeat of attempt 2 at step ${training.progress?.step}, ${done.progress?.step} steps in all`,
    )
  }, 240_000)

  it('stops a worker within a heartbeat of a cancel, with no version', async () => {
    const before = await versionsOf(test.admin, projectId)
    const job = await createJob(test.admin, projectId, 0.5, 2000)
    const worker = startWorker({ serverUrl: test.url, token, once: true, name: 'cancelled' })
    await waitUntil(
      () => getJob(test.admin, projectId, job.id),
      (current) => current.progress?.phase === 'train' && current.progress.step > 0,
      90_000,
      'training to start',
    )
    const cancelled = await test.admin.request(
      'POST',
      `/api/projects/${projectId}/jobs/${job.id}/cancel`,
    )
    expect(cancelled.status).toBe(200)
    expect(cancelled.body).toMatchObject({ state: 'running', cancelRequested: true })
    const cancelledAt = Date.now()

    // The next heartbeat says cancel; the worker stops training, reports and (with --once) exits.
    // The margin covers the step under way (seconds on a loaded 2-core machine) and the exit.
    const margin = 12_000
    const exit = await worker.exit(HEARTBEAT_SECONDS * 1000 + margin, 'the worker to stop')
    const stoppedAfterMs = Date.now() - cancelledAt
    expect(exit.signal).toBeNull()
    expect(worker.events.some((event) => event.event === 'cancel-requested')).toBe(true)
    expect(worker.events.find((event) => event.event === 'job-ended')).toMatchObject({
      state: 'cancelled',
    })
    const ended = await getJob(test.admin, projectId, job.id)
    expect(ended).toMatchObject({ state: 'cancelled', resultVersion: null, attempt: 1 })
    expect(ended.finishedAt).not.toBeNull()
    expect(await versionsOf(test.admin, projectId)).toEqual(before)
    console.info(`cancel: the worker exited ${stoppedAfterMs} ms after the cancel request`)
  }, 150_000)
})

describe('the server killed mid-job', () => {
  const env = {
    TESSERA_DEMO: 'false',
    TESSERA_LOCAL_WORKER: 'false',
    TESSERA_ADMIN_PASSWORD: ADMIN_PASSWORD,
    // Long enough to outlive the restart: the expected path is that the worker carries on.
    TESSERA_JOB_LEASE_SECONDS: '20',
    TESSERA_JOB_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS),
    TESSERA_JOB_BACKOFF_SECONDS: '0.5',
  }
  const servers: ServerProcess[] = []
  let data = ''

  beforeAll(() => {
    data = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-faults-server-'))
  })

  afterAll(async () => {
    for (const server of servers) await server.stop('SIGKILL')
    if (data) fs.rmSync(data, { recursive: true, force: true })
  })

  async function ready(url: string) {
    await waitUntil(
      async () => (await fetch(`${url}/api/health`)).status,
      (status) => status === 200,
      60_000,
      'the server to be ready',
    )
  }

  it('finishes the job exactly once after a kill -9 and a restart on the same data', async () => {
    const first = await startServerProcess({ ...env, TESSERA_DATA: data })
    servers.push(first)
    await ready(first.url)
    const admin = new ApiClient(first.url)
    expect((await admin.login('admin', ADMIN_PASSWORD)).status).toBe(200)
    const { projectId } = await labelledProject(admin, await syntheticImages(4, 96, 300))
    const token = await workerToken(admin)
    const before = await versionsOf(admin, projectId)
    const job = await createJob(admin, projectId, 0.3, 400)

    // Without --once: should the job be requeued, the same worker leases it again.
    const worker = startWorker({
      serverUrl: first.url,
      token,
      name: 'survivor',
      checkpointSeconds: 1,
    })
    await worker.waitFor(
      (event) => event.event === 'checkpoint' && Number(event.step) > 0,
      90_000,
      'a checkpoint before the crash',
    )
    expect(await first.stop('SIGKILL')).toBeNull()
    const killedAt = Date.now()
    const port = new URL(first.url).port
    const second = await startServerProcess({ ...env, TESSERA_DATA: data, PORT: port })
    servers.push(second)
    expect(second.url).toBe(first.url)
    await ready(second.url)
    const downMs = Date.now() - killedAt

    await worker.waitFor(
      (event) => event.event === 'job-ended' && event.state === 'succeeded',
      150_000,
      'the job to succeed after the restart',
    )
    expect((await worker.kill('SIGTERM')).code).toBe(0)
    // A requeued attempt ends lease-lost on the worker before the next one succeeds.
    const endings = worker.events.filter((event) => event.event === 'job-ended')
    expect(endings.map((event) => event.state)).toEqual([
      ...Array(endings.length - 1).fill('lease-lost'),
      'succeeded',
    ])
    expect(endings.every((event) => event.job === job.id)).toBe(true)

    const done = await getJob(admin, projectId, job.id)
    expect(done.state).toBe('succeeded')
    // Carried on (attempt 1), or requeued once and resumed (attempt 2); never more.
    const leases = worker.events.filter((event) => event.event === 'job')
    expect(leases.length).toBe(done.attempt)
    expect(done.attempt).toBeLessThanOrEqual(2)
    expect(worker.events.filter((event) => event.event === 'completed')).toHaveLength(1)
    const jobs = (await admin.request('GET', `/api/projects/${projectId}/jobs`)).body.jobs
    expect(jobs.map((listed: { id: number }) => listed.id)).toEqual([job.id])
    const after = await versionsOf(admin, projectId)
    expect(after).toHaveLength(before.length + 1)
    expect(after.filter((version) => version.jobId === job.id)).toHaveLength(1)
    const outage = worker.events.filter((event) => event.event === 'heartbeat-failed').length
    console.info(
      `kill -9 server: down ${downMs} ms; the job ended succeeded on attempt ${done.attempt}; ${outage} heartbeats failed (after their retries) meanwhile`,
    )
  }, 240_000)
})

describe('worker uploads that are refused', () => {
  const MAX_FILE_BYTES = 2_000_000
  let test: TestServer
  let worker: ApiClient
  let other: ApiClient
  let projectId: number
  let jobId: number
  let otherProjectId: number
  let otherJobId = 0

  const v0 = (file: string) => fs.readFileSync(path.join(V0, file))
  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
  const jobRow = (id: number) =>
    test.server.tessera.context.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Record<
      string,
      unknown
    >
  const put = (client: ApiClient, id: number, name: string, attempt: number, bytes: Uint8Array) =>
    client.raw(
      'PUT',
      `/api/worker/jobs/${id}/files/${name}?attempt=${attempt}`,
      new Uint8Array(bytes) as Uint8Array<ArrayBuffer>,
      'application/octet-stream',
    )
  const beat = async (client: ApiClient, id: number, attempt: number) => {
    const response = await client.request('POST', `/api/worker/jobs/${id}/heartbeat`, {
      attempt,
      progress: {
        phase: 'upload',
        step: 1,
        totalSteps: 1,
        loss: null,
        validation: null,
        etaSeconds: null,
      },
    })
    expect(response.status, JSON.stringify(response.body)).toBe(200)
  }
  const lease = async (client: ApiClient) => {
    const response = await client.request('POST', '/api/worker/lease', {
      waitSeconds: 0,
      worker: { name: 'by hand', device: 'none' },
    })
    expect(response.status).toBe(200)
    return response.body.job as { id: number; attempt: number }
  }

  /** Runs a call that must be refused; the job's row and the blob store's keys stay as they were. */
  async function refused(
    id: number,
    call: () => Promise<{ status: number; body: any; headers: Headers }>,
  ) {
    const row = jobRow(id)
    const blobs = await test.server.tessera.context.blobs.list()
    const response = await call()
    expect(response.headers.get('content-type')).toContain('application/json')
    expect(typeof response.body.error).toBe('string')
    expect(jobRow(id)).toEqual(row)
    expect((await test.server.tessera.context.blobs.list()).sort()).toEqual(blobs.sort())
    return response
  }

  beforeAll(async () => {
    test = await startTestServer({
      jobLeaseSeconds: LEASE_SECONDS,
      jobHeartbeatSeconds: HEARTBEAT_SECONDS,
      jobBackoffSeconds: 0,
      maxModelFileBytes: MAX_FILE_BYTES,
    })
    ;({ projectId } = await labelledProject(test.admin, await syntheticImages(1, 64, 400), 'Mine'))
    ;({ projectId: otherProjectId } = await labelledProject(
      test.admin,
      await syntheticImages(1, 64, 410),
      'Theirs',
    ))
    worker = ApiClient.withToken(test.url, await workerToken(test.admin, 'uploader'))
    other = ApiClient.withToken(test.url, await workerToken(test.admin, 'other'))
    jobId = (await createJob(test.admin, projectId, 0.3, 10)).id
    expect(await lease(worker)).toMatchObject({ id: jobId, attempt: 1 })
  }, 120_000)

  afterAll(async () => {
    await test?.close()
  })

  it('refuses files that are not what they claim, or too large, and cards that fail the schema', async () => {
    await beat(worker, jobId, 1)
    const notOnnx = await refused(jobId, () => put(worker, jobId, 'encoder', 1, randomBytes(4096)))
    expect(notOnnx.status).toBe(400)
    expect(notOnnx.body.error).toMatch(/encoder/i)
    expect(notOnnx.body.error).toMatch(/onnx/i)

    const tooLarge = await refused(jobId, () =>
      put(worker, jobId, 'checkpoint', 1, randomBytes(MAX_FILE_BYTES + 1)),
    )
    expect(tooLarge.status).toBe(413)
    expect(tooLarge.body.error).toContain(String(MAX_FILE_BYTES))

    const card = JSON.parse(v0('card.json').toString('utf8'))
    card.input.channels = 9
    const badCard = await refused(jobId, () =>
      put(worker, jobId, 'card', 1, Buffer.from(JSON.stringify(card))),
    )
    expect(badCard.status).toBe(400)
    expect(badCard.body.error).toMatch(/input\.channels/)
    expect(badCard.body.error).toMatch(/card/i)
    expect(await versionsOf(test.admin, projectId)).toHaveLength(1)
  })

  it('refuses a completion without the required files, or for another attempt', async () => {
    await beat(worker, jobId, 1)
    for (const name of ['encoder', 'decoder']) {
      const stored = await put(worker, jobId, name, 1, v0(`${name}.onnx`))
      expect(stored.status, JSON.stringify(stored.body)).toBe(200)
      expect(stored.body.sha256).toBe(sha256(v0(`${name}.onnx`)))
    }
    expect(Object.keys(JSON.parse(jobRow(jobId).artifacts_json as string))).toEqual([
      'encoder',
      'decoder',
    ])
    const incomplete = await refused(jobId, () =>
      worker.request('POST', `/api/worker/jobs/${jobId}/complete`, completeBody(1)),
    )
    expect(incomplete.status).toBe(400)
    expect(incomplete.body.error).toMatch(/Upload these files before completing: card, checkpoint/)

    for (const attempt of [2, 7]) {
      const another = await refused(jobId, () =>
        worker.request('POST', `/api/worker/jobs/${jobId}/complete`, completeBody(attempt)),
      )
      expect(another.status).toBe(409)
      expect(another.body.code).toBe('lease-lost')
    }
    const wrongAttemptUpload = await refused(jobId, () =>
      put(
        worker,
        jobId,
        'parity',
        2,
        Buffer.from(JSON.stringify({ nonce: randomBytes(8).toString('hex') })),
      ),
    )
    expect(wrongAttemptUpload.status).toBe(409)
    expect((await getJob(test.admin, projectId, jobId)).state).toBe('running')
    expect(await versionsOf(test.admin, projectId)).toHaveLength(1)
  })

  it('refuses uploads and completions for a job another token holds', async () => {
    otherJobId = (await createJob(test.admin, otherProjectId, 0.3, 10)).id
    expect(await lease(other)).toMatchObject({ id: otherJobId, attempt: 1 })
    const parity = Buffer.from(JSON.stringify({ nonce: randomBytes(8).toString('hex') }))
    const upload = await refused(otherJobId, () => put(worker, otherJobId, 'parity', 1, parity))
    expect(upload.status).toBe(403)
    expect(upload.body.error).toMatch(/does not hold job/)
    const checkpoint = await refused(otherJobId, () =>
      worker.raw(
        'PUT',
        `/api/worker/jobs/${otherJobId}/checkpoint?attempt=1`,
        new Uint8Array(v0('checkpoint.pt')) as Uint8Array<ArrayBuffer>,
        'application/octet-stream',
      ),
    )
    expect(checkpoint.status).toBe(403)
    const complete = await refused(otherJobId, () =>
      worker.request('POST', `/api/worker/jobs/${otherJobId}/complete`, completeBody(1)),
    )
    expect(complete.status).toBe(403)
    expect(await versionsOf(test.admin, otherProjectId)).toHaveLength(1)
  })

  it('refuses uploads and the completion once the lease expired', async () => {
    // No more heartbeats: the sweep requeues the job.
    const requeued = await waitUntil(
      () => getJob(test.admin, projectId, jobId),
      (job) => job.state === 'queued',
      (LEASE_SECONDS + 4) * 1000,
      'the lease to expire',
    )
    expect(requeued).toMatchObject({ attempt: 1, error: expect.stringMatching(/lease expired/i) })
    // A file that would pass its checks (new bytes, so the blob store shows whether it was kept).
    const parity = Buffer.from(JSON.stringify({ nonce: randomBytes(8).toString('hex') }))
    const late = await refused(jobId, () => put(worker, jobId, 'parity', 1, parity))
    expect(late.status).toBe(409)
    expect(late.body.code).toBe('lease-lost')
    const lateCheckpoint = await refused(jobId, () =>
      worker.raw(
        'PUT',
        `/api/worker/jobs/${jobId}/checkpoint?attempt=1`,
        new Uint8Array(v0('checkpoint.pt')) as Uint8Array<ArrayBuffer>,
        'application/octet-stream',
      ),
    )
    expect(lateCheckpoint.status).toBe(409)
    for (const name of ['card', 'checkpoint'])
      expect(
        (await put(worker, jobId, name, 1, v0(name === 'card' ? 'card.json' : 'checkpoint.pt')))
          .status,
      ).toBe(409)
    const complete = await refused(jobId, () =>
      worker.request('POST', `/api/worker/jobs/${jobId}/complete`, completeBody(1)),
    )
    expect(complete.status).toBe(409)
    expect(complete.body.code).toBe('lease-lost')
    expect((await getJob(test.admin, projectId, jobId)).state).toBe('queued')
    expect(await versionsOf(test.admin, projectId)).toHaveLength(1)
  })
})
