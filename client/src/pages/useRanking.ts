// The project's ranking and claims while a page shows them: fetched on open, again when a new
// version arrives on the live channel (its scores come with it), and every few seconds for the
// claims that people's Next presses make.
import { useCallback, useEffect, useState } from 'react'
import type { ProjectRanking } from '../../../shared/schemas/activeLearning.ts'
import type { ProjectEvent } from '../../../shared/schemas/training.ts'
import { fetchRanking } from '../api/activeLearning.ts'
import { useProjectEvents } from '../api/projectEvents.ts'

export interface Ranking {
  data: ProjectRanking | null
  error: string | null
  reload(): void
}

export function useRanking(projectId: number, refreshMs = 10_000): Ranking {
  const [data, setData] = useState<ProjectRanking | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [fetches, setFetches] = useState(0)
  const reload = useCallback(() => setFetches((n) => n + 1), [])
  // biome-ignore lint/correctness/useExhaustiveDependencies: fetches triggers a refetch
  useEffect(() => {
    let current = true
    fetchRanking(projectId).then(
      (ranking) => {
        if (!current) return
        setData(ranking)
        setError(null)
      },
      (reason: Error) => current && setError(reason.message),
    )
    return () => {
      current = false
    }
  }, [projectId, fetches])
  useEffect(() => {
    const timer = setInterval(reload, refreshMs)
    return () => clearInterval(timer)
  }, [reload, refreshMs])
  const onEvent = useCallback(
    (event: ProjectEvent) => {
      if (event.type === 'model') reload()
    },
    [reload],
  )
  useProjectEvents(projectId, onEvent, reload)
  return { data, error, reload }
}
