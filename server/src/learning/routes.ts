// Routes of active learning for people: the project's strategy and claim settings, the ranking
// the newest scores give its images, Next (claim the best-ranked free image) and releasing a
// claim early.
import { z } from 'zod'
import {
  ActiveLearningSettings,
  NextImage,
  ProjectRanking,
} from '../../../shared/schemas/activeLearning.ts'
import type { AppContext } from '../app.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import { readActiveLearningSettings, saveActiveLearningSettings } from './activeLearningSettings.ts'
import { claimNext, releaseClaim } from './claims.ts'
import { projectRanking } from './projectRanking.ts'

const Id = z.coerce.number().int().positive()
const ProjectParams = z.object({ projectId: Id })
const ImageParams = ProjectParams.extend({ imageId: Id })
const tag = 'active learning'

export function registerLearningRoutes(api: ApiRouter, context: AppContext): void {
  const { db } = context

  api.route({
    method: 'get',
    path: '/api/projects/:projectId/active-learning',
    summary: "The project's active-learning settings: strategy, claim minutes, pre-annotation",
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: ActiveLearningSettings,
    handler: ({ params }) => readActiveLearningSettings(db, params.projectId),
  })
  api.route({
    method: 'put',
    path: '/api/projects/:projectId/active-learning',
    summary: 'Change the active-learning settings (the next training job scores by the strategy)',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams,
    body: ActiveLearningSettings,
    response: ActiveLearningSettings,
    handler: ({ params, body }) => saveActiveLearningSettings(db, params.projectId, body),
  })
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/ranking',
    summary: "The newest scores of the project's images (rank 1 first) and who holds which image",
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: ProjectRanking,
    handler: ({ params }) => projectRanking(db, params.projectId, Date.now()),
  })
  api.route({
    method: 'post',
    path: '/api/projects/:projectId/next',
    summary:
      'Next: claim the best-ranked image nobody has finished or holds (your own claim again if you hold one)',
    tag,
    auth: 'user',
    projectRole: 'annotator',
    params: ProjectParams,
    response: NextImage,
    handler: ({ params, principal }) =>
      claimNext(db, {
        projectId: params.projectId,
        userId: principal!.userId,
        claimMinutes: readActiveLearningSettings(db, params.projectId).claimMinutes,
        now: Date.now(),
      }),
  })
  api.route({
    method: 'post',
    path: '/api/projects/:projectId/images/:imageId/release',
    summary: "Release a claim before its time (the holder's own, or anyone's for an owner)",
    tag,
    auth: 'user',
    projectRole: 'annotator',
    params: ImageParams,
    handler: ({ params, principal, role }) =>
      releaseClaim(
        db,
        {
          projectId: params.projectId,
          imageId: params.imageId,
          userId: principal!.userId,
          mayReleaseOthers: role === 'owner',
        },
        Date.now(),
      ),
  })
}
