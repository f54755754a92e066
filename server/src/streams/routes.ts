// The streams' REST API: instrument tokens (owner), streams and their rules (members read, the
// owner changes), recent frames, recorded events, a held frame's picture and Keep (annotators).
import { z } from 'zod'
import {
  CreatedInstrumentToken,
  CreateInstrumentToken,
  CreateStream,
  EventList,
  InstrumentTokenList,
  KeptFrame,
  RecentFrames,
  ReplaceRules,
  StreamInfo,
  StreamList,
  UpdateStream,
} from '../../../shared/schemas/streams.ts'
import { assignRuleIds } from '../../../shared/streams/rules.ts'
import type { AppContext } from '../app.ts'
import type { CollabServer } from '../collab/collabServer.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import { HttpError } from '../http/HttpError.ts'
import { renderFramePng } from './inference/renderFrame.ts'
import {
  createInstrumentToken,
  listInstrumentTokens,
  revokeInstrumentToken,
} from './instrumentTokens.ts'
import { keepFrame } from './keepFrame.ts'
import type { HeldFrame } from './liveStream.ts'
import type { StreamHub } from './StreamHub.ts'
import {
  createStream,
  deleteStream,
  keptImageOf,
  listEvents,
  listStreams,
  saveRules,
  streamOf,
  updateStream,
} from './streamRecords.ts'

const tag = 'streams'
const Id = z.coerce.number().int().positive()
const ProjectParams = z.object({ projectId: Id })
const StreamParams = ProjectParams.extend({ streamId: Id })
const FrameParams = StreamParams.extend({
  seriesId: z.string().min(1).max(100),
  frame: z.coerce.number().int().nonnegative(),
})
const base = '/api/projects/:projectId/streams'

