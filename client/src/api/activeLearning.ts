// Active learning's calls: the project's ranking and claims, Next (claims the best-ranked free
// image for the caller), releasing a claim, and the project's settings. Answers are parsed with
// the shared schemas here, at the edge.
import type { z } from 'zod'
import {
  ActiveLearningSettings,
  NextImage,
  ProjectRanking,
} from '../../../shared/schemas/activeLearning.ts'
import { api } from './apiClient.ts'

function parsed<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  throw new Error(
    `The server's ${what} does not fit this app (${issue?.path.join('.')}: ${issue?.message})`,
  )
}

export const fetchRanking = async (projectId: number) =>
  parsed(ProjectRanking, await api('GET', `/api/projects/${projectId}/ranking`), 'ranking')

/** Claims the best-ranked image that is not done and not held by someone else. */
export const requestNextImage = async (projectId: number) =>
  parsed(NextImage, await api('POST', `/api/projects/${projectId}/next`), 'next image')

export const releaseClaim = (projectId: number, imageId: number) =>
  api<unknown>('POST', `/api/projects/${projectId}/images/${imageId}/release`)

export const activeLearningPath = (projectId: number) =>
  `/api/projects/${projectId}/active-learning`

export const fetchActiveLearningSettings = async (projectId: number) =>
  parsed(
    ActiveLearningSettings,
    await api('GET', activeLearningPath(projectId)),
    'active learning settings',
  )

export const saveActiveLearningSettings = async (
  projectId: number,
  settings: ActiveLearningSettings,
) =>
  parsed(
    ActiveLearningSettings,
    await api('PUT', activeLearningPath(projectId), settings),
    'active learning settings',
  )
