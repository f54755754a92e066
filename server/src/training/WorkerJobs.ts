// The learning loop on the server, the workers' side (ARCHITECTURE decision 7): workers lease
// jobs (long poll), read the job's frozen training set, report progress, store checkpoints and
// the new version's files, and complete or fail. Every call names its attempt: a worker whose
// lease ended gets 409 lease-lost and stops. Completion is idempotent per job and attempt and
// registers the version, promoting it when it is not worse than the current one on the same
// validation images.
import type { ServerResponse } from 'node:http'
import type { z } from 'zod'
import {
  type ArtifactName,
  type CompleteBody,
  type HeartbeatBody,
  type LeasedJob,
  REQUIRED_ARTIFACTS,
} from '../../../shared/schemas/training.ts'
import type { AppContext } from '../app.ts'
import { HttpError } from '../http/HttpError.ts'
import { type Job, type JobQueue, LeaseLost } from '../jobs/JobQueue.ts'
import {
  hasScoringPool,
  isProjectSample,
  poolUrl,
  readActiveLearningSettings,
  readScoresFile,
  type StoredScores,
  storeVersionScores,
} from '../learning/index.ts'
import type { ModelVersions } from '../models/ModelVersions.ts'
import { parseModelCard } from '../models/modelVersionRow.ts'
import type { WorkerPrincipal } from '../workers/workerTokens.ts'
import { TRAIN, type TrainPayload, type TrainResult } from './TrainingService.ts'
import { jobBlobKeys, readTrainingSetSummary } from './trainingSet.ts'

const LEASE_POLL_MS = 500

export class WorkerJobs {
  private readonly waiters = new Set<() => void>()
  private readonly stopListening: () => void

  constructor(
    private readonly context: AppContext,
    private readonly queue: JobQueue,
    private readonly versions: ModelVersions,
  ) {
    // A job queued (or requeued) wakes the workers waiting in a long poll.
    this.stopListening = queue.onChange((job) => {
      if (job.state === 'queued') for (const wake of this.waiters) wake()
    })
  }

  stop(): void {
    this.stopListening()
    for (const wake of this.waiters) wake()
  }

  /** Long poll: the next ready job, leased to this worker, or null after `waitSeconds`. */
  async lease(
    worker: WorkerPrincipal,
    info: { name: string; device: string; host?: string },
    waitSeconds: number,
    res: ServerResponse,
  ): Promise<LeasedJob | null> {
    const deadline = Date.now() + waitSeconds * 1_000
    let gone = false
    // The response closes early only when the worker went away (a request's own 'close' fires
    // as soon as its body is read).
    res.once('close', () => {
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
      ...this.scoringOf(job),
    }
  }

  /** Active learning: what the worker scores with the new version, and by which strategy. */
  private scoringOf(job: Job): Pick<LeasedJob, 'pool' | 'scoring'> {
    const { db } = this.context
    if (!hasScoringPool(db, job.projectId)) return { pool: null, scoring: null }
    const { strategy } = readActiveLearningSettings(db, job.projectId)
    return { pool: poolUrl(job.id, 0), scoring: { strategy } }
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

  /** Whether the worker holding the job may read a blob: blobKeysFor's, or the raw samples of
   * an image of the job's project (the scoring pool, learning/scoringPool.ts). */
  async mayReadBlob(job: Job, sha256: string): Promise<boolean> {
    return (
      isProjectSample(this.context.db, job.projectId, sha256) ||
      (await this.blobKeysFor(job)).has(sha256)
    )
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
    const { maxModelFileBytes } = this.context.config
    // The scores are checked on completion, where a bad file costs the version its scores only.
    if (name === 'scores') {
      if (bytes.length > maxModelFileBytes)
        throw new HttpError(
          413,
          `The scores file is ${bytes.length} bytes; at most ${maxModelFileBytes}`,
        )
    } else await this.versions.validateUpload(name, bytes, maxModelFileBytes)
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
    const card = parseModelCard(
      (await this.context.blobs.get(files.card!.sha256)).toString('utf8'),
      'uploaded card',
    )
    // The scores file stays with the version's files; the card need not list it.
    const { scores: scoresFile, ...modelFiles } = files
    await this.versions.validateVersionFiles(card, 'scores' in card.files ? files : modelFiles)
    const scores = scoresFile
      ? await readScoresFile(this.context, `job ${jobId}`, scoresFile.sha256, card.version)
      : null
    let storedScores: StoredScores | null = null
    const payload = job.payload as TrainPayload
    const summary = readTrainingSetSummary(this.context.db, job.id)
    if (!summary) throw new HttpError(409, `Job ${jobId} has no training set`)
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
          if (scores)
            storedScores = storeVersionScores(this.context, {
              projectId: current.projectId,
              versionId: version.id,
              file: scores,
              scoredAt: Date.now(),
            })
          if (this.versions.shouldAutoPromote(current.projectId, payload.base.id, body.metrics))
            this.versions.promote(current.projectId, version.id, 'automatic', null)
        },
        body.log,
      ),
    )
    this.context.log.info(
      `job ${jobId}: succeeded, version ${result.version.name} (${this.completion(done).promoted ? 'promoted' : 'candidate'})`,
    )
    if (storedScores) {
      const { stored, ignored } = storedScores as StoredScores
      this.context.log.info(
        `job ${jobId}: ${stored} image scores stored for ${result.version.name}, ${ignored} of images the project does not have ignored`,
      )
    }
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
