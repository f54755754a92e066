// SqliteJobQueue on a real SQLite database with a hand-driven clock: replacement and conflicts
// on enqueue, atomic leases, lease checks on every worker call, backoff, cancellation, expiry and
// the change listeners.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { JobProgress } from '../../../shared/schemas/training.ts'
import { type Db, openDatabase } from '../db/database.ts'
import { type Job, JobConflict, LeaseLost, MAX_HISTORY, MAX_LOG_LINES } from './JobQueue.ts'
import { SqliteJobQueue } from './SqliteJobQueue.ts'

const OPTIONS = { leaseMs: 30_000, backoffMs: 1_000, maxBackoffMs: 5_000, defaultMaxAttempts: 3 }
const START = 1_700_000_000_000
const PROGRESS: JobProgress = {
  phase: 'train',
  step: 1,
  totalSteps: 10,
  loss: 0.5,
  validation: null,
  etaSeconds: 9,
}

const databases: Db[] = []
const folders: string[] = []
afterEach(() => {
  for (const db of databases.splice(0)) db.close()
  for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
})

function queueOnNewDatabase() {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-jobs-'))
  folders.push(folder)
  const file = path.join(folder, 'tessera.sqlite')
  const clock = { now: START }
  const open = () => {
    const db = openDatabase(file)
    databases.push(db)
    return { db, queue: new SqliteJobQueue(db, { ...OPTIONS, now: () => clock.now }) }
  }
  const { db, queue } = open()
  const addProject = (name: string) =>
    Number(db.prepare('INSERT INTO projects (name) VALUES (?)').run(name).lastInsertRowid)
  const projectId = addProject('cells')
  const changes: Job[] = []
  queue.onChange((job) => changes.push(job))
  const enqueue = (kind = 'train', project = projectId, maxAttempts?: number) =>
    queue.enqueue({
      projectId: project,
      kind,
      payload: { epochs: 3 },
      triggeredBy: null,
      maxAttempts,
    })
  return { db, queue, clock, open, addProject, projectId, changes, enqueue }
}

/** A queue with one job leased by worker 'w1' (attempt 1). */
async function leasedJob(maxAttempts?: number) {
  const setup = queueOnNewDatabase()
  const { id } = await setup.enqueue('train', setup.projectId, maxAttempts)
  const leased = await setup.queue.lease('w1', ['train'])
  expect(leased?.id).toBe(id)
  setup.changes.length = 0
  return { ...setup, id }
}

