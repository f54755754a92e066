// A training worker process (`python -m tessera_trainer work`) as tests see it: the JSON events
// it prints, waits for one of them, its exit; and bounded polling. Every wait has a time limit
// and says what it waited for, with the worker's last lines, when it runs out.
import type { ChildProcess } from 'node:child_process'
import { spawnWorker, type WorkerProcessOptions } from '../src/workers/localWorker.ts'

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `read` until `accept` holds for what it returns; throws after timeoutMs. */
export async function waitUntil<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs: number,
  what: string,
  intervalMs = 200,
): Promise<T> {
  const started = Date.now()
  for (;;) {
    const value = await read()
    if (accept(value)) return value
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(value)}`,
      )
    await sleep(intervalMs)
  }
}

export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)),
      timeoutMs,
    )
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export interface WorkerEvent {
  event: string
  [key: string]: unknown
}

/** A `python -m tessera_trainer work` process and the JSON events it printed. */
export class WorkerRun {
  readonly lines: string[] = []
  readonly events: WorkerEvent[] = []
  readonly child: ChildProcess
  /** Resolves once the process ended and its output was read. */
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  constructor(options: Omit<WorkerProcessOptions, 'onLine'>) {
    this.child = spawnWorker({
      ...options,
      onLine: (line) => {
        this.lines.push(line)
        try {
          const parsed = JSON.parse(line)
          if (parsed && typeof parsed.event === 'string') this.events.push(parsed)
        } catch {
          // Not an event (a Python warning, a traceback line).
        }
      },
    })
    this.ended = new Promise((resolve) =>
      this.child.once('close', (code, signal) => resolve({ code, signal })),
    )
  }

  tail(): string {
    return this.lines.slice(-30).join('\n')
  }

  /** The first event that `accept` takes; throws when the process ends first or time is up. */
  async waitFor(
    accept: (event: WorkerEvent) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<WorkerEvent> {
    const started = Date.now()
    let over = false
    this.ended.then(() => {
      over = true
    })
    for (;;) {
      const found = this.events.find(accept)
      if (found) return found
      if (over) throw new Error(`the worker ended before ${what}:\n${this.tail()}`)
      if (Date.now() - started > timeoutMs)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.tail()}`)
      await sleep(50)
    }
  }

  async exit(timeoutMs: number, what: string) {
    return within(this.ended, timeoutMs, `${what}\n${this.tail()}`)
  }

  async kill(signal: NodeJS.Signals) {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return within(this.ended, 10_000, `worker exit after ${signal}`)
  }
}
