// The import route: a multipart upload with the options (JSON) and one file (a ZIP, or a COCO or
// GeoJSON file), streamed to a temporary file and read in place; answers the dry run's or the
// commit's report. Annotators and above; only owners create classes.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import busboy from 'busboy'
import type { Request } from 'express'
import { z } from 'zod'
import { ImportOptions, ImportReport } from '../../../shared/schemas/datasets.ts'
import type { AppContext } from '../app.ts'
import type { CollabServer } from '../collab/collabServer.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import { HttpError } from '../http/HttpError.ts'
import { commitImport, planImport } from './datasetImport.ts'
import { openImportArchive } from './ImportArchive.ts'

const ProjectParams = z.object({ projectId: z.coerce.number().int().positive() })

interface ReceivedImport {
  options: ImportOptions
  file: string
  fileName: string
}

/** Streams the upload's file to `dir` (at most `maxBytes`); the options field must come first. */
function receiveImport(req: Request, dir: string, maxBytes: number): Promise<ReceivedImport> {
  const type = req.headers['content-type'] ?? ''
  if (!type.startsWith('multipart/form-data'))
    return Promise.reject(
      new HttpError(415, 'Send the import as multipart/form-data (fields "options" and "archive")'),
    )
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy
    try {
      parser = busboy({
        headers: req.headers,
        limits: { files: 1, fileSize: maxBytes, fieldSize: 1024 * 1024 },
      })
    } catch (error) {
      reject(new HttpError(400, `Malformed multipart request: ${(error as Error).message}`))
      return
    }
    let optionsText = '{}'
    let received: Promise<ReceivedImport> | null = null
    let failed = false
    const fail = (error: unknown) => {
      if (failed) return
      failed = true
      req.unpipe(parser)
      req.resume()
      reject(error)
    }
    parser.on('field', (name, value) => {
      if (name === 'options') optionsText = value
    })
    parser.on('file', (field, stream, info) => {
      if (field !== 'archive') {
        stream.resume()
        return
      }
      let options: ImportOptions
      try {
        const parsed = ImportOptions.safeParse(JSON.parse(optionsText))
        if (!parsed.success) {
          const issue = parsed.error.issues[0]
          throw new HttpError(400, `Invalid options.${issue?.path.join('.')}: ${issue?.message}`)
        }
        options = parsed.data
      } catch (error) {
        stream.resume()
        fail(
          error instanceof HttpError
            ? error
            : new HttpError(400, `The "options" field is not JSON: ${(error as Error).message}`),
        )
        return
      }
      const file = path.join(dir, `import-${randomBytes(8).toString('hex')}`)
      stream.on('limit', () =>
        fail(
          new HttpError(
            413,
            `${info.filename} is larger than this server's limit of ${maxBytes.toLocaleString('en')} bytes`,
          ),
        ),
      )
      received = pipeline(stream, fs.createWriteStream(file)).then(() => ({
        options,
        file,
        fileName: info.filename || 'upload',
      }))
      received.catch(() => fs.rmSync(file, { force: true }))
    })
    parser.on('error', (error: Error) =>
      fail(new HttpError(400, `Malformed multipart request: ${error.message}`)),
    )
    parser.on('close', () => {
      if (failed) {
        received?.then((r) => fs.rmSync(r.file, { force: true })).catch(() => undefined)
        return
      }
      if (!received) fail(new HttpError(400, 'No file in the import (field "archive")'))
      else received.then(resolve, fail)
    })
    req.pipe(parser)
  })
}

export function registerImportRoutes(
  api: ApiRouter,
  context: AppContext,
  collab: CollabServer,
): void {
  const tmp = path.join(context.config.dataDir, 'tmp')
  api.route({
    method: 'post',
    path: '/api/projects/:projectId/import',
    summary:
      'Import annotations (COCO, YOLO, Pascal VOC, label images, GeoJSON), with or without images: a dry run reports, a commit applies all or nothing',
    tag: 'datasets',
    auth: 'user',
    projectRole: 'annotator',
    params: ProjectParams,
    multipart: {
      fields: { options: 'JSON: ImportOptions', archive: 'a .zip, or a COCO or GeoJSON file' },
    },
    response: ImportReport,
    handler: async ({ params, req, role, principal }) => {
      fs.mkdirSync(tmp, { recursive: true })
      const upload = await receiveImport(req, tmp, context.config.maxUploadBytes)
      try {
        const archive = await openImportArchive(upload.file, upload.fileName)
        try {
          const plan = await planImport(context, params.projectId, role!, archive, upload.options)
          if (upload.options.dryRun) return plan.report
          return await commitImport(
            context,
            collab,
            params.projectId,
            principal!.userId,
            archive,
            plan,
            upload.options,
          )
        } finally {
          archive.close()
        }
      } finally {
        fs.rmSync(upload.file, { force: true })
      }
    },
  })
}
