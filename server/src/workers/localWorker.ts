// Training worker processes started from Node: `npm start` runs one local CPU worker (the
// trainer's `python -m tessera_trainer work`) with a token made for it at each start, and tests
// and benchmarks start real workers the same way. A worker is an ordinary HTTP client of the
// server: it could as well run on a GPU machine or a Slurm node (README, deploy/slurm/).
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import type { Db } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import { createWorkerToken, revokeWorkerTokensNamed } from './workerTokens.ts'

export const TRAINER_DIR = path.resolve(import.meta.dirname, '../../../trainer')
const LOCAL_WORKER_TOKEN_NAME = 'local worker (npm start)'

export interface WorkerProcessOptions {
  serverUrl: string
  token: string
  python?: string
  device?: 'auto' | 'cpu' | 'cuda'
  /** Take one job, then exit. */
  once?: boolean
  name?: string
  /** Download cache (default: the trainer's). */
  cacheDir?: string
  /** Torch CPU threads. */
  threads?: number
  /** How often a running job uploads a resume checkpoint (the trainer's default: 30 s). */
  checkpointSeconds?: number
  onLine?: (line: string) => void
}

/** Starts `python -m tessera_trainer work` against the server; the token goes in the environment. */
export function spawnWorker(options: WorkerProcessOptions): ChildProcess {
  const args = ['-m', 'tessera_trainer']
  if (options.threads) args.push('--threads', String(options.threads))
  args.push('work', '--server', options.serverUrl, '--device', options.device ?? 'cpu')
  if (options.once) args.push('--once')
  if (options.name) args.push('--name', options.name)
  if (options.cacheDir) args.push('--cache', options.cacheDir)
  if (options.checkpointSeconds)
    args.push('--checkpoint-seconds', String(options.checkpointSeconds))
  const child = spawn(options.python ?? '/usr/bin/python3', args, {
    cwd: TRAINER_DIR,
    env: { ...process.env, TESSERA_WORKER_TOKEN: options.token, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue
    const lines = readline.createInterface({ input: stream })
    lines.on('line', (line) => options.onLine?.(line))
  }
  return child
}

export interface LocalWorker {
  stop(): Promise<void>
}

/**
 * Runs one local CPU worker for as long as the server runs, restarting it when it exits (at
 * most every 5 s; after 5 exits within a minute it stops trying and says why).
 */
export function startLocalWorker(options: {
  db: Db
  log: Logger
  serverUrl: string
  python: string
}): LocalWorker {
  const { db, log } = options
  // A fresh token each start; the previous start's token is revoked.
  revokeWorkerTokensNamed(db, LOCAL_WORKER_TOKEN_NAME)
  const { token } = createWorkerToken(db, LOCAL_WORKER_TOKEN_NAME, null)
  let child: ChildProcess | null = null
  let stopping = false
  const exits: number[] = []
  const start = () => {
    child = spawnWorker({
      serverUrl: options.serverUrl,
      token,
      python: options.python,
      device: 'cpu',
      name: 'local',
      onLine: (line) => log.info(`[worker] ${line}`),
    })
    child.on('error', (error) => log.error(`local worker: ${error.message}`))
    child.on('exit', (code, signal) => {
      child = null
      if (stopping) return
      const now = Date.now()
      exits.push(now)
      while (exits.length > 0 && exits[0] < now - 60_000) exits.shift()
      if (exits.length >= 5) {
        log.error(
          `local worker: exited ${exits.length} times within a minute (last: ${signal ?? `code ${code}`}); not restarting. Check that ${options.python} has PyTorch (see README).`,
        )
        return
      }
      log.info(`local worker exited (${signal ?? `code ${code}`}); restarting in 5 s`)
      setTimeout(() => {
        if (!stopping) start()
      }, 5_000).unref()
    })
  }
  start()
  log.info('local training worker started (TESSERA_LOCAL_WORKER=false turns it off)')
  return {
    async stop() {
      stopping = true
      const running = child
      if (!running || running.exitCode !== null) return
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()))
      running.kill('SIGTERM')
      const timer = setTimeout(() => running.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}
