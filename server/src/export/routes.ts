// Routes of dataset export: the streamed archive and what it would hold. Any member of the project
// may export (a session or a personal API token); progress goes out on the project live channel.
import { z } from 'zod'
import { ExportFilterQuery, ExportPreview, ExportQuery } from '../../../shared/schemas/datasets.ts'
import type { AppContext } from '../app.ts'
import type { CollabServer } from '../collab/collabServer.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import type { ProjectEvents } from '../live/ProjectEvents.ts'
import { getProject } from '../projects/index.ts'
import { exportDataset, previewExport } from './datasetExport.ts'
import { ZipWriter } from './ZipWriter.ts'

const tag = 'datasets'
const ProjectParams = z.object({ projectId: z.coerce.number().int().positive() })
/** Progress events at most this often while an export streams. */
const PROGRESS_EVERY_MS = 250

/** A file name from a project name: letters, digits, '-' and '_'. */
export const archiveBaseName = (name: string) =>
  name.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'project'

export function registerExportRoutes(
  api: ApiRouter,
  context: AppContext,
  collab: CollabServer,
  events: ProjectEvents,
): void {
  const sources = { db: context.db, blobs: context.blobs, collab }

  api.route({
    method: 'get',
    path: '/api/projects/:projectId/export/preview',
    summary: 'How many images and annotations an export with these filters holds',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    query: ExportFilterQuery,
    response: ExportPreview,
    handler: ({ params, query }) => previewExport(sources, params.projectId, query),
  })

  api.route({
    method: 'get',
    path: '/api/projects/:projectId/export',
    summary:
      'The project as a dataset archive (COCO, YOLO, Pascal VOC, label images or GeoJSON), streamed as a ZIP',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    query: ExportQuery,
    response: { contentType: 'application/zip', description: 'The archive, with manifest.json' },
    handler: async ({ params, query, role, res, principal }) => {
      const project = getProject(context.db, params.projectId, role!)
      const started = Date.now()
      res.attachment(`${archiveBaseName(project.name)}-${query.format}.zip`)
      res.type('application/zip')
      res.set('Cache-Control', 'no-store')
      const zip = new ZipWriter(res)
      let last = 0
      const publish = (done: number, total: number, finished = false) => {
        if (!query.progress) return
        const now = Date.now()
        if (!finished && done !== 0 && done !== total && now - last < PROGRESS_EVERY_MS) return
        last = now
        events.publish(params.projectId, {
          type: 'export-progress',
          exportId: query.progress,
          done,
          total,
          finished,
        })
      }
      try {
        const manifest = await exportDataset(sources, project, query, zip, publish)
        await zip.end()
        publish(
          manifest.files.length * (query.images ? 2 : 1),
          manifest.files.length * (query.images ? 2 : 1),
          true,
        )
        context.log.info(
          `project ${project.id}: ${principal!.username} exported ${manifest.counts.annotations} annotations of ${manifest.counts.images} images as ${query.format} in ${Date.now() - started} ms`,
        )
      } catch (error) {
        // Headers are out: the only way left to say "failed" is to break the download.
        if (!zip.signal.aborted) context.log.error(`project ${project.id}: export failed`, error)
        res.destroy()
      }
    },
  })
}
