import { describe, expect, it } from 'vitest'
import { HttpError } from '../http/HttpError.ts'
import { DecodeWorkers, type PageDecoder } from './DecodeWorkers.ts'

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

describe('DecodeWorkers', () => {
  it('runs one upload at a time, queues the next in order and refuses one too many with 503', async () => {
    const workers = new DecodeWorkers({ workers: 1, maxWaiting: 1 })
    const events: string[] = []
    const first = deferred()
    const decoders: PageDecoder[] = []
    const a = workers.run(async (decoder) => {
      decoders.push(decoder)
      events.push('a starts')
      await first.promise
      events.push('a ends')
    })
    const b = workers.run(async (decoder) => {
      decoders.push(decoder)
      events.push('b starts')
    })
    const c = workers.run(async () => {
      events.push('c starts')
    })
    const refused = await c.catch((error) => error)
    expect(refused).toBeInstanceOf(HttpError)
    expect(refused).toMatchObject({ status: 503, details: { retryAfterSeconds: 30 } })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(events).toEqual(['a starts'])
    first.resolve()
    await Promise.all([a, b])
    expect(events).toEqual(['a starts', 'a ends', 'b starts'])
    // The second upload reuses the first one's thread instead of starting another.
    expect(decoders[1]).toBe(decoders[0])
    await decoders[0].worker.terminate()
  })

  it('gives a task a fresh worker when the last one died', async () => {
    const workers = new DecodeWorkers({ workers: 1, maxWaiting: 0 })
    let first: PageDecoder | null = null
    await workers.run(async (decoder) => {
      first = decoder
      await decoder.worker.terminate()
    })
    const second = await workers.run(async (decoder) => {
      await expect(decoder.thumbnail()).rejects.toThrow(/no page decoded/)
      return decoder
    })
    expect(second).not.toBe(first)
    await second.worker.terminate()
  })
})
