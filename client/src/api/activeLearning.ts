import {
  ActiveLearningSettings,
  NextImage,
  ProjectRanking,
} from '../../../shared/schemas/activeLearning.ts'
import { api, parsed } from './apiClient.ts'

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
