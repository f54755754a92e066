// The learning loop on the server, people's side (ARCHITECTURE decision 7): a Train request (or
// the automatic trigger) freezes the project's training set and queues a job; every change of a
// job goes out on the project's live channel; expired leases go back to the queue. Workers take
// it from there (WorkerJobs.ts). The server never trains.
import type { z } from 'zod'
import {
  type CompleteBody,
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
import { type Job, JobConflict, type JobQueue } from '../jobs/JobQueue.ts'
import type { ProjectEvents } from '../live/ProjectEvents.ts'
import type { ModelVersions } from '../models/ModelVersions.ts'
import {
  freezeTrainingSet,
  readTrainingSetSummary,
  storeTrainingSet,
  trainableImagesNotIn,
} from './trainingSet.ts'

export const TRAIN = 'train'

/** What a training job's row carries besides the queue's own columns. */
export interface TrainPayload {
  config: TrainingConfig
  base: { id: number; name: string }
}

/** What a completed job records; a retried complete answers from it. */
export interface TrainResult {
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

export class TrainingService {
  private readonly context: AppContext
  private readonly queue: JobQueue
  private readonly versions: ModelVersions
  private readonly timers: NodeJS.Timeout[] = []
  private readonly stopListening: () => void
  private autoTriggerRunning = false

  constructor(private readonly options: TrainingServiceOptions) {
    this.context = options.context
    this.queue = options.queue
    this.versions = options.versions
    this.stopListening = this.queue.onChange((job) => {
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
  }

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
            `SELECT id FROM jobs WHERE project_id = ? AND kind = ? AND state = 'succeeded'
             ORDER BY id DESC LIMIT 1`,
          )
          .pluck()
          .get(id, TRAIN) as number | undefined
        const fresh = trainableImagesNotIn(db, id, latest ?? null)
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
    const summary: TrainingSetSummary = readTrainingSetSummary(db, job.id) ?? {
      images: 0,
      objects: 0,
      skipped: {},
      suggestionsLeftOut: 0,
      hash: '',
    }
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
}
