// The embedded JobQueue over the jobs table (migration 8). Every change is one IMMEDIATE SQLite
// transaction, so server processes sharing the database file never lease one job twice, and
// listeners hear of a change only once it is committed. A job whose cancel was requested never
// returns to the queue: whether its worker fails it or its lease expires, it ends 'cancelled'.
import type { Db } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import {
  type EnqueueInput,
  type HeartbeatInput,
  type Job,
  JobConflict,
  type JobListener,
  type JobQueue,
  LeaseLost,
  MAX_HISTORY,
  MAX_LOG_LINES,
  type QueueOptions,
} from './JobQueue.ts'

/** A row as COLUMNS names it: a Job whose JSON columns are still text. */
type JobRow = Omit<
  Job,
  'payload' | 'progress' | 'history' | 'artifacts' | 'result' | 'cancelRequested'
> & {
  payloadJson: string
  progressJson: string | null
  historyJson: string
  artifactsJson: string
  resultJson: string | null
  cancelRequested: number
}

// The columns under the names of Job's fields, so that reading a row only parses its JSON.
const COLUMNS = `id, project_id AS projectId, kind, state, payload_json AS payloadJson, attempt,
  max_attempts AS maxAttempts, not_before AS notBefore, lease_holder AS leaseHolder,
  lease_expires_at AS leaseExpiresAt, progress_json AS progressJson, history_json AS historyJson,
  log_tail AS logTail, checkpoint_key AS checkpointKey, artifacts_json AS artifactsJson,
  result_json AS resultJson, error, cancel_requested AS cancelRequested,
  triggered_by AS triggeredBy, created_at AS createdAt, updated_at AS updatedAt,
  started_at AS startedAt, finished_at AS finishedAt`

const ACTIVE = `state IN ('queued', 'leased', 'running')`
const HELD = `state IN ('leased', 'running')`
const EXPIRED_ERROR = 'Lease expired (worker stopped answering)'
const DEFAULT_LIST_LIMIT = 50

export interface SqliteJobQueueOptions extends QueueOptions {
  /** Told when an onChange listener throws (the change itself stands). */
  logger?: Logger
}

export class SqliteJobQueue implements JobQueue {
  private readonly listeners = new Set<JobListener>()
  private readonly now: () => number
  private readonly statements: ReturnType<typeof prepareStatements>

  constructor(
    private readonly db: Db,
    private readonly options: SqliteJobQueueOptions,
  ) {
    this.now = options.now ?? Date.now
    this.statements = prepareStatements(db)
  }

  async enqueue<P>(input: EnqueueInput<P>, beforeInsert?: (jobId: number) => void) {
    return this.write((now) => {
      const changed: JobRow[] = []
      const active = this.statements.active.get(input.projectId, input.kind) as JobRow | undefined
      if (active && active.state !== 'queued')
        throw new JobConflict(`Job ${active.id} is ${active.state}`, active.id)
      // The replaced job leaves the active states before the insert (jobs_one_active is unique);
      // its reason names the new job, so it is written once the new id is known.
      const replaced = active && { ...active, state: 'cancelled' as const, finishedAt: now }
      if (replaced) this.save({ ...replaced, updatedAt: now })
      const { lastInsertRowid } = this.statements.insert.run(
        input.projectId,
        input.kind,
        JSON.stringify(input.payload ?? null),
        input.maxAttempts ?? this.options.defaultMaxAttempts,
        input.triggeredBy,
        now,
        now,
      )
      const jobId = Number(lastInsertRowid)
      if (replaced)
        changed.push(this.save({ ...replaced, error: `Replaced by job ${jobId}`, updatedAt: now }))
      beforeInsert?.(jobId)
      const job = this.row(jobId)!
      changed.push(job)
      return { result: toJob(job) as Job<P>, changed }
    })
  }

  async lease(holder: string, kinds: string[]) {
    if (kinds.length === 0) return null
    return this.write((now) => {
      const row = this.statements.ready.get(now, JSON.stringify(kinds)) as JobRow | undefined
      if (!row) return { result: null, changed: [] }
      return this.change({
        ...row,
        state: 'leased',
        attempt: row.attempt + 1,
        leaseHolder: holder,
        leaseExpiresAt: now + this.options.leaseMs,
        // The files of an earlier attempt are not this attempt's; its checkpoint is kept.
        artifactsJson: '{}',
        startedAt: row.startedAt ?? now,
        updatedAt: now,
      })
    })
  }

