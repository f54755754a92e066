// The project's Streams tab: its instrument streams, the live view of the chosen one (every
// member), Keep (annotators and above), and for owners the streams' settings, rules and the
// project's instrument tokens. Live: the project channel's events update it; nothing polls.
import { useState } from 'react'
import type { ProjectRole } from '../../../../shared/schemas/projects.ts'
import type { ChannelState } from '../../api/projectEvents.ts'
import { createStream } from '../../api/streams.ts'
import { InstrumentTokensCard } from './InstrumentTokensCard.tsx'
import { LiveView } from './LiveView.tsx'
import { RulesEditor } from './RulesEditor.tsx'
import { StreamForm } from './StreamForm.tsx'
import { StreamPicker } from './StreamPicker.tsx'
import { StreamSettingsCard } from './StreamSettingsCard.tsx'
import { useStreams } from './useStreams.ts'

const LIVE_LABEL: Record<ChannelState, string> = {
  open: 'Live',
  connecting: 'Connecting…',
  closed: 'Offline: retrying…',
}

export function StreamsPanel({ projectId, role }: { projectId: number; role: ProjectRole }) {
  const { streams, error, live, put } = useStreams(projectId)
  const [chosenId, setChosenId] = useState<number | null>(null)
  /** Bumped after a stream is created: the form starts afresh. */
  const [created, setCreated] = useState(0)
  const isOwner = role === 'owner'
  const selected = streams?.find((s) => s.id === chosenId) ?? streams?.[0] ?? null

  return (
    <section className="stack streams" data-testid="streams.panel">
      <div className="training-header">
        <p className="muted">
          Frames from a running instrument, the project's current model on each, and the feedback
          its rules send back.
        </p>
        <span
          className={`live-dot live-${live}`}
          title="Frames, events and counters update as they arrive"
          data-testid="streams.live"
          data-state={live}
        >
          {LIVE_LABEL[live]}
        </span>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {streams && streams.length === 0 && (
        <p className="empty" data-testid="streams.empty">
          No streams yet.{isOwner ? ' Create one below, then give the instrument a token.' : ''}
        </p>
      )}
      {streams && streams.length > 0 && (
        <StreamPicker streams={streams} selectedId={selected?.id ?? null} onSelect={setChosenId} />
      )}
      {selected && (
        <>
          <h2 data-testid="streams.selected-name">{selected.name}</h2>
          <LiveView
            key={selected.id}
            projectId={projectId}
            stream={selected}
            canKeep={role !== 'viewer'}
          />
          <RulesEditor
            key={selected.id}
            projectId={projectId}
            streamId={selected.id}
            rules={selected.rules}
            canEdit={isOwner}
            onSaved={(stream) => put(stream.id, stream)}
          />
        </>
      )}
      {isOwner && (
        <div className="stream-cards">
          {selected && (
            <StreamSettingsCard
              key={selected.id}
              projectId={projectId}
              stream={selected}
              onChange={(stream) => put(selected.id, stream)}
            />
          )}
          <div className="card stream-card stack-tight" data-testid="streams.create-card">
            <h3>New stream</h3>
            <StreamForm
              key={created}
              initial={{ name: '', backpressure: 'latest', keepFlagged: false }}
              submitLabel="Create stream"
              testId="streams.create"
              onSubmit={async (settings) => {
                const stream = await createStream(projectId, settings)
                put(stream.id, stream)
                setChosenId(stream.id)
                setCreated((n) => n + 1)
              }}
            />
          </div>
          <InstrumentTokensCard
            projectId={projectId}
            streamId={selected?.id ?? null}
            connections={streams?.reduce((sum, stream) => sum + stream.connected, 0) ?? 0}
          />
        </div>
      )}
    </section>
  )
}
