// The project's streams: fetched on open (and after a break in the live channel), then kept
// current by the channel's stream events; actions put their answers in at once.
import { useCallback, useEffect, useState } from 'react'
import type { StreamInfo } from '../../../../shared/schemas/streams.ts'
import { useProjectEvents } from '../../api/projectEvents.ts'
import { fetchStreams } from '../../api/streams.ts'
import { applyStreamEvent } from './streamList.ts'

export function useStreams(projectId: number) {
  const [streams, setStreams] = useState<readonly StreamInfo[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [fetches, setFetches] = useState(0)

  // biome-ignore lint/correctness/useExhaustiveDependencies: fetches triggers a refetch
  useEffect(() => {
    let current = true
    fetchStreams(projectId).then(
      (list) => {
        if (!current) return
        setStreams(list)
        setError(null)
      },
      (reason: Error) => current && setError(reason.message),
    )
    return () => {
      current = false
    }
  }, [projectId, fetches])
  const reload = useCallback(() => setFetches((n) => n + 1), [])

  const live = useProjectEvents(
    projectId,
    (event) => setStreams((list) => (list ? applyStreamEvent(list, event) : list)),
    reload,
  )

  /** Puts a stream an action returned into the list (or removes it: null). */
  const put = useCallback((streamId: number, stream: StreamInfo | null) => {
    setStreams((list) => applyStreamEvent(list ?? [], { type: 'stream', streamId, stream }))
  }, [])

  return { streams, error, live, reload, put }
}