describe('SqliteJobQueue enqueue', () => {
  it('inserts a queued job at attempt 0 and finds it by id, project and kind', async () => {
    const { queue, enqueue, projectId, addProject } = queueOnNewDatabase()
    const job = await enqueue()
    expect(job).toMatchObject({
      projectId,
      kind: 'train',
      state: 'queued',
      payload: { epochs: 3 },
      attempt: 0,
      maxAttempts: 3,
      notBefore: 0,
      leaseHolder: null,
      history: [],
      logTail: '',
      artifacts: {},
      cancelRequested: false,
      createdAt: START,
      startedAt: null,
    })
    expect(await queue.get(job.id)).toEqual(job)
    expect(await queue.active(projectId, 'train')).toEqual(job)
    expect(await queue.active(projectId, 'evaluate')).toBeNull()
    expect(await queue.get(job.id + 1)).toBeNull()
    const other = await enqueue('train', addProject('tissue'), 5)
    expect(other.maxAttempts).toBe(5)
    expect(await queue.active(projectId, 'train')).toEqual(job)
  })

  it('replaces a queued job of the same project and kind, and says by which', async () => {
    const { queue, enqueue, projectId, changes } = queueOnNewDatabase()
    const first = await enqueue()
    const evaluation = await enqueue('evaluate')
    const second = await enqueue()
    const replaced = await queue.get(first.id)
    expect(replaced).toMatchObject({
      state: 'cancelled',
      error: `Replaced by job ${second.id}`,
      finishedAt: START,
    })
    expect((await queue.active(projectId, 'train'))?.id).toBe(second.id)
    expect((await queue.get(evaluation.id))?.state).toBe('queued')
    expect(changes.map((job) => `${job.id} ${job.state}`)).toEqual([
      `${first.id} queued`,
      `${evaluation.id} queued`,
      `${first.id} cancelled`,
      `${second.id} queued`,
    ])
  })

  it('refuses while a job of the kind is leased or running, naming it', async () => {
    const { queue, enqueue, id, projectId, clock } = await leasedJob()
    const conflict = await enqueue().catch((error: unknown) => error)
    expect(conflict).toBeInstanceOf(JobConflict)
    expect((conflict as JobConflict).activeJobId).toBe(id)
    clock.now += 1
    await queue.heartbeat(id, 1, 'w1', { progress: PROGRESS })
    await expect(enqueue()).rejects.toMatchObject({ activeJobId: id })
    expect(await queue.list(projectId)).toHaveLength(1)
  })

  it('runs beforeInsert with the new id in the same transaction; if it throws nothing changes', async () => {
    const { db, queue, enqueue, projectId, changes } = queueOnNewDatabase()
    const first = await enqueue()
    const frozen = await queue.enqueue(
      { projectId, kind: 'train', payload: {}, triggeredBy: null },
      (jobId) => {
        // training_sets.job_id references jobs: this only works if the row is already there.
        db.prepare(
          `INSERT INTO training_sets (job_id, hash, summary_json, items_json) VALUES (?, 'h', '{}', '[]')`,
        ).run(jobId)
      },
    )
    expect(db.prepare('SELECT job_id FROM training_sets').all()).toEqual([{ job_id: frozen.id }])
    changes.length = 0
    const refused = queue.enqueue(
      { projectId, kind: 'train', payload: {}, triggeredBy: null },
      () => {
        throw new Error('no labelled images')
      },
    )
    await expect(refused).rejects.toThrow('no labelled images')
    expect((await queue.get(first.id))?.state).toBe('cancelled')
    expect((await queue.active(projectId, 'train'))?.id).toBe(frozen.id)
    expect(await queue.list(projectId)).toHaveLength(2)
    expect(changes).toEqual([])
  })

  it('lists a project’s jobs newest first, up to the limit', async () => {
    const { queue, enqueue, projectId, addProject } = queueOnNewDatabase()
    const ids = [(await enqueue('a')).id, (await enqueue('b')).id, (await enqueue('c')).id]
    await enqueue('a', addProject('other'))
    expect((await queue.list(projectId)).map((job) => job.id)).toEqual([...ids].reverse())
    expect((await queue.list(projectId, { limit: 2 })).map((job) => job.id)).toEqual([
      ids[2],
      ids[1],
    ])
  })
})

describe('SqliteJobQueue lease', () => {
  it('leases the oldest ready job of the kinds asked for', async () => {
    const { queue, enqueue, addProject, clock } = queueOnNewDatabase()
    const evaluation = await enqueue('evaluate')
    const train = await enqueue('train')
    const later = await enqueue('train', addProject('tissue'))
    expect(await queue.lease('w1', [])).toBeNull()
    expect(await queue.lease('w1', ['export'])).toBeNull()
    clock.now += 5
    const leased = await queue.lease('w1', ['train'])
    expect(leased).toMatchObject({
      id: train.id,
      state: 'leased',
      attempt: 1,
      leaseHolder: 'w1',
      leaseExpiresAt: START + 5 + OPTIONS.leaseMs,
      startedAt: START + 5,
    })
    expect((await queue.lease('w2', ['evaluate', 'train']))?.id).toBe(evaluation.id)
    expect((await queue.lease('w3', ['evaluate', 'train']))?.id).toBe(later.id)
    expect(await queue.lease('w4', ['evaluate', 'train'])).toBeNull()
  })

  it('gives one job to one of many workers asking at once', async () => {
    const { queue, enqueue } = queueOnNewDatabase()
    const { id } = await enqueue()
    const leases = await Promise.all(
      Array.from({ length: 20 }, (_, i) => queue.lease(`w${i}`, ['train'])),
    )
    const winners = leases.filter((job) => job !== null)
    expect(winners.map((job) => job.id)).toEqual([id])
    expect((await queue.get(id))?.attempt).toBe(1)
  })

  it('gives one job to one of two queues sharing the database file', async () => {
    const { queue, enqueue, open } = queueOnNewDatabase()
    const other = open().queue
    const { id } = await enqueue()
    const [a, b] = await Promise.all([other.lease('w1', ['train']), queue.lease('w2', ['train'])])
    expect([a?.id, b?.id].filter(Boolean)).toEqual([id])
    expect(await queue.lease('w3', ['train'])).toBeNull()
    expect((await other.get(id))?.leaseHolder).toBe('w1')
  })
})

