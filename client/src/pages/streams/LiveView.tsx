// The live view of one stream: the newest frame with its detections, its figures and Keep, the
// stream's counters and series, per-frame charts and the event log. Mount once per stream (key).
import { useMemo } from 'react'
import type { StreamInfo } from '../../../../shared/schemas/streams.ts'
import { EventLog } from './EventLog.tsx'
import { FrameCharts } from './FrameCharts.tsx'
import { FrameFigures } from './FrameFigures.tsx'
import { FramePicture } from './FramePicture.tsx'
import { frameKey } from './frameBuffer.ts'
import { KeepButton } from './KeepButton.tsx'
import { SeriesFacts, StreamCounters } from './StreamCounters.tsx'
import { useShownFrame } from './useShownFrame.ts'
import { useStreamLive } from './useStreamLive.ts'

export function LiveView({
  projectId,
  stream,
  canKeep,
}: {
  projectId: number
  stream: StreamInfo
  canKeep: boolean
}) {
  const live = useStreamLive(projectId, stream.id)
  const newest = live.frames.at(-1) ?? stream.latest
  const picture = useShownFrame(projectId, stream.id, newest)
  // The shown frame as the buffer has it now (Keep may have marked it since it was shown).
  const shownFrame = picture.shown
    ? (live.frames.find((f) => f.seq === picture.shown!.frame.seq) ?? picture.shown.frame)
    : null
  const keptImages = useMemo(() => {
    const kept = new Map<string, number>()
    for (const frame of live.frames)
      if (frame.keptImageId !== null)
        kept.set(frameKey(frame.seriesId, frame.frame), frame.keptImageId)
    return kept
  }, [live.frames])

  return (
    <section className="stack" data-testid="streams.live-view" data-stream-id={stream.id}>
      {live.error && (
        <p className="error" role="alert">
          {live.error}
        </p>
      )}
      <div className="stream-live">
        <FramePicture shown={picture.shown} hasFrames={newest !== null} error={picture.error} />
        <div className="stack stream-side">
          <StreamCounters stream={stream} />
          <SeriesFacts stream={stream} />
          {shownFrame && <FrameFigures projectId={projectId} frame={shownFrame} />}
          {canKeep && (
            <KeepButton
              projectId={projectId}
              streamId={stream.id}
              frame={shownFrame}
              onKept={live.markKept}
            />
          )}
        </div>
      </div>
      {live.frames.length > 0 && <FrameCharts frames={live.frames} />}
      <h3>Feedback events</h3>
      <EventLog projectId={projectId} events={live.events} keptImages={keptImages} />
    </section>
  )
}
