// Instrument streams' calls: streams and their rules, recent frames and feedback events, Keep,
// instrument tokens, and the URLs of a frame's picture and of the ingest socket. Answers are
// parsed with the shared schemas here, at the edge.
import type { z } from 'zod'
import {
  CreatedInstrumentToken,
  EventList,
  InstrumentTokenList,
  KeptFrame,
  RecentFrames,
  type RuleInput,
  type SeriesId,
  StreamInfo,
  StreamList,
} from '../../../shared/schemas/streams.ts'
import { ApiError, api, parsed } from './apiClient.ts'

export type StreamInfoValue = z.infer<typeof StreamInfo>
export type KeptFrameValue = z.infer<typeof KeptFrame>
export type InstrumentToken = z.infer<typeof InstrumentTokenList>['tokens'][number]
export type CreatedInstrumentTokenValue = z.infer<typeof CreatedInstrumentToken>
export interface StreamChanges {
  name?: string
  backpressure?: string
  keepFlagged?: boolean
}

const streamsPath = (projectId: number) => `/api/projects/${projectId}/streams`
const streamPath = (projectId: number, streamId: number) => `${streamsPath(projectId)}/${streamId}`
const framePath = (projectId: number, streamId: number, seriesId: SeriesId, frame: number) =>
  `${streamPath(projectId, streamId)}/series/${encodeURIComponent(String(seriesId))}/frames/${frame}`

export const fetchStreams = async (projectId: number) =>
  parsed(StreamList, await api('GET', streamsPath(projectId)), 'stream list').streams

export const createStream = async (
  projectId: number,
  body: { name: string; backpressure: string; keepFlagged: boolean },
) => parsed(StreamInfo, await api('POST', streamsPath(projectId), body), 'stream')

export const updateStream = async (projectId: number, streamId: number, changes: StreamChanges) =>
  parsed(StreamInfo, await api('PATCH', streamPath(projectId, streamId), changes), 'stream')

export const deleteStream = (projectId: number, streamId: number) =>
  api<unknown>('DELETE', streamPath(projectId, streamId))

/** Replaces the stream's rules (a rule sent with a stored rule's id keeps it); returns the
 * stream with its rules as stored. */
export const replaceRules = async (
  projectId: number,
  streamId: number,
  rules: (RuleInput & { id?: number })[],
) =>
  parsed(
    StreamInfo,
    await api('PUT', `${streamPath(projectId, streamId)}/rules`, { rules }),
    'stream',
  )

/** The newest processed frames, oldest first. */
export const fetchRecentFrames = async (projectId: number, streamId: number, limit: number) =>
  parsed(
    RecentFrames,
    await api('GET', `${streamPath(projectId, streamId)}/frames?limit=${limit}`),
    'recent frames',
  ).frames

/** Recorded feedback events after the event id `after` (0: from the first), oldest first. */
export const fetchEvents = async (projectId: number, streamId: number, limit: number, after = 0) =>
  parsed(
    EventList,
    await api('GET', `${streamPath(projectId, streamId)}/events?after=${after}&limit=${limit}`),
    'events',
  ).events

/** The newest `count` recorded events (at most 1000), oldest first. */
export const fetchNewestEvents = async (projectId: number, streamId: number, count: number) =>
  parsed(
    EventList,
    await api('GET', `${streamPath(projectId, streamId)}/events?newest=true&limit=${count}`),
    'events',
  ).events

/** Stores a frame as an image of the project with its detections as suggestions. */
export const keepFrame = async (
  projectId: number,
  streamId: number,
  seriesId: SeriesId,
  frame: number,
) =>
  parsed(
    KeptFrame,
    await api('POST', `${framePath(projectId, streamId, seriesId, frame)}/keep`),
    'kept frame',
  )

/** The frame with its detections drawn, rendered by the server. */
export const frameImageUrl = (
  projectId: number,
  streamId: number,
  seriesId: SeriesId,
  frame: number,
) => `${framePath(projectId, streamId, seriesId, frame)}/image.png`

/** Where an instrument sends its frames (the token goes in the upgrade's Authorization). */
export const ingestUrl = (streamId: number | string, origin = window.location.origin) =>
  `${origin.replace(/^http/, 'ws')}/streams/${streamId}/ingest`

/** Where a script reads the stream's feedback events. */
export const subscriberUrl = (streamId: number, origin = window.location.origin) =>
  `${origin.replace(/^http/, 'ws')}/streams/${streamId}/events`

const tokensPath = (projectId: number) => `/api/projects/${projectId}/instrument-tokens`

export const fetchInstrumentTokens = async (projectId: number) =>
  parsed(InstrumentTokenList, await api('GET', tokensPath(projectId)), 'instrument tokens').tokens

/** A new token: its secret is in this answer only. */
export const createInstrumentToken = async (projectId: number, name: string) =>
  parsed(
    CreatedInstrumentToken,
    await api('POST', tokensPath(projectId), { name }),
    'instrument token',
  )

export const revokeInstrumentToken = (projectId: number, tokenId: number) =>
  api<unknown>('DELETE', `${tokensPath(projectId)}/${tokenId}`)

/** A frame's picture as an object URL (the caller revokes it), or the server's refusal. */
export async function fetchFrameImage(url: string, signal?: AbortSignal): Promise<string> {
  const response = await fetch(url, { credentials: 'same-origin', signal })
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`
    try {
      message = ((await response.json()) as { error?: string }).error ?? message
    } catch {
      // Not JSON: the status says it.
    }
    throw new ApiError(response.status, message)
  }
  return URL.createObjectURL(await response.blob())
}