describe('SqliteJobQueue worker calls', () => {
  it('heartbeat runs the job, renews the lease, keeps the recent history and log lines', async () => {
    const { queue, id, clock, changes } = await leasedJob()
    clock.now += 20_000
    const first = await queue.heartbeat(id, 1, 'w1', {
      progress: PROGRESS,
      history: [{ step: 1, seconds: 1, loss: 0.9 }],
      log: ['epoch 1', 'loss 0.9\nlr 0.01'],
    })
    expect(first.cancel).toBe(false)
    expect(first.job).toMatchObject({
      state: 'running',
      progress: PROGRESS,
      leaseExpiresAt: clock.now + OPTIONS.leaseMs,
      logTail: 'epoch 1\nloss 0.9\nlr 0.01',
    })
    // The renewed lease outlives the first one.
    clock.now = START + OPTIONS.leaseMs + 1
    const history = Array.from({ length: MAX_HISTORY + 5 }, (_, i) => ({
      step: i + 2,
      seconds: i,
      loss: null,
    }))
    const log = Array.from({ length: MAX_LOG_LINES + 1 }, (_, i) => `line ${i}`)
    const { job } = await queue.heartbeat(id, 1, 'w1', { progress: PROGRESS, history, log })
    expect(job.history).toHaveLength(MAX_HISTORY)
    expect(job.history[0]?.step).toBe(7)
    expect(job.history.at(-1)?.step).toBe(MAX_HISTORY + 6)
    const lines = job.logTail.split('\n')
    expect(lines).toHaveLength(MAX_LOG_LINES)
    expect(lines[0]).toBe('line 1')
    expect(lines.at(-1)).toBe(`line ${MAX_LOG_LINES}`)
    expect(changes.map((change) => change.state)).toEqual(['running', 'running'])
  })

  it('refuses a worker call for another attempt, another holder, an expired lease or an idle job', async () => {
    const { queue, enqueue, id, clock, addProject } = await leasedJob()
    const beat = (attempt: number, holder: string) =>
      queue.heartbeat(id, attempt, holder, { progress: PROGRESS })
    await expect(beat(2, 'w1')).rejects.toBeInstanceOf(LeaseLost)
    await expect(beat(1, 'w2')).rejects.toBeInstanceOf(LeaseLost)
    await expect(queue.saveCheckpoint(id, 1, 'w2', 'ck')).rejects.toBeInstanceOf(LeaseLost)
    await expect(
      queue.addArtifact(id, 2, 'w1', 'model.onnx', { sha256: 'a', bytes: 1 }),
    ).rejects.toBeInstanceOf(LeaseLost)
    clock.now = START + OPTIONS.leaseMs - 1
    await expect(beat(1, 'w1')).resolves.toMatchObject({ cancel: false })
    clock.now += OPTIONS.leaseMs // exactly when the renewed lease ends
    await expect(beat(1, 'w1')).rejects.toBeInstanceOf(LeaseLost)
    await expect(queue.fail(id, 1, 'w1', 'late')).rejects.toBeInstanceOf(LeaseLost)
    expect((await queue.get(id))?.state).toBe('running')
    const queued = await enqueue('train', addProject('tissue'))
    await expect(
      queue.heartbeat(queued.id, 0, 'w1', { progress: PROGRESS }),
    ).rejects.toBeInstanceOf(LeaseLost)
    await expect(queue.saveCheckpoint(999, 1, 'w1', 'ck')).rejects.toBeInstanceOf(LeaseLost)
  })

  it('records artifacts of the attempt and a checkpoint that outlives it', async () => {
    const { queue, id, clock } = await leasedJob()
    await queue.addArtifact(id, 1, 'w1', 'model.onnx', { sha256: 'aa', bytes: 10 })
    await queue.addArtifact(id, 1, 'w1', 'model.onnx', { sha256: 'bb', bytes: 12 })
    const job = await queue.saveCheckpoint(id, 1, 'w1', 'blobs/ck1')
    expect(job.artifacts).toEqual({ 'model.onnx': { sha256: 'bb', bytes: 12, attempt: 1 } })
    expect(job.checkpointKey).toBe('blobs/ck1')
    await queue.fail(id, 1, 'w1', 'out of memory')
    clock.now += OPTIONS.backoffMs
    const second = await queue.lease('w2', ['train'])
    expect(second).toMatchObject({ attempt: 2, checkpointKey: 'blobs/ck1' })
    expect(second?.artifacts).toEqual({})
    expect(second?.startedAt).toBe(START)
  })
})

