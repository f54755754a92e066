// Routes of the learning loop for people: what Train would train on, the automatic trigger,
// training jobs (create, list, follow, cancel) and the project live channel they report on.
import { z } from 'zod'
import {
  CreateTrainingJobBody,
  TrainingJob,
  TrainingJobList,
  TrainingPreview,
  TrainingSettings,
} from '../../../shared/schemas/training.ts'
import type { AppContext } from '../app.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import { HttpError } from '../http/HttpError.ts'
import type { ProjectEvents } from '../live/ProjectEvents.ts'
import type { ModelVersions } from '../models/ModelVersions.ts'
import type { TrainingService } from './TrainingService.ts'
import { trainingPreview } from './trainingSet.ts'

const Id = z.coerce.number().int().positive()
const ProjectParams = z.object({ projectId: Id })
const JobParams = z.object({ projectId: Id, jobId: Id })
const tag = 'training'

export function registerTrainingRoutes(
  api: ApiRouter,
  context: AppContext,
  training: TrainingService,
  versions: ModelVersions,
  events: ProjectEvents,
): void {
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/training',
    summary: 'What Train would train on now: done images, objects, new since the current version',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: TrainingPreview,
    handler: ({ params }) => {
      const current = versions.currentFor(params.projectId)
      return trainingPreview(context.db, params.projectId, current)
    },
  })
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/training/settings',
    summary: "The project's training settings (the automatic trigger)",
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: TrainingSettings,
    handler: ({ params }) => training.settings(params.projectId),
  })
  api.route({
    method: 'put',
    path: '/api/projects/:projectId/training/settings',
    summary: 'Change the training settings: train automatically every N newly done images',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams,
    body: TrainingSettings,
    response: TrainingSettings,
    handler: ({ params, body }) => training.saveSettings(params.projectId, body),
  })
  api.route({
    method: 'post',
    path: '/api/projects/:projectId/jobs',
    summary:
      "Train: freeze the done images' annotations and queue a fine-tuning job from the current version",
    tag,
    auth: 'user',
    projectRole: 'reviewer',
    params: ProjectParams,
    body: CreateTrainingJobBody,
    response: TrainingJob,
    status: 201,
    handler: ({ params, body, principal }) =>
      training.createJob(params.projectId, principal!.userId, body),
  })
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/jobs',
    summary: "The project's training jobs, newest first",
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(20) }),
    response: TrainingJobList,
    handler: async ({ params, query }) => ({
      jobs: await training.list(params.projectId, query.limit),
    }),
  })
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/jobs/:jobId',
    summary: 'One training job: state, progress, chart, log tail, result',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: JobParams,
    response: TrainingJob,
    handler: async ({ params }) =>
      training.toTrainingJob(await training.jobOf(params.projectId, params.jobId)),
  })
  api.route({
    method: 'post',
    path: '/api/projects/:projectId/jobs/:jobId/cancel',
    summary: 'Cancel a job: at once when queued, at its next heartbeat when running',
    tag,
    auth: 'user',
    projectRole: 'reviewer',
    params: JobParams,
    response: TrainingJob,
    handler: ({ params }) => training.cancel(params.projectId, params.jobId),
  })
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/events',
    summary:
      'The project live channel (server-sent events): training progress and model version changes',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: { contentType: 'text/event-stream', description: 'ProjectEvent JSON per message' },
    handler: ({ params, principal, req, res }) => {
      if (!principal) throw new HttpError(401, 'Log in first')
      events.subscribe(params.projectId, principal, req, res)
    },
  })
}