  async heartbeat(jobId: number, attempt: number, holder: string, input: HeartbeatInput) {
    return this.write((now) => {
      const row = this.held(jobId, attempt, holder, now)
      const history = [...(JSON.parse(row.historyJson) as unknown[]), ...(input.history ?? [])]
      const job = this.save({
        ...row,
        state: 'running',
        leaseExpiresAt: now + this.options.leaseMs,
        progressJson: JSON.stringify(input.progress),
        historyJson: JSON.stringify(history.slice(-MAX_HISTORY)),
        logTail: appendLog(row.logTail, input.log),
        updatedAt: now,
      })
      return { result: { cancel: job.cancelRequested === 1, job: toJob(job) }, changed: [job] }
    })
  }

  async addArtifact(
    jobId: number,
    attempt: number,
    holder: string,
    name: string,
    file: { sha256: string; bytes: number },
  ) {
    return this.write((now) => {
      const row = this.held(jobId, attempt, holder, now)
      const artifacts = JSON.parse(row.artifactsJson) as Job['artifacts']
      artifacts[name] = { sha256: file.sha256, bytes: file.bytes, attempt }
      return this.change({ ...row, artifactsJson: JSON.stringify(artifacts), updatedAt: now })
    })
  }

  async saveCheckpoint(jobId: number, attempt: number, holder: string, key: string) {
    return this.write((now) => {
      const row = this.held(jobId, attempt, holder, now)
      return this.change({ ...row, checkpointKey: key, updatedAt: now })
    })
  }

  async complete<R>(
    jobId: number,
    attempt: number,
    holder: string,
    result: R,
    commit?: (job: Job) => void,
    log?: string[],
  ) {
    return this.write((now) => {
      const done = this.row(jobId)
      // A retried completion (its answer was lost): the holder stays on a finished job for this.
      if (done?.state === 'succeeded' && done.attempt === attempt && done.leaseHolder === holder)
        return { result: { job: toJob(done), already: true }, changed: [] }
      const row = this.held(jobId, attempt, holder, now)
      if (row.cancelRequested) throw new LeaseLost(`Job ${jobId} was cancelled`)
      commit?.(toJob(row))
      const job = this.save({
        ...row,
        state: 'succeeded',
        resultJson: JSON.stringify(result ?? null),
        logTail: appendLog(row.logTail, log),
        leaseExpiresAt: null,
        finishedAt: now,
        updatedAt: now,
      })
      return { result: { job: toJob(job), already: false }, changed: [job] }
    })
  }

  async fail(
    jobId: number,
    attempt: number,
    holder: string,
    error: string,
    options: { retry?: boolean; log?: string[] } = {},
  ) {
    return this.write((now) => {
      const row = this.held(jobId, attempt, holder, now)
      const logged = { ...row, logTail: appendLog(row.logTail, options.log) }
      return this.change(this.endAttempt(logged, error, options.retry !== false, now))
    })
  }

  async cancel(jobId: number) {
    return this.write((now) => {
      const row = this.row(jobId)
      if (!row) throw new Error(`No job ${jobId}`)
      if (row.state === 'queued')
        return this.change({ ...row, state: 'cancelled', finishedAt: now, updatedAt: now })
      if ((row.state === 'leased' || row.state === 'running') && !row.cancelRequested)
        return this.change({ ...row, cancelRequested: 1, updatedAt: now })
      return { result: toJob(row), changed: [] } // finished, or already asked to stop
    })
  }

  async get(jobId: number) {
    return toJobOrNull(this.row(jobId))
  }

  async list(projectId: number, options: { limit?: number } = {}) {
    const rows = this.statements.list.all(projectId, options.limit ?? DEFAULT_LIST_LIMIT)
    return (rows as JobRow[]).map(toJob)
  }

  async active(projectId: number, kind: string) {
    return toJobOrNull(this.statements.active.get(projectId, kind) as JobRow | undefined)
  }

  async expireLeases() {
    return this.write((now) => {
      const rows = this.statements.expired.all(now) as JobRow[]
      const changed = rows.map((row) => this.save(this.endAttempt(row, EXPIRED_ERROR, true, now)))
      return { result: changed.map(toJob), changed }
    })
  }