describe('SqliteJobQueue complete', () => {
  it('commits and succeeds once; a retried completion returns the job without committing again', async () => {
    const { db, queue, id, clock, changes } = await leasedJob()
    clock.now += 1_000
    const commits: Job[] = []
    const commit = (job: Job) => {
      commits.push(job)
      db.prepare(
        `INSERT INTO model_versions (project_id, name, state, card_json, files_json, job_id)
         VALUES (?, 'v1', 'candidate', '{}', '{}', ?)`,
      ).run(job.projectId, job.id)
    }
    const done = await queue.complete(id, 1, 'w1', { ap50: 0.7 }, commit, ['done'])
    expect(done.already).toBe(false)
    expect(done.job).toMatchObject({
      state: 'succeeded',
      result: { ap50: 0.7 },
      finishedAt: clock.now,
      leaseExpiresAt: null,
      logTail: 'done',
    })
    expect(commits.map((job) => job.id)).toEqual([id])
    expect(changes.map((job) => job.state)).toEqual(['succeeded'])
    const again = await queue.complete(id, 1, 'w1', { ap50: 0.7 }, commit)
    expect(again).toEqual({ job: done.job, already: true })
    expect(commits).toHaveLength(1)
    expect(changes).toHaveLength(1)
    await expect(queue.complete(id, 2, 'w1', {}, commit)).rejects.toBeInstanceOf(LeaseLost)
    await expect(queue.complete(id, 1, 'w9', {}, commit)).rejects.toBeInstanceOf(LeaseLost)
    expect(commits).toHaveLength(1)
  })

  it('changes nothing when commit throws, and the worker may complete again', async () => {
    const { db, queue, id, changes } = await leasedJob()
    const refused = queue.complete(id, 1, 'w1', {}, (job) => {
      db.prepare(
        `INSERT INTO model_versions (project_id, name, state, card_json, files_json, job_id)
         VALUES (?, 'v1', 'candidate', '{}', '{}', ?)`,
      ).run(job.projectId, job.id)
      throw new Error('model card invalid')
    })
    await expect(refused).rejects.toThrow('model card invalid')
    expect((await queue.get(id))?.state).toBe('leased')
    expect(db.prepare('SELECT count(*) AS n FROM model_versions').get()).toEqual({ n: 0 })
    expect(changes).toEqual([])
    await expect(queue.complete(id, 1, 'w1', {})).resolves.toMatchObject({ already: false })
  })

  it('refuses after the lease expired or a cancel was asked for', async () => {
    const expired = await leasedJob()
    expired.clock.now += OPTIONS.leaseMs
    await expect(expired.queue.complete(expired.id, 1, 'w1', {})).rejects.toBeInstanceOf(LeaseLost)
    const cancelled = await leasedJob()
    await cancelled.queue.cancel(cancelled.id)
    let committed = false
    const completing = cancelled.queue.complete(cancelled.id, 1, 'w1', {}, () => {
      committed = true
    })
    await expect(completing).rejects.toBeInstanceOf(LeaseLost)
    expect(committed).toBe(false)
  })
})

describe('SqliteJobQueue fail and expiry', () => {
  it('requeues a failed attempt with doubling backoff up to the cap, then fails for good', async () => {
    const { queue, id, clock } = await leasedJob(5)
    const waits: number[] = []
    for (let attempt = 1; attempt < 5; attempt++) {
      const job = await queue.fail(id, attempt, `w${attempt}`, `crash ${attempt}`, {
        log: [`attempt ${attempt}`],
      })
      expect(job).toMatchObject({ state: 'queued', leaseHolder: null, leaseExpiresAt: null })
      expect(job.error).toBe(`crash ${attempt}`)
      waits.push(job.notBefore - clock.now)
      clock.now = job.notBefore - 1
      expect(await queue.lease('early', ['train'])).toBeNull()
      clock.now += 1
      expect((await queue.lease(`w${attempt + 1}`, ['train']))?.attempt).toBe(attempt + 1)
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 5_000])
    const last = await queue.fail(id, 5, 'w5', 'crash 5')
    expect(last).toMatchObject({ state: 'failed', error: 'crash 5', finishedAt: clock.now })
    expect(last.logTail).toBe('attempt 1\nattempt 2\nattempt 3\nattempt 4')
  })

  it('fails for good when the worker says not to retry', async () => {
    const { queue, id } = await leasedJob()
    const job = await queue.fail(id, 1, 'w1', 'bad config', { retry: false, log: ['bad'] })
    expect(job).toMatchObject({ state: 'failed', error: 'bad config', logTail: 'bad' })
    expect(await queue.lease('w2', ['train'])).toBeNull()
  })

  it('requeues jobs whose lease expired and fails those out of attempts', async () => {
    const { queue, enqueue, addProject, id, clock, changes } = await leasedJob(2)
    const other = await enqueue('train', addProject('tissue'))
    await queue.lease('w2', ['train'])
    clock.now += 10_000
    await queue.heartbeat(other.id, 1, 'w2', { progress: PROGRESS })
    changes.length = 0
    clock.now = START + OPTIONS.leaseMs - 1
    expect(await queue.expireLeases()).toEqual([])
    clock.now += 1
    const expired = await queue.expireLeases()
    expect(expired.map((job) => job.id)).toEqual([id])
    expect(expired[0]).toMatchObject({
      state: 'queued',
      error: 'Lease expired (worker stopped answering)',
      notBefore: clock.now + OPTIONS.backoffMs,
      leaseHolder: null,
    })
    expect(changes).toEqual(expired)
    await expect(queue.heartbeat(id, 1, 'w1', { progress: PROGRESS })).rejects.toBeInstanceOf(
      LeaseLost,
    )
    clock.now += OPTIONS.backoffMs
    expect((await queue.lease('w3', ['train']))?.id).toBe(id)
    clock.now += OPTIONS.leaseMs
    const final = await queue.expireLeases()
    expect(final.map((job) => `${job.id} ${job.state}`)).toEqual([
      `${id} failed`,
      `${other.id} queued`,
    ])
    expect(final[0]?.finishedAt).toBe(clock.now)
  })
})

