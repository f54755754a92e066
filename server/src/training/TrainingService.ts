// The learning loop on the server (ARCHITECTURE decision 7): a Train request freezes the
// project's training set and queues a job; workers lease it over HTTP, report progress, upload
// the new version's files and complete; the completion registers the version (promoting it when
// it is not worse than the current one on the same validation images) and every open editor of
// the project hears of it on the live channel. The server never trains.
import type { IncomingMessage } from 'node:http'
import type { z } from 'zod'
import { type ModelCard, ModelCard as ModelCardSchema } from '../../../shared/schemas/modelCard.ts'
import {
  type ArtifactName,
  type CompleteBody,
  type HeartbeatBody,
  type LeasedJob,
  REQUIRED_ARTIFACTS,
  type TrainingConfig,
  TrainingConfig as TrainingConfigSchema,
  type TrainingJob,
  type TrainingSetSummary,
  type TrainingSettings,
  TrainingSettings as TrainingSettingsSchema,
} from '../../../shared/schemas/training.ts'
import type { AppContext } from '../app.ts'
import type { CollabServer } from '../collab/index.ts'
import { HttpError } from '../http/HttpError.ts'
import { type Job, JobConflict, type JobQueue, LeaseLost } from '../jobs/JobQueue.ts'
import type { ProjectEvents } from '../live/ProjectEvents.ts'
import type { ModelVersions } from '../models/ModelVersions.ts'
import type { WorkerPrincipal } from '../workers/workerTokens.ts'
import { freezeTrainingSet, jobBlobKeys, storeTrainingSet } from './trainingSet.ts'

export const TRAIN = 'train'

/** What a training job's row carries besides the queue's own columns. */
export interface TrainPayload {
  config: TrainingConfig
  base: { id: number; name: string }
}

/** What a completed job records; a retried complete answers from it. */
interface TrainResult {
  version: { id: number; name: string }
  timings: Record<string, number>
  metrics: z.infer<typeof CompleteBody>['metrics']
}

export interface TrainingServiceOptions {
  context: AppContext
  queue: JobQueue
  versions: ModelVersions
  collab: CollabServer
  events: ProjectEvents
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())
const LEASE_POLL_MS = 500

export class TrainingService {
  private readonly context: AppContext
  private readonly queue: JobQueue
  private readonly versions: ModelVersions
  private readonly waiters = new Set<() => void>()
  private readonly timers: NodeJS.Timeout[] = []
  private readonly stopListening: () => void
  private autoTriggerRunning = false

  constructor(private readonly options: TrainingServiceOptions) {
    this.context = options.context
    this.queue = options.queue
    this.versions = options.versions
    this.stopListening = this.queue.onChange((job) => {
      if (job.state === 'queued') for (const wake of this.waiters) wake()
      if (job.kind !== TRAIN) return
      try {
        options.events.publish(job.projectId, { type: 'job', job: this.toTrainingJob(job) })
      } catch (error) {
        this.context.log.error(`live channel: job ${job.id}: ${(error as Error).message}`)
      }
    })
  }

