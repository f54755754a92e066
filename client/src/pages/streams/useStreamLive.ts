// One stream's recent frames and feedback events for the live view: fetched when it opens (and
// after a break in the live channel), then grown by the channel's `stream-frames` and
// `stream-event` events. What arrives live while a fetch is under way is kept and merged in.
// Mount it once per stream (a `key`): it never carries one stream's frames over to another.
import { useCallback, useEffect, useRef, useState } from 'react'
import type { FeedbackEvent, FrameSummary } from '../../../../shared/schemas/streams.ts'
import type { ProjectEvent } from '../../../../shared/schemas/training.ts'
import { useProjectEvents } from '../../api/projectEvents.ts'
import { fetchNewestEvents, fetchRecentFrames } from '../../api/streams.ts'
import { EVENT_HISTORY, FRAME_HISTORY, mergeEvents, mergeFrames } from './frameBuffer.ts'

export function useStreamLive(projectId: number, streamId: number) {
  const [frames, setFrames] = useState<FrameSummary[]>([])
  const [events, setEvents] = useState<FeedbackEvent[]>([])
  const [loaded, setLoaded] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [fetches, setFetches] = useState(0)
  /** Live arrivals since the current fetch began (null when no fetch is under way). */
  const arrivals = useRef<{ frames: FrameSummary[]; events: FeedbackEvent[] } | null>(null)

  // biome-ignore lint/correctness/useExhaustiveDependencies: fetches triggers a refetch
  useEffect(() => {
    let current = true
    const during = { frames: [] as FrameSummary[], events: [] as FeedbackEvent[] }
    arrivals.current = during
    Promise.all([
      fetchRecentFrames(projectId, streamId, FRAME_HISTORY),
      fetchNewestEvents(projectId, streamId, EVENT_HISTORY),
    ]).then(
      ([fetchedFrames, fetchedEvents]) => {
        if (!current) return
        // The fetch replaces what was shown (the server may have restarted since).
        setFrames(mergeFrames(fetchedFrames, during.frames))
        setEvents(mergeEvents(mergeEvents([], fetchedEvents), during.events))
        setLoaded(true)
        setError(null)
        arrivals.current = null
      },
      (reason: Error) => {
        if (!current) return
        setError(reason.message)
        arrivals.current = null
      },
    )
    return () => {
      current = false
    }
  }, [projectId, streamId, fetches])

  const onEvent = useCallback(
    (event: ProjectEvent) => {
      if (event.type === 'stream-frames' && event.streamId === streamId) {
        arrivals.current?.frames.push(...event.frames)
        setFrames((list) => mergeFrames(list, event.frames))
      } else if (event.type === 'stream-event' && event.event.streamId === streamId) {
        arrivals.current?.events.push(event.event)
        setEvents((list) => mergeEvents(list, [event.event]))
      }
    },
    [streamId],
  )
  const reload = useCallback(() => setFetches((n) => n + 1), [])
  useProjectEvents(projectId, onEvent, reload)

  /** Marks a frame kept (Keep's answer), so figures and log say so before the server does. */
  const markKept = useCallback((frame: FrameSummary, imageId: number) => {
    setFrames((list) => mergeFrames(list, [{ ...frame, keptImageId: imageId }]))
  }, [])

  return { frames, events, loaded, error, reload, markKept }
}