describe('SqliteJobQueue cancel', () => {
  it('cancels a queued job at once; a finished one is left as it is', async () => {
    const { queue, enqueue, changes } = queueOnNewDatabase()
    const { id } = await enqueue()
    const cancelled = await queue.cancel(id)
    expect(cancelled).toMatchObject({ state: 'cancelled', finishedAt: START })
    expect(await queue.lease('w1', ['train'])).toBeNull()
    changes.length = 0
    expect(await queue.cancel(id)).toEqual(cancelled)
    expect(changes).toEqual([])
    await expect(queue.cancel(id + 1)).rejects.toThrow(`No job ${id + 1}`)
  })

  it('asks a worker to stop at its next heartbeat; its failure then cancels the job', async () => {
    const { queue, id, changes } = await leasedJob()
    const asked = await queue.cancel(id)
    expect(asked).toMatchObject({ state: 'leased', cancelRequested: true })
    expect(await queue.cancel(id)).toEqual(asked)
    const beat = await queue.heartbeat(id, 1, 'w1', { progress: PROGRESS })
    expect(beat.cancel).toBe(true)
    const job = await queue.fail(id, 1, 'w1', 'Cancelled', { retry: true })
    expect(job).toMatchObject({ state: 'cancelled', error: 'Cancelled' })
    expect(await queue.lease('w2', ['train'])).toBeNull()
    expect(changes.map((change) => change.state)).toEqual(['leased', 'running', 'cancelled'])
  })

  it('cancels a job asked to stop whose worker never answers, never requeueing it', async () => {
    const { queue, id, clock } = await leasedJob()
    await queue.cancel(id)
    clock.now += OPTIONS.leaseMs
    const [job] = await queue.expireLeases()
    expect(job).toMatchObject({ id, state: 'cancelled', finishedAt: clock.now })
    clock.now += OPTIONS.maxBackoffMs
    expect(await queue.lease('w2', ['train'])).toBeNull()
  })
})

describe('SqliteJobQueue onChange', () => {
  it('tells listeners after the commit, survives a throwing one, and unsubscribes', async () => {
    const { db, open, projectId } = queueOnNewDatabase()
    const reader = open().db
    const errors: string[] = []
    const logger = { error: (message: string) => errors.push(message), info() {}, debug() {} }
    const queue = new SqliteJobQueue(db, { ...OPTIONS, now: () => START, logger })
    const seen: string[] = []
    queue.onChange(() => {
      throw new Error('listener bug')
    })
    const stop = queue.onChange((job) => {
      // Another connection sees the change already: the transaction has committed.
      const row = reader.prepare('SELECT state FROM jobs WHERE id = ?').get(job.id)
      seen.push(`${job.state} ${(row as { state: string }).state}`)
    })
    const { id } = await queue.enqueue({
      projectId,
      kind: 'train',
      payload: {},
      triggeredBy: null,
    })
    await queue.lease('w1', ['train'])
    expect(seen).toEqual(['queued queued', 'leased leased'])
    expect(errors).toEqual([
      `A job listener failed on job ${id}`,
      `A job listener failed on job ${id}`,
    ])
    stop()
    await queue.heartbeat(id, 1, 'w1', { progress: PROGRESS })
    expect(seen).toHaveLength(2)
  })
})