  onChange(listener: JobListener) {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** Runs `work` in one IMMEDIATE transaction (the write lock is taken before the first read, so
   * two processes cannot both see one job queued), then tells the listeners what it changed. */
  private write<T>(work: (now: number) => { result: T; changed: JobRow[] }): T {
    const { result, changed } = this.db.transaction(work).immediate(this.now())
    for (const row of changed) {
      const job = toJob(row)
      for (const listener of [...this.listeners]) {
        try {
          listener(job)
        } catch (error) {
          this.options.logger?.error(`A job listener failed on job ${job.id}`, error)
        }
      }
    }
    return result
  }

  private row(jobId: number) {
    return this.statements.byId.get(jobId) as JobRow | undefined
  }

  private save(row: JobRow) {
    this.statements.save.run(row)
    return row
  }

  /** Saves one changed job and makes it the result. */
  private change(row: JobRow) {
    return { result: toJob(this.save(row)), changed: [row] }
  }

  /** The job if `holder` holds its lease for `attempt` now; otherwise LeaseLost (also for a job
   * that no longer exists: its project was deleted, and the worker should just stop). */
  private held(jobId: number, attempt: number, holder: string, now: number): JobRow {
    const row = this.row(jobId)
    if (!row) throw new LeaseLost(`No job ${jobId}`)
    if (row.state !== 'leased' && row.state !== 'running')
      throw new LeaseLost(`Job ${jobId} is ${row.state}`)
    if (row.attempt !== attempt || row.leaseHolder !== holder)
      throw new LeaseLost(`Job ${jobId} attempt ${attempt} is not held by ${holder}`)
    if (row.leaseExpiresAt === null || row.leaseExpiresAt <= now)
      throw new LeaseLost(`The lease of job ${jobId} expired`)
    return row
  }

  /** How an attempt that did not succeed ends: cancelled if asked to stop, else requeued with
   * backoff while attempts remain, else failed. A requeued job is nobody's; a finished one keeps
   * the holder of its last attempt. */
  private endAttempt(row: JobRow, error: string, retry: boolean, now: number): JobRow {
    const ended = { ...row, error, leaseExpiresAt: null, updatedAt: now }
    if (row.cancelRequested) return { ...ended, state: 'cancelled', finishedAt: now }
    if (!retry || row.attempt >= row.maxAttempts)
      return { ...ended, state: 'failed', finishedAt: now }
    const { backoffMs, maxBackoffMs } = this.options
    const backoff = Math.min(backoffMs * 2 ** (row.attempt - 1), maxBackoffMs)
    return { ...ended, state: 'queued', leaseHolder: null, notBefore: now + backoff }
  }
}

function prepareStatements(db: Db) {
  return {
    byId: db.prepare(`SELECT ${COLUMNS} FROM jobs WHERE id = ?`),
    active: db.prepare(
      `SELECT ${COLUMNS} FROM jobs WHERE project_id = ? AND kind = ? AND ${ACTIVE}`,
    ),
    list: db.prepare(`SELECT ${COLUMNS} FROM jobs WHERE project_id = ? ORDER BY id DESC LIMIT ?`),
    // The kinds come as one JSON array so that a single prepared statement serves any list.
    ready: db.prepare(
      `SELECT ${COLUMNS} FROM jobs WHERE state = 'queued' AND not_before <= ?
         AND kind IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1`,
    ),
    expired: db.prepare(
      `SELECT ${COLUMNS} FROM jobs WHERE ${HELD} AND lease_expires_at <= ? ORDER BY id`,
    ),
    insert: db.prepare(
      `INSERT INTO jobs (project_id, kind, state, payload_json, max_attempts, triggered_by,
         created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)`,
    ),
    // Every change reads the row and writes back all its mutable columns, inside one transaction.
    save: db.prepare(
      `UPDATE jobs SET state = @state, attempt = @attempt, not_before = @notBefore,
         lease_holder = @leaseHolder, lease_expires_at = @leaseExpiresAt,
         progress_json = @progressJson, history_json = @historyJson, log_tail = @logTail,
         checkpoint_key = @checkpointKey, artifacts_json = @artifactsJson,
         result_json = @resultJson, error = @error, cancel_requested = @cancelRequested,
         updated_at = @updatedAt, started_at = @startedAt, finished_at = @finishedAt
       WHERE id = @id`,
    ),
  }
}

/** Appends log lines (a line with breaks counts as several) and keeps the last MAX_LOG_LINES. */
function appendLog(tail: string, lines: string[] | undefined): string {
  if (!lines?.length) return tail
  const all = [...(tail === '' ? [] : tail.split('\n')), ...lines.flatMap((l) => l.split(/\r?\n/))]
  return all.slice(-MAX_LOG_LINES).join('\n')
}

function toJobOrNull(row: JobRow | undefined) {
  return row ? toJob(row) : null
}

function parseOrNull(json: string | null) {
  return json === null ? null : JSON.parse(json)
}

function toJob(row: JobRow): Job {
  const { payloadJson, progressJson, historyJson, artifactsJson, resultJson, ...fields } = row
  return {
    ...fields,
    payload: JSON.parse(payloadJson),
    progress: parseOrNull(progressJson),
    history: JSON.parse(historyJson),
    artifacts: JSON.parse(artifactsJson),
    result: parseOrNull(resultJson),
    cancelRequested: row.cancelRequested === 1,
  }
}
