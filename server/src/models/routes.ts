// Routes of the models module: a project's current model version (what its browsers load), its
// version list, promotion and rollback, and the immutable files of a version.
import { z } from 'zod'
import { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import { ARTIFACT_NAMES, ModelVersionList } from '../../../shared/schemas/training.ts'
import type { AppContext } from '../app.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import { sendBioimageioPackage } from './bioimageio/bioimageioPackage.ts'
import type { ModelVersions } from './ModelVersions.ts'

const tag = 'models'
const ProjectParams = z.object({ projectId: z.coerce.number().int().positive() })
const VersionParams = ProjectParams.extend({ versionId: z.coerce.number().int().positive() })
const CONTENT_TYPES: Record<string, string> = {
  encoder: 'application/octet-stream',
  decoder: 'application/octet-stream',
  checkpoint: 'application/octet-stream',
  parity: 'application/json',
  card: 'application/json',
}

export function registerModelRoutes(
  api: ApiRouter,
  context: AppContext,
  versions: ModelVersions,
): void {
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/model',
    summary: "The project's current model version: card and file URLs",
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: CurrentModel,
    handler: async ({ params }) => {
      await versions.whenRegistered()
      return versions.currentModel(params.projectId)
    },
  })

  api.route({
    method: 'get',
    path: '/api/projects/:projectId/models',
    summary: "The project's model versions and the shared base versions, newest first",
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: ModelVersionList,
    handler: async ({ params }) => {
      await versions.whenRegistered()
      return versions.list(params.projectId)
    },
  })

  api.route({
    method: 'get',
    path: '/api/projects/:projectId/models/:versionId/files/:file',
    summary: `A file of a model version (${ARTIFACT_NAMES.join(', ')}); versions never change`,
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: VersionParams.extend({ file: z.string() }),
    response: { contentType: 'application/octet-stream', description: 'ONNX model, JSON or .pt' },
    handler: async ({ params, res }) => {
      await versions.whenRegistered()
      const found = await versions.readFile(params.projectId, params.versionId, params.file)
      // attachment() names the download; the type is set after it, as it guesses from the name.
      res.attachment(found.fileName)
      res.type(CONTENT_TYPES[params.file] ?? 'application/octet-stream')
      res.set({
        'Cache-Control': 'private, max-age=31536000, immutable',
        ETag: `"${found.sha256}"`,
      })
      // send() answers 304 when If-None-Match carries the ETag.
      res.send(found.bytes)
    },
  })

  api.route({
    method: 'get',
    path: '/api/projects/:projectId/models/:versionId/bioimageio.zip',
    summary:
      'A model version as a bioimage.io model package (format 0.5.7): rdf.yaml, encoder, decoder, card, README, test tensors',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: VersionParams,
    response: { contentType: 'application/zip', description: 'bioimage.io model package' },
    handler: async ({ params, res }) => {
      await versions.whenRegistered()
      await sendBioimageioPackage(context, versions, params, res)
    },
  })

  api.route({
    method: 'post',
    path: '/api/projects/:projectId/models/:versionId/promote',
    summary: "Make a version the project's current model (editors switch to it)",
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: VersionParams,
    response: ModelVersionList,
    handler: async ({ params, principal }) => {
      await versions.whenRegistered()
      const version = versions.promote(
        params.projectId,
        params.versionId,
        'promoted',
        principal!.userId,
      )
      context.log.info(
        `project ${params.projectId}: model ${version.name} promoted by ${principal!.username}`,
      )
      return versions.list(params.projectId)
    },
  })

  api.route({
    method: 'post',
    path: '/api/projects/:projectId/models/rollback',
    summary: 'Go back to the model version that was current before the present one',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams,
    response: ModelVersionList,
    handler: async ({ params, principal }) => {
      await versions.whenRegistered()
      const version = versions.rollback(params.projectId, principal!.userId)
      context.log.info(
        `project ${params.projectId}: model rolled back to ${version.name} by ${principal!.username}`,
      )
      return versions.list(params.projectId)
    },
  })
}
