// The project's active-learning settings (strategy, claim minutes, pre-annotation) as pages read
// and owners save them; parsed with the shared schema.
import { useCallback, useEffect, useState } from 'react'
import type { ActiveLearningSettings } from '../../../shared/schemas/activeLearning.ts'
import { fetchActiveLearningSettings, saveActiveLearningSettings } from '../api/activeLearning.ts'

export interface ActiveLearningSettingsResource {
  data: ActiveLearningSettings | null
  error: string | null
  save(settings: ActiveLearningSettings): Promise<void>
}

export function useActiveLearningSettings(projectId: number): ActiveLearningSettingsResource {
  const [data, setData] = useState<ActiveLearningSettings | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    let current = true
    fetchActiveLearningSettings(projectId).then(
      (settings) => current && setData(settings),
      (reason: Error) => current && setError(reason.message),
    )
    return () => {
      current = false
    }
  }, [projectId])
  const save = useCallback(
    async (settings: ActiveLearningSettings) => {
      setData(await saveActiveLearningSettings(projectId, settings))
      setError(null)
    },
    [projectId],
  )
  return { data, error, save }
}
