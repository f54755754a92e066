// A stream's backpressure policy as the form edits it (a choice and a queue size) and as the API
// carries it ('latest' or 'queue:N').
import { Backpressure } from '../../../../shared/schemas/streams.ts'

export type BackpressureChoice = { policy: 'latest' } | { policy: 'queue'; size: number }

export const QUEUE_SIZE_MAX = 9999

/** The form's reading of a stored policy; an unreadable one reads as 'latest'. */
export function parseBackpressure(value: string): BackpressureChoice {
  const queue = value.match(/^queue:(\d+)$/)
  if (queue) return { policy: 'queue', size: Number(queue[1]) }
  return { policy: 'latest' }
}

/** The API's policy string for a choice, or an error message for a bad queue size. */
export function formatBackpressure(
  policy: 'latest' | 'queue',
  size: string,
): { value: string } | { error: string } {
  if (policy === 'latest') return { value: 'latest' }
  const n = Number(size)
  if (size.trim() === '' || !Number.isInteger(n) || n < 1 || n > QUEUE_SIZE_MAX)
    return { error: `The queue holds 1 to ${QUEUE_SIZE_MAX} frames` }
  const value = `queue:${n}`
  return Backpressure.safeParse(value).success ? { value } : { error: 'Not a policy' }
}

/** How a person reads a policy. */
export function describeBackpressure(value: string): string {
  const choice = parseBackpressure(value)
  return choice.policy === 'latest'
    ? 'newest frame only'
    : `queue of ${choice.size} (oldest dropped)`
}
