// Routes of the collaboration module: presence per image for the project page.
import { z } from 'zod'
import { ProjectPresence } from '../../../shared/schemas/presence.ts'
import type { AppContext } from '../app.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import type { CollabServer } from './collabServer.ts'
import { presenceOf } from './extensions/Presence.ts'

export function registerCollabRoutes(
  api: ApiRouter,
  { db }: AppContext,
  collab: CollabServer,
): void {
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/presence',
    summary: 'Who is on which image of the project right now',
    tag: 'collaboration',
    auth: 'user',
    projectRole: 'viewer',
    params: z.object({ projectId: z.coerce.number().int().positive() }),
    response: ProjectPresence,
    handler: ({ params }) => {
      const ids = db
        .prepare('SELECT id FROM images WHERE project_id = ?')
        .pluck()
        .all(params.projectId) as number[]
      return { images: presenceOf(collab.loadedRooms(), new Set(ids)) }
    },
  })
}
