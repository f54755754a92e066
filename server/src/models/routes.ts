// Routes of the models module: a project's current model version (card and file URLs) and the
// immutable files of a version, which the browser's segmentation worker loads.
import { z } from 'zod'
import { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import { HttpError } from '../http/HttpError.ts'
import type { ModelRegistry } from './modelRegistry.ts'

const tag = 'models'

export function registerModelRoutes(api: ApiRouter, registry: ModelRegistry): void {
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/model',
    summary: "The project's current model version: card and file URLs",
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: z.object({ projectId: z.coerce.number().int().positive() }),
    response: CurrentModel,
    handler: ({ params }) => {
      const current = registry.currentFor(params.projectId)
      if (!current) throw new HttpError(404, 'This server has no model version yet')
      const url = (file: string) => `/api/models/${encodeURIComponent(current.version)}/${file}`
      const hasParity = (() => {
        try {
          registry.filePath(current.version, 'parity')
          return true
        } catch {
          return false
        }
      })()
      return {
        version: current.version,
        card: current.card,
        files: {
          encoder: url('encoder'),
          decoder: url('decoder'),
          parity: hasParity ? url('parity') : null,
        },
      }
    },
  })

  api.route({
    method: 'get',
    path: '/api/models/:version/:file',
    summary: "A model version's file (encoder, decoder or parity); versions never change",
    tag,
    auth: 'user',
    params: z.object({ version: z.string(), file: z.string() }),
    response: { contentType: 'application/octet-stream', description: 'ONNX model or JSON' },
    handler: ({ params, res }) => {
      const found = registry.filePath(params.version, params.file)
      res.set({
        'Cache-Control': 'private, max-age=31536000, immutable',
        ...(found.sha256 ? { ETag: `"${found.sha256}"` } : {}),
      })
      return new Promise<void>((resolve, reject) => {
        res.sendFile(found.path, { dotfiles: 'deny' }, (error) =>
          error ? reject(error) : resolve(),
        )
      })
    },
  })
}
