// The frame the live view shows: the newest one, its picture (detections drawn by the server)
// loaded a few times a second at most and swapped in only once decoded, so the picture never
// flickers or goes blank. The figures and Keep refer to this frame, not to a newer one whose
// picture has not arrived.
import { useEffect, useRef, useState } from 'react'
import type { FrameSummary } from '../../../../shared/schemas/streams.ts'
import { fetchFrameImage, frameImageUrl } from '../../api/streams.ts'
import { type LatestThrottle, latestThrottle } from './latestThrottle.ts'

/** At most this many pictures a second. */
export const PICTURES_PER_SECOND = 4

export interface ShownFrame {
  frame: FrameSummary
  /** Object URL of the decoded picture. */
  src: string
}

export function useShownFrame(projectId: number, streamId: number, newest: FrameSummary | null) {
  const [shown, setShown] = useState<ShownFrame | null>(null)
  const [error, setError] = useState<string | null>(null)
  const throttle = useRef<LatestThrottle<FrameSummary> | null>(null)

  useEffect(() => {
    let alive = true
    const controller = new AbortController()
    throttle.current = latestThrottle(1000 / PICTURES_PER_SECOND, async (frame: FrameSummary) => {
      let src: string | null = null
      try {
        src = await fetchFrameImage(
          frameImageUrl(projectId, streamId, frame.seriesId, frame.frame),
          controller.signal,
        )
        const picture = new Image()
        picture.src = src
        await picture.decode()
        if (!alive) return URL.revokeObjectURL(src)
        setShown({ frame, src })
        setError(null)
      } catch (reason) {
        if (src) URL.revokeObjectURL(src)
        if (alive) setError(`Frame ${frame.frame}: ${(reason as Error).message}`)
      }
    })
    return () => {
      alive = false
      controller.abort()
      throttle.current?.cancel()
      throttle.current = null
    }
  }, [projectId, streamId])

  // The picture shown before this one is released once the new one is on screen.
  useEffect(() => {
    if (!shown) return
    return () => URL.revokeObjectURL(shown.src)
  }, [shown])

  const newestSeq = newest?.seq
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new frame is a new seq
  useEffect(() => {
    if (newest) throttle.current?.push(newest)
  }, [newestSeq])

  return { shown, error }
}
