// Reads the files of a multipart/form-data request into memory with per-file byte limits,
// refusing oversize files with 413 as soon as the limit is crossed.

import busboy from 'busboy'
import type { Request } from 'express'
import { HttpError } from './HttpError.ts'

export interface MultipartFile {
  field: string
  name: string
  bytes: Uint8Array
}

export function readMultipartFiles(
  req: Request,
  limits: { maxFileBytes: number; maxFiles: number },
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
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('limit', () =>
        fail(
          new HttpError(
            413,
            `${info.filename} is larger than this server's limit of ${limits.maxFileBytes.toLocaleString('en')} bytes`,
          ),
        ),
      )
      stream.on('close', () => {
        if (!failed)
          files.push({ field, name: info.filename || 'unnamed', bytes: Buffer.concat(chunks) })
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
