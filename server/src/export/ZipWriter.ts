// A ZIP written as a stream (yazl): one entry at a time, each entry fed chunk by chunk with the
// destination's backpressure, so an export of any size holds about one chunk in memory and
// never the archive. Stops (and rejects every pending write) when the destination goes away.
import { once } from 'node:events'
import { PassThrough, type Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import yazl from 'yazl'

/** Writes a chunk of the current entry; resolves when the stream can take more. */
export type WriteChunk = (chunk: string | Uint8Array) => Promise<void>

export class ZipWriter {
  private readonly zip = new yazl.ZipFile()
  private readonly aborted = new AbortController()
  private readonly done: Promise<void>
  private readonly mtime = new Date()
  bytesIn = 0

  constructor(destination: Writable) {
    const output = this.zip.outputStream as unknown as NodeJS.ReadableStream
    output.pipe(destination)
    this.done = finished(destination)
    // An error or an early close of the destination (the client went away) stops the export.
    this.done.catch(() => undefined)
    destination.on('close', () => {
      if (!destination.writableFinished) this.aborted.abort(new Error('The download was closed'))
    })
    destination.on('error', (error) => this.aborted.abort(error))
  }

  get signal(): AbortSignal {
    return this.aborted.signal
  }

  /**
   * Adds one entry and feeds it through `write`; resolves when the archive has taken all of it.
   * `compress: false` stores it as it is (images that are compressed already).
   */
  async entry(
    path: string,
    write: (chunk: WriteChunk) => Promise<void>,
    options: { compress?: boolean } = {},
  ): Promise<void> {
    this.signal.throwIfAborted()
    const stream = new PassThrough({ highWaterMark: 1 << 20 })
    const consumed = once(stream, 'end', { signal: this.signal })
    // Awaited below; until then a rejection (the download closed) must not go unhandled.
    consumed.catch(() => undefined)
    const compress = options.compress ?? true
    this.zip.addReadStream(stream, path, {
      compress,
      compressionLevel: compress ? 6 : 0,
      mtime: this.mtime,
    })
    await write(async (chunk) => {
      this.signal.throwIfAborted()
      this.bytesIn += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength
      if (!stream.write(chunk)) await once(stream, 'drain', { signal: this.signal })
    })
    stream.end()
    await consumed
  }

  /** A whole small entry at once. */
  file(path: string, data: string | Uint8Array, options: { compress?: boolean } = {}) {
    return this.entry(path, (write) => write(data), options)
  }

  /** Writes the central directory and resolves when the destination has all of it. */
  async end(): Promise<void> {
    this.signal.throwIfAborted()
    this.zip.end()
    await this.done
  }
}
