// A real training worker for the train and finetune benchmarks: `python -m tessera_trainer work`
// on the CPU with every core, joined by its own worker token and an empty download cache, and a
// wait for a job's end. It never trains in-process: what a user's worker does is what is timed.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnWorker } from '../server/src/workers/localWorker.ts'
import type { ApiClient } from '../server/test/harness.ts'
import { workerToken } from '../server/test/labelledProject.ts'
import { TrainingJob, WorkerTokenList } from '../shared/schemas/training.ts'

export interface CpuWorker {
  /** The worker's output so far (one JSON event a line), for error messages. */
  lines: string[]
  /** Resolves with the exit code once the worker has ended (it takes one job, then exits). */
  exited: Promise<number | null>
  stop(): Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const tail = (lines: string[]) => lines.slice(-20).join('\n')

/**
 * Starts one CPU worker (threads = all cores) that takes one job and exits, and resolves once it
 * is waiting for work: its token has called the server (the lease's long poll).
 */
export async function startCpuWorker(admin: ApiClient, name: string): Promise<CpuWorker> {
  const token = await workerToken(admin, name)
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-worker-'))
  const lines: string[] = []
  const child = spawnWorker({
    serverUrl: admin.baseUrl,
    token,
    once: true,
    name,
    device: 'cpu',
    threads: os.cpus().length,
    cacheDir,
    onLine: (line) => lines.push(line),
  })
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code
      fs.rmSync(cacheDir, { recursive: true, force: true })
      resolve(code)
    }),
  )
  const worker: CpuWorker = {
    lines,
    exited,
    async stop() {
      if (exitCode !== undefined) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
  const started = Date.now()
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`the worker exited (code ${exitCode}) before polling:\n${tail(lines)}`)
    const tokens = WorkerTokenList.parse(
      (await admin.request('GET', '/api/admin/worker-tokens')).body,
    )
    if (tokens.tokens.some((t) => t.name === name && t.lastUsedAt !== null)) return worker
    if (Date.now() - started > 120_000) {
      await worker.stop()
      throw new Error(`the worker did not poll for jobs within 120 s:\n${tail(lines)}`)
    }
    await sleep(200)
  }
}

/** Polls a job until it ends; throws with the job's error and the worker's output unless it
 * succeeded. */
export async function waitForJob(
  admin: ApiClient,
  projectId: number,
  jobId: number,
  worker: CpuWorker,
  timeoutMs: number,
): Promise<TrainingJob> {
  const started = Date.now()
  for (;;) {
    const job = TrainingJob.parse(
      (await admin.request('GET', `/api/projects/${projectId}/jobs/${jobId}`)).body,
    )
    if (job.state === 'succeeded') return job
    if (job.state === 'failed' || job.state === 'cancelled')
      throw new Error(`job ${jobId} ${job.state}: ${job.error}\n${tail(worker.lines)}`)
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `job ${jobId} still ${job.state} after ${timeoutMs / 1000} s:\n${tail(worker.lines)}`,
      )
    await sleep(250)
  }
}

/** The last optimiser step the job reported. */
export function stepsOf(job: TrainingJob): number {
  const last = job.history.at(-1)?.step ?? 0
  return Math.max(job.progress?.step ?? 0, last)
}
