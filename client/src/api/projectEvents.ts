// The project live channel (GET /api/projects/:id/events, server-sent events): one EventSource
// per project per tab, shared by every subscriber and closed with the last one. Messages are
// checked with the ProjectEvent schema; a malformed one is logged and dropped, never thrown.
import { useCallback, useEffect, useRef, useSyncExternalStore } from 'react'
import { ProjectEvent } from '../../../shared/schemas/training.ts'

export type ChannelState = 'connecting' | 'open' | 'closed'

export interface ProjectEventHandlers {
  onEvent(event: ProjectEvent): void
  /** The channel is open again after a break: events in between were missed, refetch. */
  onReconnect?(): void
}

/** After the server refused the stream (EventSource gives up on HTTP errors), try again. */
const RETRY_MS = [2_000, 5_000, 15_000, 30_000]

interface Channel {
  source: EventSource | null
  state: ChannelState
  /** Whether the channel has been open once: later opens are reconnections. */
  everOpen: boolean
  failures: number
  retry: ReturnType<typeof setTimeout> | null
  subscribers: Set<ProjectEventHandlers>
  stateListeners: Set<() => void>
}

const channels = new Map<number, Channel>()

/** Turns one message's data into an event, or null (with a warning) when it is not one. */
export function parseProjectEvent(data: string): ProjectEvent | null {
  let json: unknown
  try {
    json = JSON.parse(data)
  } catch {
    console.warn('Project events: a message that is not JSON was ignored', data.slice(0, 200))
    return null
  }
  const parsed = ProjectEvent.safeParse(json)
  if (!parsed.success) {
    console.warn('Project events: a malformed event was ignored', parsed.error.issues)
    return null
  }
  return parsed.data
}

function setState(channel: Channel, state: ChannelState) {
  if (channel.state === state) return
  channel.state = state
  for (const listener of channel.stateListeners) listener()
}

function connect(projectId: number, channel: Channel) {
  channel.retry = null
  const source = new EventSource(`/api/projects/${projectId}/events`)
  channel.source = source
  setState(channel, 'connecting')
  source.onopen = () => {
    const reconnected = channel.everOpen
    channel.everOpen = true
    channel.failures = 0
    setState(channel, 'open')
    if (reconnected) for (const s of [...channel.subscribers]) s.onReconnect?.()
  }
  source.onmessage = (message: MessageEvent<string>) => {
    const event = parseProjectEvent(message.data)
    if (!event) return
    for (const s of [...channel.subscribers]) {
      try {
        s.onEvent(event)
      } catch (error) {
        console.error('Project events: a subscriber failed', error)
      }
    }
  }
  source.onerror = () => {
    if (channel.source !== source) return // closed by us
    // While CONNECTING the browser retries by itself; CLOSED means it gave up (an HTTP error).
    if (source.readyState !== EventSource.CLOSED) {
      setState(channel, 'connecting')
      return
    }
    source.close()
    channel.source = null
    setState(channel, 'closed')
    const delay = RETRY_MS[Math.min(channel.failures, RETRY_MS.length - 1)]!
    channel.failures++
    channel.retry = setTimeout(() => connect(projectId, channel), delay)
  }
}

function channelOf(projectId: number): Channel {
  let channel = channels.get(projectId)
  if (!channel) {
    channel = {
      source: null,
      state: 'connecting',
      everOpen: false,
      failures: 0,
      retry: null,
      subscribers: new Set(),
      stateListeners: new Set(),
    }
    channels.set(projectId, channel)
    connect(projectId, channel)
  }
  return channel
}

function release(projectId: number, channel: Channel) {
  if (channel.subscribers.size > 0 || channel.stateListeners.size > 0) return
  channel.source?.close()
  channel.source = null
  if (channel.retry) clearTimeout(channel.retry)
  channels.delete(projectId)
}

/** Subscribes to a project's events; returns the unsubscribe function. */
export function subscribeProjectEvents(
  projectId: number,
  handlers: ProjectEventHandlers,
): () => void {
  const channel = channelOf(projectId)
  channel.subscribers.add(handlers)
  return () => {
    channel.subscribers.delete(handlers)
    release(projectId, channel)
  }
}

/**
 * Calls `onEvent` for each event of the project (and `onReconnect` after a break) while the
 * component is mounted; returns the channel's state. The handlers may change on every render.
 */
export function useProjectEvents(
  projectId: number,
  onEvent: (event: ProjectEvent) => void,
  onReconnect?: () => void,
): ChannelState {
  const latest = useRef({ onEvent, onReconnect })
  latest.current = { onEvent, onReconnect }
  useEffect(
    () =>
      subscribeProjectEvents(projectId, {
        onEvent: (event) => latest.current.onEvent(event),
        onReconnect: () => latest.current.onReconnect?.(),
      }),
    [projectId],
  )
  const subscribe = useCallback(
    (listener: () => void) => {
      const channel = channelOf(projectId)
      channel.stateListeners.add(listener)
      return () => {
        channel.stateListeners.delete(listener)
        release(projectId, channel)
      }
    },
    [projectId],
  )
  return useSyncExternalStore(subscribe, () => channels.get(projectId)?.state ?? 'connecting')
}
