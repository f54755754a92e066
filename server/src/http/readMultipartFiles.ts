// Reads the files of a multipart/form-data request into memory with byte limits per file and
// per request, refusing with 413 as soon as either is crossed (nothing more is buffered).

import { createHash } from 'node:crypto'
import busboy from 'busboy'
import type { Request } from 'express'
import { HttpError } from './HttpError.ts'

export interface MultipartFile {
  field: string
  name: string
  bytes: Uint8Array
  /** Hashed chunk by chunk as the file arrived, so a large file never blocks the event loop. */
  sha256: string
}

export function readMultipartFiles(
  req: Request,
  limits: { maxFileBytes: number; maxFiles: number; maxTotalBytes: number },
): Promise<MultipartFile[]> {
  const type = req.headers['content-type'] ?? ''
  if (!type.startsWith('multipart/form-data')) {
    return Promise.reject(new HttpError(415, 'Send the files as multipart/form-data'))
  }
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy
    try {
      parser = busboy({
        headers: req.headers,
        limits: { fileSize: limits.maxFileBytes, files: limits.maxFiles },
      })
    } catch (error) {
      reject(new HttpError(400, `Malformed multipart request: ${(error as Error).message}`))
      return
    }
    const files: MultipartFile[] = []
    let total = 0
    let failed = false
    const fail = (error: HttpError) => {
      if (failed) return
      failed = true
      req.unpipe(parser)
      req.resume() // drain the rest so the client gets our answer
      reject(error)
    }
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = []
      const hash = createHash('sha256')
      stream.on('data', (chunk: Buffer) => {
        if (failed) return
        total += chunk.length
        if (total > limits.maxTotalBytes) {
          fail(
            new HttpError(
              413,
              `${info.filename} takes this upload beyond this server's limit of ${limits.maxTotalBytes.toLocaleString('en')} bytes for all its files together; upload them in parts`,
            ),
          )
          stream.resume()
          return
        }
        chunks.push(chunk)
        hash.update(chunk)
      })
      stream.on('limit', () =>
        fail(
          new HttpError(
            413,
            `${info.filename} is larger than this server's limit of ${limits.maxFileBytes.toLocaleString('en')} bytes`,
          ),
        ),
      )
      stream.on('close', () => {
        if (!failed) {
          const name = info.filename || 'unnamed'
          files.push({ field, name, bytes: Buffer.concat(chunks), sha256: hash.digest('hex') })
        }
      })
    })
    parser.on('filesLimit', () =>
      fail(new HttpError(413, `At most ${limits.maxFiles} files per upload`)),
    )
    parser.on('error', (error: Error) =>
      fail(new HttpError(400, `Malformed multipart request: ${error.message}`)),
    )
    parser.on('close', () => {
      if (!failed) resolve(files)
    })
    req.pipe(parser)
  })
}