export function registerStreamRoutes(
  api: ApiRouter,
  context: AppContext,
  collab: Pick<CollabServer, 'transact'>,
  hub: StreamHub,
): void {
  const { db } = context

  api.route({
    method: 'get',
    path: '/api/projects/:projectId/instrument-tokens',
    summary: "The project's instrument tokens (never the secrets)",
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams,
    response: InstrumentTokenList,
    handler: ({ params }) => ({ tokens: listInstrumentTokens(db, params.projectId) }),
  })
  api.route({
    method: 'post',
    path: '/api/projects/:projectId/instrument-tokens',
    summary: 'Create an instrument token for the stream sockets (the secret is shown once)',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams,
    body: CreateInstrumentToken,
    response: CreatedInstrumentToken,
    status: 201,
    handler: ({ params, body, principal }) =>
      createInstrumentToken(db, params.projectId, body.name, principal!.userId),
  })
  api.route({
    method: 'delete',
    path: '/api/projects/:projectId/instrument-tokens/:tokenId',
    summary: 'Revoke an instrument token (its open connections are closed)',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams.extend({ tokenId: Id }),
    handler: ({ params }) => {
      revokeInstrumentToken(db, params.projectId, params.tokenId)
      hub.tokenRevoked(params.tokenId)
    },
  })

  api.route({
    method: 'get',
    path: base,
    summary: "The project's instrument streams with their counters and latest frame",
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: StreamList,
    handler: ({ params }) => ({
      streams: listStreams(db, params.projectId).map((stream) => hub.info(stream)),
    }),
  })
  api.route({
    method: 'post',
    path: base,
    summary: 'Create an instrument stream',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams,
    body: CreateStream,
    response: StreamInfo,
    status: 201,
    handler: ({ params, body }) => {
      const stream = createStream(db, params.projectId, body)
      hub.streamChanged(stream.id)
      return hub.info(stream)
    },
  })
  api.route({
    method: 'get',
    path: `${base}/:streamId`,
    summary: 'One stream with its counters, series and latest frame',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: StreamParams,
    response: StreamInfo,
    handler: ({ params }) => hub.info(streamOf(db, params.projectId, params.streamId)),
  })
  api.route({
    method: 'patch',
    path: `${base}/:streamId`,
    summary: "Change a stream's name, drop policy or whether flagged frames are kept",
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: StreamParams,
    body: UpdateStream,
    response: StreamInfo,
    handler: ({ params, body }) => {
      const stream = updateStream(db, streamOf(db, params.projectId, params.streamId), body)
      hub.streamChanged(stream.id)
      return hub.info(stream)
    },
  })
  api.route({
    method: 'delete',
    path: `${base}/:streamId`,
    summary: 'Delete a stream, its events and its record of kept frames (the images stay)',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: StreamParams,
    handler: ({ params }) => {
      const stream = streamOf(db, params.projectId, params.streamId)
      deleteStream(db, stream.id)
      hub.streamDeleted(params.projectId, stream.id)
    },
  })
  api.route({
    method: 'put',
    path: `${base}/:streamId/rules`,
    summary:
      "Replace a stream's feedback rules (a rule sent with a current rule's id keeps it); the next frame uses them",
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: StreamParams,
    body: ReplaceRules,
    response: StreamInfo,
    handler: ({ params, body }) => {
      const stream = streamOf(db, params.projectId, params.streamId)
      const { rules, nextRuleId } = assignRuleIds(stream.rules, body.rules, stream.nextRuleId)
      saveRules(db, stream.id, rules, nextRuleId)
      hub.streamChanged(stream.id)
      return hub.info(streamOf(db, params.projectId, stream.id))
    },
  })
  api.route({
    method: 'get',
    path: `${base}/:streamId/frames`,
    summary: 'The newest processed frames (figures, no samples), oldest first',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: StreamParams,
    query: z.object({ limit: z.coerce.number().int().min(1).max(600).default(600) }),
    response: RecentFrames,
    handler: ({ params, query }) => {
      const stream = streamOf(db, params.projectId, params.streamId)
      return { frames: hub.recentFrames(stream.id, query.limit) }
    },
  })
  api.route({
    method: 'get',
    path: `${base}/:streamId/events`,
    summary:
      'Recorded feedback events, oldest first: the first `limit` after the id `after`, or with `newest=true` the newest `limit`',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: StreamParams,
    query: z.object({
      after: z.coerce.number().int().min(0).default(0),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      newest: z.enum(['true', 'false']).default('false'),
    }),
    response: EventList,
    handler: ({ params, query }) => {
      const stream = streamOf(db, params.projectId, params.streamId)
      return {
        events: listEvents(db, stream.id, query.after, query.limit, query.newest === 'true'),
      }
    },
  })

  const png = { contentType: 'image/png', description: 'The frame with its detections outlined' }
  const sendPng = async (frame: HeldFrame, res: import('express').Response) => {
    const bytes = await renderFramePng(
      {
        width: frame.summary.width,
        height: frame.summary.height,
        channels: frame.channels,
        samples: frame.samples,
      },
      frame.labels,
    )
    res.set('Cache-Control', 'no-store').type('image/png').send(bytes)
  }
  /** The held frame, or 410 when the stream saw it but no longer holds it, else 404. */
  const heldOr4xx = (streamId: number, seriesId: string, frame: number): HeldFrame => {
    const held = hub.heldFrame(streamId, seriesId, frame)
    if (held) return held
    if (hub.knewFrame(streamId, seriesId, frame))
      throw new HttpError(
        410,
        `Frame ${frame} of series ${seriesId} is no longer held in memory (only the newest frames are)`,
      )
    throw new HttpError(404, `No frame ${frame} of series ${seriesId} on this stream`)
  }
  api.route({
    method: 'get',
    path: `${base}/:streamId/frames/latest.png`,
    summary: 'The newest processed frame with its detections outlined (PNG)',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: StreamParams,
    response: png,
    handler: async ({ params, res }) => {
      const stream = streamOf(db, params.projectId, params.streamId)
      const held = hub.latestHeld(stream.id)
      if (!held) throw new HttpError(404, 'This stream has no processed frame yet')
      await sendPng(held, res)
    },
  })
  api.route({
    method: 'get',
    path: `${base}/:streamId/series/:seriesId/frames/:frame/image.png`,
    summary: 'A held frame with its detections outlined (PNG); 410 once no longer held',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: FrameParams,
    response: png,
    handler: async ({ params, res }) => {
      const stream = streamOf(db, params.projectId, params.streamId)
      await sendPng(heldOr4xx(stream.id, params.seriesId, params.frame), res)
    },
  })
  api.route({
    method: 'post',
    path: `${base}/:streamId/series/:seriesId/frames/:frame/keep`,
    summary:
      'Keep a frame: store it as an image of the project with its detections as suggestions (once per frame)',
    tag,
    auth: 'user',
    projectRole: 'annotator',
    params: FrameParams,
    response: KeptFrame,
    handler: async ({ params, principal }) => {
      const stream = streamOf(db, params.projectId, params.streamId)
      const kept = keptImageOf(db, stream.id, params.seriesId, params.frame)
      if (kept !== null) return { imageId: kept, created: false, suggestions: 0 }
      const held = heldOr4xx(stream.id, params.seriesId, params.frame)
      return keepFrame(context, collab, hub, stream, held, principal!.userId)
    },
  })
}
