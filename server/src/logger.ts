// A tiny leveled logger writing one line per event to stdout/stderr.
export type LogLevel = 'silent' | 'error' | 'info' | 'debug'

export interface Logger {
  error(message: string, error?: unknown): void
  info(message: string): void
  debug(message: string): void
}

const rank: Record<LogLevel, number> = { silent: 0, error: 1, info: 2, debug: 3 }

export function createLogger(level: LogLevel): Logger {
  const at = rank[level]
  const stamp = () => new Date().toISOString()
  return {
    error(message, error) {
      if (at >= rank.error) console.error(`${stamp()} ERROR ${message}`, error ?? '')
    },
    info(message) {
      if (at >= rank.info) console.log(`${stamp()} ${message}`)
    },
    debug(message) {
      if (at >= rank.debug) console.log(`${stamp()} DEBUG ${message}`)
    },
  }
}
