// The durable job queue (ARCHITECTURE decision 7), behind an interface narrow enough for a
// Redis-backed engine (BullMQ) to implement when several server processes share the work.
// SqliteJobQueue is the embedded default. Every method is async for that reason.
//
// States: queued → leased (a worker holds it) → running (its first heartbeat) → succeeded |
// failed | cancelled. A lease that is not renewed by a heartbeat before it expires puts the job
// back in the queue with a backoff, or fails it once it used its attempts. Each lease is one
// attempt; every call a worker makes names its attempt, and a call for an attempt that is not the
// job's current lease is refused (LeaseLost), so a worker whose lease expired can neither
// heartbeat nor complete. One job of a kind per project is queued or running at a time: a newer
// request replaces a queued one and is refused while one is leased or running.
import type { JobHistoryPoint, JobProgress, JobState } from '../../../shared/schemas/training.ts'

export interface Job<P = unknown> {
  id: number
  projectId: number
  kind: string
  state: JobState
  payload: P
  attempt: number
  maxAttempts: number
  /** Milliseconds since the epoch before which the job is not leased (backoff). */
  notBefore: number
  leaseHolder: string | null
  leaseExpiresAt: number | null
  progress: JobProgress | null
  /** Chart points, oldest first, capped (the queue keeps the most recent MAX_HISTORY). */
  history: JobHistoryPoint[]
  /** The last MAX_LOG_LINES log lines. */
  logTail: string
  /** Blob key of the newest checkpoint a worker uploaded (kept across attempts). */
  checkpointKey: string | null
  /** Files uploaded by the current attempt: name → blob key and size. */
  artifacts: Record<string, { sha256: string; bytes: number; attempt: number }>
  result: unknown | null
  error: string | null
  cancelRequested: boolean
  triggeredBy: number | null
  createdAt: number
  updatedAt: number
  startedAt: number | null
  finishedAt: number | null
}

export const MAX_HISTORY = 2000
export const MAX_LOG_LINES = 200

export class LeaseLost extends Error {
  override name = 'LeaseLost'
}

/** Refused because the project already has an active job of that kind (leased or running). */
export class JobConflict extends Error {
  override name = 'JobConflict'
  constructor(
    message: string,
    readonly activeJobId: number,
  ) {
    super(message)
  }
}

export interface EnqueueInput<P> {
  projectId: number
  kind: string
  payload: P
  triggeredBy: number | null
  maxAttempts?: number
}

export interface HeartbeatInput {
  progress: JobProgress
  history?: JobHistoryPoint[]
  log?: string[]
}

export interface QueueOptions {
  /** How long a lease lasts without a heartbeat. */
  leaseMs: number
  /** Backoff before attempt n+1: backoffMs × 2^(n−1), at most maxBackoffMs. */
  backoffMs: number
  maxBackoffMs: number
  defaultMaxAttempts: number
  now?: () => number
}

export type JobListener = (job: Job) => void

export interface JobQueue {
  /**
   * Adds a job. A queued job of the same project and kind is replaced (cancelled, with the
   * reason); a leased or running one makes this throw JobConflict. `beforeInsert` runs in the
   * same transaction as the insert with the new job's id (to freeze its training set).
   */
  enqueue<P>(input: EnqueueInput<P>, beforeInsert?: (jobId: number) => void): Promise<Job<P>>
  /** The oldest ready job of one of the kinds, leased to `holder` for leaseMs; null if none. */
  lease(holder: string, kinds: string[]): Promise<Job | null>
  /** Renews the lease and records progress; { cancel } tells the worker to stop. */
  heartbeat(
    jobId: number,
    attempt: number,
    holder: string,
    input: HeartbeatInput,
  ): Promise<{ cancel: boolean; job: Job }>
  /** Records an uploaded file of the current attempt. */
  addArtifact(
    jobId: number,
    attempt: number,
    holder: string,
    name: string,
    file: { sha256: string; bytes: number },
  ): Promise<Job>
  /** Records the blob key of a checkpoint to resume from (kept across attempts). */
  saveCheckpoint(jobId: number, attempt: number, holder: string, key: string): Promise<Job>
  /**
   * Marks the job succeeded with its result, running `commit` (which creates the version) in the
   * same transaction. Idempotent: completing an already succeeded job with the same attempt
   * returns it without running commit again ({ already: true }); any other attempt, an expired
   * lease or a cancelled job throws LeaseLost.
   */
  complete<R>(
    jobId: number,
    attempt: number,
    holder: string,
    result: R,
    commit?: (job: Job) => void,
    log?: string[],
  ): Promise<{ job: Job; already: boolean }>
  /** Fails the attempt: back to the queue with backoff, or failed for good (retry false or
   * attempts used up). Keeps the error and the log tail. */
  fail(
    jobId: number,
    attempt: number,
    holder: string,
    error: string,
    options?: { retry?: boolean; log?: string[] },
  ): Promise<Job>
  /** A queued job is cancelled at once; a leased or running one when its worker next hears. */
  cancel(jobId: number): Promise<Job>
  get(jobId: number): Promise<Job | null>
  list(projectId: number, options?: { limit?: number }): Promise<Job[]>
  /** The project's queued, leased or running job of the kind, if any. */
  active(projectId: number, kind: string): Promise<Job | null>
  /** Requeues (or fails) jobs whose lease expired; returns those it changed. */
  expireLeases(): Promise<Job[]>
  /** Called after every change of a job (for the live channel). Returns an unsubscribe. */
  onChange(listener: JobListener): () => void
}
