// The project's current model version as open editors follow it: fetched once, replaced by the
// live channel's 'model' events (a promotion or a rollback), fetched again after a break.
import { useCallback, useEffect, useState } from 'react'
import { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import type { ProjectEvent } from '../../../shared/schemas/training.ts'
import { ApiError, api } from '../api/apiClient.ts'
import { useProjectEvents } from '../api/projectEvents.ts'

export type ProjectModel =
  | { state: 'loading' }
  | { state: 'ready'; model: CurrentModel }
  /** The server has no model version at all. */
  | { state: 'unavailable' }
  | { state: 'error'; error: string }

/** Two CurrentModels are the same version when they load the same files. */
export const modelKeyOf = (model: CurrentModel) =>
  `${model.version}|${model.files.encoder}|${model.files.decoder}`

export function useProjectModel(projectId: number): ProjectModel {
  const [model, setModel] = useState<ProjectModel>({ state: 'loading' })
  /** Takes a version, keeping the same object when it is the version already followed. */
  const follow = useCallback((next: CurrentModel) => {
    setModel((previous) =>
      previous.state === 'ready' && modelKeyOf(previous.model) === modelKeyOf(next)
        ? previous
        : { state: 'ready', model: next },
    )
  }, [])
  const [fetches, setFetches] = useState(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: fetches triggers a refetch
  useEffect(() => {
    let current = true
    api<unknown>('GET', `/api/projects/${projectId}/model`).then(
      (body) => {
        if (!current) return
        const parsed = CurrentModel.safeParse(body)
        if (parsed.success) follow(parsed.data)
        else {
          const issue = parsed.error.issues[0]
          setModel({
            state: 'error',
            error: `the server's model description does not fit this app (${issue?.path.join('.')}: ${issue?.message})`,
          })
        }
      },
      (error: unknown) => {
        if (!current) return
        if (error instanceof ApiError && error.status === 404) setModel({ state: 'unavailable' })
        // A failed refetch keeps the version in use; only a first fetch shows the error.
        else
          setModel((previous) =>
            previous.state === 'ready'
              ? previous
              : { state: 'error', error: error instanceof Error ? error.message : String(error) },
          )
      },
    )
    return () => {
      current = false
    }
  }, [projectId, fetches, follow])
  const onEvent = useCallback(
    (event: ProjectEvent) => {
      if (event.type === 'model') follow(event.current)
    },
    [follow],
  )
  useProjectEvents(projectId, onEvent, () => setFetches((n) => n + 1))
  return model
}