  /** Starts the lease-expiry sweep and the automatic trigger. */
  start(): void {
    const { config, log } = this.context
    const sweep = setInterval(() => {
      this.queue.expireLeases().then(
        (expired) => {
          for (const job of expired)
            log.info(`job ${job.id}: lease expired (attempt ${job.attempt}); now ${job.state}`)
        },
        (error) => log.error(`lease sweep: ${(error as Error).message}`),
      )
    }, 1_000)
    const trigger = setInterval(() => {
      this.autoTrigger().catch((error) => log.error(`auto-train: ${(error as Error).message}`))
    }, config.autoTrainCheckSeconds * 1_000)
    sweep.unref()
    trigger.unref()
    this.timers.push(sweep, trigger)
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer)
    this.stopListening()
    for (const wake of this.waiters) wake()
  }

  // ── The app's side ─────────────────────────────────────────────────────────────────────────

  async createJob(
    projectId: number,
    userId: number | null,
    request: { minutes?: number; maxSteps?: number },
  ): Promise<TrainingJob> {
    const { config, db, blobs } = this.context
    const active = await this.queue.active(projectId, TRAIN)
    if (active && active.state !== 'queued')
      throw new HttpError(409, `Job ${active.id} is training this project's model already`)
    const trainingConfig = TrainingConfigSchema.parse({
      minutes: request.minutes ?? config.trainingMinutes,
      maxSteps: request.maxSteps ?? config.trainingMaxSteps,
    })
    const base = this.versions.currentFor(projectId)
    const set = await freezeTrainingSet({ db, blobs, collab: this.options.collab }, projectId)
    if (set.items.length === 0)
      throw new HttpError(
        400,
        'Nothing to train on: mark images done (or reviewed) that hold polygons or masks',
      )
    try {
      const job = await this.queue.enqueue<TrainPayload>(
        {
          projectId,
          kind: TRAIN,
          payload: { config: trainingConfig, base: { id: base.id, name: base.name } },
          triggeredBy: userId,
          maxAttempts: config.jobMaxAttempts,
        },
        (jobId) => storeTrainingSet(db, jobId, set),
      )
      this.context.log.info(
        `job ${job.id}: queued for project ${projectId} (${set.summary.images} images, ${set.summary.objects} objects, from ${base.name})`,
      )
      return this.toTrainingJob(job)
    } catch (error) {
      if (error instanceof JobConflict) throw new HttpError(409, error.message)
      throw error
    }
  }

  async jobOf(projectId: number, jobId: number): Promise<Job> {
    const job = await this.queue.get(jobId)
    if (!job || job.projectId !== projectId || job.kind !== TRAIN)
      throw new HttpError(404, 'Job not found')
    return job
  }

  async list(projectId: number, limit = 20): Promise<TrainingJob[]> {
    const jobs = await this.queue.list(projectId, { limit })
    return jobs.filter((job) => job.kind === TRAIN).map((job) => this.toTrainingJob(job))
  }

  async cancel(projectId: number, jobId: number): Promise<TrainingJob> {
    await this.jobOf(projectId, jobId)
    return this.toTrainingJob(await this.queue.cancel(jobId))
  }

  settings(projectId: number): TrainingSettings {
    const row = this.context.db
      .prepare('SELECT settings_json FROM projects WHERE id = ?')
      .get(projectId) as { settings_json: string } | undefined
    if (!row) throw new HttpError(404, 'Project not found')
    const stored = JSON.parse(row.settings_json) as Partial<TrainingSettings>
    return TrainingSettingsSchema.parse({ autoTrainEvery: stored.autoTrainEvery ?? null })
  }

  saveSettings(projectId: number, settings: TrainingSettings): TrainingSettings {
    const { db } = this.context
    const row = db.prepare('SELECT settings_json FROM projects WHERE id = ?').get(projectId) as
      | { settings_json: string }
      | undefined
    if (!row) throw new HttpError(404, 'Project not found')
    const next = { ...JSON.parse(row.settings_json), ...settings }
    db.prepare('UPDATE projects SET settings_json = ? WHERE id = ?').run(
      JSON.stringify(next),
      projectId,
    )
    return this.settings(projectId)
  }

  /**
   * Queues a job for each project whose automatic trigger is due: at least `autoTrainEvery` done
   * or reviewed images that the latest job (queued, running or succeeded) did not train on, and
   * no job queued or running. Failed and cancelled jobs do not count, so a failure does not
   * silence the trigger; it waits for the next check.
   */
  async autoTrigger(): Promise<number[]> {
    if (this.autoTriggerRunning) return []
    this.autoTriggerRunning = true
    const queued: number[] = []
    try {
      const { db, log } = this.context
      const projects = db
        .prepare(
          "SELECT id, json_extract(settings_json, '$.autoTrainEvery') AS every FROM projects WHERE every IS NOT NULL",
        )
        .all() as { id: number; every: number }[]
      for (const { id, every } of projects) {
        if (await this.queue.active(id, TRAIN)) continue
        const latest = db
          .prepare(
            `SELECT t.items_json FROM jobs j JOIN training_sets t ON t.job_id = j.id
             WHERE j.project_id = ? AND j.kind = ? AND j.state = 'succeeded'
             ORDER BY j.id DESC LIMIT 1`,
          )
          .get(id, TRAIN) as { items_json: string } | undefined
        const trained = new Set(
          latest
            ? (JSON.parse(latest.items_json) as { imageId: number }[]).map((i) => i.imageId)
            : [],
        )
        const done = db
          .prepare("SELECT id FROM images WHERE project_id = ? AND status IN ('done', 'reviewed')")
          .all(id) as { id: number }[]
        const fresh = done.filter((image) => !trained.has(image.id)).length
        if (fresh < every) continue
        try {
          const job = await this.createJob(id, null, {})
          log.info(`job ${job.id}: queued automatically (${fresh} new done images ≥ ${every})`)
          queued.push(job.id)
        } catch (error) {
          log.info(`auto-train for project ${id} skipped: ${(error as Error).message}`)
        }
      }
    } finally {
      this.autoTriggerRunning = false
    }
    return queued
  }

  toTrainingJob(job: Job): TrainingJob {
    const { db } = this.context
    const payload = job.payload as TrainPayload
    const set = db.prepare('SELECT summary_json FROM training_sets WHERE job_id = ?').get(job.id) as
      | { summary_json: string }
      | undefined
    const summary: TrainingSetSummary = set
      ? JSON.parse(set.summary_json)
      : { images: 0, objects: 0, skipped: {}, suggestionsLeftOut: 0, hash: '' }
    const user =
      job.triggeredBy === null
        ? undefined
        : (db.prepare('SELECT id, username FROM users WHERE id = ?').get(job.triggeredBy) as
            | { id: number; username: string }
            | undefined)
    const result = job.result as TrainResult | null
    return {
      id: job.id,
      projectId: job.projectId,
      kind: 'train',
      state: job.state,
      attempt: job.attempt,
      maxAttempts: job.maxAttempts,
      config: payload.config,
      baseVersion: payload.base,
      trainingSet: summary,
      progress: job.progress,
      history: job.history,
      logTail: job.logTail,
      error: job.error,
      resultVersion: result?.version ?? null,
      timings: result?.timings ?? null,
      cancelRequested: job.cancelRequested,
      triggeredBy: user ? { userId: user.id, username: user.username } : null,
      createdAt: iso(job.createdAt) as string,
      startedAt: iso(job.startedAt),
      finishedAt: iso(job.finishedAt),
    }
  }

  // ── The worker's side ──────────────────────────────────────────────────────────────────────

  /** Long poll: the next ready job, leased to this worker, or null after `waitSeconds`. */
  async lease(
    worker: WorkerPrincipal,
    info: { name: string; device: string; host?: string },
    waitSeconds: number,
    req: IncomingMessage,
  ): Promise<LeasedJob | null> {
    const deadline = Date.now() + waitSeconds * 1_000
    let gone = false
    req.once('close', () => {
      gone = true
      for (const wake of this.waiters) wake()
    })
    for (;;) {
      if (gone) return null
      const job = await this.queue.lease(String(worker.tokenId), [TRAIN])
      if (job) {
        this.context.log.info(
          `job ${job.id}: leased by ${worker.name} / ${info.name} (${info.device}), attempt ${job.attempt}`,
        )
        try {
          return this.leasedJob(job)
        } catch (error) {
          // A job that cannot be described (its base version lost its weights) cannot run.
          await this.queue.fail(
            job.id,
            job.attempt,
            String(worker.tokenId),
            (error as Error).message,
            {
              retry: false,
            },
          )
          continue
        }
      }
      const left = deadline - Date.now()
      if (left <= 0) return null
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          this.waiters.delete(done)
          resolve()
        }
        const timer = setTimeout(done, Math.min(left, LEASE_POLL_MS * 4))
        this.waiters.add(done)
      })
    }
  }

  private leasedJob(job: Job): LeasedJob {
    const { config } = this.context
    const payload = job.payload as TrainPayload
    const base = this.versions.get(payload.base.id)
    const checkpoint = base?.files.checkpoint
    if (!base || !checkpoint)
      throw new Error(`Base version ${payload.base.name} has no PyTorch checkpoint to fine-tune`)
    const blobUrl = (sha256: string) => `/api/worker/jobs/${job.id}/blobs/${sha256}`
    return {
      id: job.id,
      projectId: job.projectId,
      attempt: job.attempt,
      leaseSeconds: config.jobLeaseSeconds,
      heartbeatSeconds: config.jobHeartbeatSeconds,
      config: payload.config,
      base: {
        id: base.id,
        name: base.name,
        card: base.card,
        checkpoint: { url: blobUrl(checkpoint.sha256), sha256: checkpoint.sha256 },
      },
      dataset: `/api/worker/jobs/${job.id}/dataset?cursor=0`,
      resume: job.checkpointKey
        ? { url: blobUrl(job.checkpointKey), sha256: job.checkpointKey }
        : null,
      resultName: this.versions.nextName(job.projectId),
    }
  }

  /** The job, if this worker's token holds its lease now; a 403 otherwise. */
  async held(worker: WorkerPrincipal, jobId: number): Promise<Job> {
    const job = await this.queue.get(jobId)
    const holds =
      job &&
      (job.state === 'leased' || job.state === 'running') &&
      job.leaseHolder === String(worker.tokenId)
    if (!job || !holds) throw new HttpError(403, `This worker does not hold job ${jobId}`)
    return job
  }

  /**
   * The job, if this worker's token holds the lease of `attempt` now. An attempt that has ended
   * (its lease expired, the job was cancelled, finished or leased again) is a 409 lease-lost, as
   * for heartbeats, so that the worker stops without storing anything; a job that another token
   * holds, or held last, is a 403. (A requeued job keeps no holder: any token naming one of its
   * past attempts hears 409.)
   */
  private async heldAttempt(worker: WorkerPrincipal, jobId: number, attempt: number) {
    const holder = String(worker.tokenId)
    const job = await this.queue.get(jobId)
    if (!job) throw new HttpError(403, `This worker does not hold job ${jobId}`)
    const held = job.state === 'leased' || job.state === 'running'
    const current = job.leaseExpiresAt !== null && job.leaseExpiresAt > Date.now()
    if (held && current && job.leaseHolder === holder && job.attempt === attempt) return job
    if (job.leaseHolder === holder || (job.leaseHolder === null && job.attempt > 0))
      throw new HttpError(
        409,
        `Attempt ${attempt} of job ${jobId} has ended`,
        undefined,
        'lease-lost',
      )
    throw new HttpError(403, `This worker does not hold job ${jobId}`)
  }

  /** Whether a blob may go to the worker holding the job: its training data, base weights or
   * its own checkpoint, and nothing else. */
  async blobKeysFor(job: Job): Promise<Set<string>> {
    const keys = jobBlobKeys(this.context.db, job.id)
    const base = this.versions.get((job.payload as TrainPayload).base.id)
    if (base?.files.checkpoint) keys.add(base.files.checkpoint.sha256)
    if (job.checkpointKey) keys.add(job.checkpointKey)
    return keys
  }

  async heartbeat(worker: WorkerPrincipal, jobId: number, body: z.infer<typeof HeartbeatBody>) {
    const { cancel } = await this.leaseCall(() =>
      this.queue.heartbeat(jobId, body.attempt, String(worker.tokenId), {
        progress: body.progress,
        history: body.history,
        log: body.log,
      }),
    )
    return { cancel, leaseSeconds: this.context.config.jobLeaseSeconds }
  }

  async putArtifact(
    worker: WorkerPrincipal,
    jobId: number,
    attempt: number,
    name: ArtifactName,
    bytes: Buffer,
  ) {
    await this.heldAttempt(worker, jobId, attempt)
    await this.versions.validateUpload(name, bytes, this.context.config.maxModelFileBytes)
    const sha256 = await this.context.blobs.put(bytes)
    await this.leaseCall(() =>
      this.queue.addArtifact(jobId, attempt, String(worker.tokenId), name, {
        sha256,
        bytes: bytes.length,
      }),
    )
    return { sha256, bytes: bytes.length }
  }

  async putCheckpoint(worker: WorkerPrincipal, jobId: number, attempt: number, bytes: Buffer) {
    await this.heldAttempt(worker, jobId, attempt)
    await this.versions.validateUpload('checkpoint', bytes, this.context.config.maxModelFileBytes)
    const key = await this.context.blobs.put(bytes)
    await this.leaseCall(() =>
      this.queue.saveCheckpoint(jobId, attempt, String(worker.tokenId), key),
    )
  }

  async complete(worker: WorkerPrincipal, jobId: number, body: z.infer<typeof CompleteBody>) {
    const holder = String(worker.tokenId)
    const before = await this.queue.get(jobId)
    if (!before) throw new HttpError(404, `No job ${jobId}`)
    if (before.state === 'succeeded' && before.attempt === body.attempt) {
      // A retried complete (the answer was lost): the same version, never a second one.
      if (before.leaseHolder !== null && before.leaseHolder !== holder)
        throw new HttpError(403, `This worker does not hold job ${jobId}`)
      return this.completion(before)
    }
    const job = await this.heldAttempt(worker, jobId, body.attempt)
    const files: Partial<Record<ArtifactName, { sha256: string; bytes: number }>> = {}
    for (const [name, file] of Object.entries(job.artifacts)) {
      if (file.attempt === body.attempt)
        files[name as ArtifactName] = { sha256: file.sha256, bytes: file.bytes }
    }
    const missing = REQUIRED_ARTIFACTS.filter((name) => !files[name])
    if (missing.length > 0)
      throw new HttpError(400, `Upload these files before completing: ${missing.join(', ')}`)
    const card = this.parseCard(await this.context.blobs.get(files.card!.sha256))
    await this.versions.validateVersionFiles(card, files)
    const payload = job.payload as TrainPayload
    const summary = this.toTrainingJob(job).trainingSet
    const timings = { ...body.timings, queueWait: this.queueWait(job) }
    // The version is filled in by the commit, inside the completion's transaction.
    const result: TrainResult = { version: { id: 0, name: '' }, timings, metrics: body.metrics }
    const { job: done } = await this.leaseCall(() =>
      this.queue.complete(
        jobId,
        body.attempt,
        holder,
        result,
        (current) => {
          const version = this.versions.createFromJob({
            projectId: current.projectId,
            name: card.version,
            parentId: payload.base.id,
            card,
            files,
            metrics: body.metrics,
            trainingSet: summary,
            jobId: current.id,
            triggeredBy: current.triggeredBy,
          })
          result.version = { id: version.id, name: version.name }
          if (this.versions.shouldAutoPromote(current.projectId, payload.base.id, body.metrics))
            this.versions.promote(current.projectId, version.id, 'automatic', null)
        },
        body.log,
      ),
    )
    this.context.log.info(
      `job ${jobId}: succeeded, version ${result.version.name} (${this.completion(done).promoted ? 'promoted' : 'candidate'})`,
    )
    return this.completion(done)
  }

  async fail(
    worker: WorkerPrincipal,
    jobId: number,
    body: { attempt: number; error: string; log: string[]; retry: boolean },
  ) {
    const job = await this.leaseCall(() =>
      this.queue.fail(jobId, body.attempt, String(worker.tokenId), body.error, {
        retry: body.retry,
        log: body.log,
      }),
    )
    this.context.log.info(
      `job ${jobId}: attempt ${body.attempt} failed (${body.error}); now ${job.state}`,
    )
  }

  private completion(job: Job) {
    const result = job.result as TrainResult
    const current = this.versions.currentFor(job.projectId)
    return { version: result.version, promoted: current.id === result.version.id }
  }

  private queueWait(job: Job): number {
    return job.startedAt === null ? 0 : Math.max(0, (job.startedAt - job.createdAt) / 1000)
  }

  private parseCard(bytes: Buffer): ModelCard {
    try {
      return ModelCardSchema.parse(JSON.parse(bytes.toString('utf8')))
    } catch (error) {
      throw new HttpError(
        400,
        `The uploaded card is not a valid model card: ${(error as Error).message}`,
      )
    }
  }

  /** Turns the queue's LeaseLost into the 409 a worker stops on. */
  private async leaseCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (error) {
      if (error instanceof LeaseLost)
        throw new HttpError(409, error.message, undefined, 'lease-lost')
      throw error
    }
  }
}
