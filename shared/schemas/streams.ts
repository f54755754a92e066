// Live instrument streams' wire shapes (ARCHITECTURE decision 11). Three surfaces:
//
// 1. The instrument websocket, `ws://HOST/streams/:streamId/ingest`, authenticated with an
//    instrument token (`Authorization: Bearer tsi_…` on the upgrade; the token belongs to one
//    project and is good for the stream API only). Every message is one binary CBOR map, modelled
//    on DECTRIS Stream V2 / Jungfraujoch: `start` (a series' shape, dtype, channels, pixel size,
//    metadata), `image` (one frame: series id, frame number, acquisition time, samples), `end`.
//    The server answers on the same socket, also in CBOR: `ready`, `started`, `ended`, `error`
//    (a message the server refused; the connection stays open and other frames are unaffected)
//    and `event` (feedback).
// 2. The subscriber websocket, `ws://HOST/streams/:streamId/events`: JSON text messages
//    (`event` as above, `series` when a series starts or ends) for any script that should act on
//    feedback (a Micro-Manager or Bluesky script). Authenticated with an instrument token of the
//    project or a session of a project member.
// 3. The REST API under /api/projects/:projectId/streams (streams, rules, recent frames, events,
//    Keep) and /api/projects/:projectId/instrument-tokens, and the project live channel's
//    `stream-*` events (training.ts ProjectEvent).
import { z } from 'zod'

// ── Wire: instrument → server (CBOR maps) ───────────────────────────────────────────────────

export const StreamDtype = z.enum(['uint8', 'uint16', 'uint32', 'float32'])
export type StreamDtype = z.infer<typeof StreamDtype>
export const DTYPE_BYTES: Record<StreamDtype, number> = {
  uint8: 1,
  uint16: 2,
  uint32: 4,
  float32: 4,
}

/**
 * What the server does when frames arrive faster than the model runs: `latest` keeps only the
 * newest waiting frame (drops every older one); `queue:N` keeps at most N waiting frames and drops
 * the oldest. Either way memory stays bounded however fast frames come.
 */
export const Backpressure = z
  .string()
  .regex(/^(latest|queue:[1-9][0-9]{0,3})$/, 'backpressure is "latest" or "queue:N" (1 ≤ N ≤ 9999)')
export type Backpressure = z.infer<typeof Backpressure>

/** Series ids as Stream V2 sends them (an unsigned integer) or as text. */
export const SeriesId = z.union([
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  z.string().min(1).max(100),
])
export type SeriesId = z.infer<typeof SeriesId>

/** Stage position in micrometres (Micro-Manager's convention), of the frame's centre. */
export const StagePosition = z.object({
  x: z.number().finite(),
  y: z.number().finite(),
  z: z.number().finite().optional(),
})
export type StagePosition = z.infer<typeof StagePosition>

/** Free metadata: a JSON-like map of at most a few KiB (checked on its encoded size). */
export const StreamMetadata = z.record(z.string().max(200), z.unknown())

export const StartMessage = z.object({
  type: z.literal('start'),
  series_id: SeriesId,
  /** [height, width] of every frame, each 1..4096. */
  shape: z.tuple([z.number().int().min(1).max(4096), z.number().int().min(1).max(4096)]),
  dtype: StreamDtype,
  /** Samples per pixel, interleaved (height × width × channels). */
  channels: z.number().int().min(1).max(4),
  /** Size of one pixel in micrometres; needed to turn centroids into stage coordinates. */
  pixel_size: z.object({ x: z.number().positive(), y: z.number().positive() }).optional(),
  /** Overrides the stream's backpressure policy for this series. */
  backpressure: Backpressure.optional(),
  metadata: StreamMetadata.optional(),
})
export type StartMessage = z.infer<typeof StartMessage>

/**
 * One frame. `data` is a CBOR typed array (RFC 8746 tags 64–87, e.g. tag 69 for little-endian
 * uint16), a byte string read as little-endian samples of the series' dtype, or a tag-40
 * multi-dimensional array [[height, width(, channels)], typed array] as Stream V2 sends it. Its
 * length must be exactly height × width × channels samples.
 */
export const ImageMessage = z.object({
  type: z.literal('image'),
  series_id: SeriesId,
  /** The frame number within the series (Stream V2's image_id). */
  image_id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Acquisition time: seconds since the Unix epoch, or an ISO 8601 string. */
  acquired_at: z.union([z.number().finite(), z.string().max(40)]).optional(),
  /** Where the stage was (the frame's centre), in micrometres. */
  stage: StagePosition.optional(),
  metadata: StreamMetadata.optional(),
  data: z.unknown(),
})
export type ImageMessage = z.infer<typeof ImageMessage>

export const EndMessage = z.object({ type: z.literal('end'), series_id: SeriesId })
export type EndMessage = z.infer<typeof EndMessage>

// ── Results of one frame ─────────────────────────────────────────────────────────────────────

export const Point = z.object({ x: z.number(), y: z.number() })
export const Box = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() })

/** One detected object of a frame (the automatic head's proposal). */
export const FrameObject = z.object({
  /** 1..count within the frame. */
  id: z.number().int().positive(),
  /** Pixels. */
  area: z.number().int().nonnegative(),
  /** Mean foreground probability. */
  score: z.number(),
  /** Mean x and y of the object's pixels, in pixel coordinates (pixel centres at +0.5). */
  centroid: Point,
  bbox: Box,
  /** Mean raw sample value over the object, per channel. */
  meanIntensity: z.array(z.number()),
})
export type FrameObject = z.infer<typeof FrameObject>

export const FrameKey = z.object({
  streamId: z.number().int(),
  seriesId: SeriesId,
  /** image_id of the frame. */
  frame: z.number().int().nonnegative(),
})
export type FrameKey = z.infer<typeof FrameKey>

/** Per-frame figures without the objects (what charts and the live channel carry). */
export const FrameSummary = FrameKey.extend({
  /** Stream-local arrival order, 1, 2, … over all series of the stream since the server started. */
  seq: z.number().int().positive(),
  width: z.number().int(),
  height: z.number().int(),
  /** ISO times: when the instrument acquired it (if it said), when it arrived, when its result
   * was ready. */
  acquiredAt: z.string().nullable(),
  receivedAt: z.string(),
  processedAt: z.string(),
  /** Arrival → result, and of that the model alone (worker thread). */
  latencyMs: z.number(),
  inferenceMs: z.number(),
  modelVersion: z.object({ id: z.number().int(), name: z.string() }),
  count: z.number().int().nonnegative(),
  /** 0 when there are no objects. */
  meanArea: z.number(),
  meanScore: z.number(),
  /** Actions of the rules that fired on this frame, in rule order. */
  actions: z.array(z.enum(['flag', 'acquire', 'stop'])),
  /** Whether the frame was stored as an image, and its id. */
  keptImageId: z.number().int().nullable(),
})
export type FrameSummary = z.infer<typeof FrameSummary>

export const FrameResult = FrameSummary.extend({ objects: z.array(FrameObject) })
export type FrameResult = z.infer<typeof FrameResult>

// ── Feedback rules ───────────────────────────────────────────────────────────────────────────

/**
 * Object metrics hold for a frame when any object satisfies them (those objects are the rule's
 * targets); frame metrics are over the whole frame (every object is a target).
 */
export const OBJECT_METRICS = ['object_area', 'object_score', 'object_intensity'] as const
export const FRAME_METRICS = ['count', 'mean_area', 'mean_score'] as const
export const RuleMetric = z.enum([...OBJECT_METRICS, ...FRAME_METRICS])
export type RuleMetric = z.infer<typeof RuleMetric>
export const RuleOp = z.enum(['>=', '>', '<=', '<'])
export type RuleOp = z.infer<typeof RuleOp>

export const RuleCondition = z.object({
  metric: RuleMetric,
  op: RuleOp,
  value: z.number().finite(),
  /** object_intensity only: which channel (0-based). */
  channel: z.number().int().min(0).max(3).optional(),
})
export type RuleCondition = z.infer<typeof RuleCondition>

/** flag: mark the frame (and keep it when the stream says so); acquire: ask the instrument to
 * image the targets' centroids; stop: ask it to stop the series. */
export const RuleAction = z.enum(['flag', 'acquire', 'stop'])
export type RuleAction = z.infer<typeof RuleAction>

export const RuleInput = z.object({
  name: z.string().trim().min(1).max(100),
  enabled: z.boolean().default(true),
  condition: RuleCondition,
  action: RuleAction,
})
export type RuleInput = z.infer<typeof RuleInput>

export const Rule = RuleInput.extend({ id: z.number().int().positive() })
export type Rule = z.infer<typeof Rule>

// ── Feedback events (instrument socket, subscriber socket, REST, live channel) ───────────────

/**
 * An event shaped like useq-schema's MDAEvent (Micro-Manager / pymmcore-plus): one per target of
 * an `acquire`. x_pos/y_pos are stage micrometres, computed as stage + (centroid − frame centre) ×
 * pixel size (x right, y down, no rotation), present only when the series declared a pixel size
 * and the frame a stage position; metadata.tessera always gives the pixel centroid.
 */
export const MdaEvent = z.object({
  index: z.record(z.string(), z.number().int()),
  x_pos: z.number().optional(),
  y_pos: z.number().optional(),
  z_pos: z.number().optional(),
  metadata: z.object({
    tessera: z.object({
      streamId: z.number().int(),
      seriesId: SeriesId,
      frame: z.number().int(),
      objectId: z.number().int(),
      centroid: Point,
      ruleId: z.number().int(),
    }),
  }),
})
export type MdaEvent = z.infer<typeof MdaEvent>

export const FeedbackEvent = z.object({
  /** Recorded event id (increasing per server). */
  id: z.number().int().positive(),
  streamId: z.number().int(),
  seriesId: SeriesId,
  frame: z.number().int().nonnegative(),
  action: RuleAction,
  ruleId: z.number().int(),
  ruleName: z.string(),
  modelVersion: z.object({ id: z.number().int(), name: z.string() }),
  /** ISO time the event was sent. */
  at: z.string(),
  /** Arrival of the frame → this event, ms. */
  latencyMs: z.number(),
  count: z.number().int(),
  /** The objects the rule matched (ids and pixel centroids). */
  targets: z.array(z.object({ objectId: z.number().int(), centroid: Point })),
  /** acquire only: one MDAEvent per target. */
  mda: z.array(MdaEvent).optional(),
})
export type FeedbackEvent = z.infer<typeof FeedbackEvent>

// ── Wire: server → instrument (CBOR) and → subscribers (JSON text) ──────────────────────────

export const StreamCounters = z.object({
  received: z.number().int().nonnegative(),
  processed: z.number().int().nonnegative(),
  dropped: z.number().int().nonnegative(),
  /** Messages refused (malformed, unknown series, wrong size). */
  refused: z.number().int().nonnegative(),
  flagged: z.number().int().nonnegative(),
  kept: z.number().int().nonnegative(),
  events: z.number().int().nonnegative(),
})
export type StreamCounters = z.infer<typeof StreamCounters>
/** Counters of a stream or series before its first message. */
export const emptyCounters = (): StreamCounters => ({
  received: 0,
  processed: 0,
  dropped: 0,
  refused: 0,
  flagged: 0,
  kept: 0,
  events: 0,
})

export const ServerMessage = z.discriminatedUnion('type', [
  /** On connect: which stream and which model will run. */
  z.object({
    type: z.literal('ready'),
    stream_id: z.number().int(),
    model_version: z.string(),
  }),
  z.object({ type: z.literal('started'), series_id: SeriesId, backpressure: Backpressure }),
  z.object({ type: z.literal('ended'), series_id: SeriesId, counters: StreamCounters }),
  /** A refused message; series_id / image_id when known. The connection stays open. */
  z.object({
    type: z.literal('error'),
    error: z.string(),
    series_id: SeriesId.optional(),
    image_id: z.number().int().optional(),
  }),
  z.object({ type: z.literal('event'), event: FeedbackEvent }),
  /** Subscribers only: a series began or ended on the stream. */
  z.object({
    type: z.literal('series'),
    state: z.enum(['started', 'ended']),
    series_id: SeriesId,
  }),
])
export type ServerMessage = z.infer<typeof ServerMessage>

// ── REST ─────────────────────────────────────────────────────────────────────────────────────

export const SeriesInfo = z.object({
  seriesId: SeriesId,
  width: z.number().int(),
  height: z.number().int(),
  dtype: StreamDtype,
  channels: z.number().int(),
  pixelSize: z.object({ x: z.number(), y: z.number() }).nullable(),
  backpressure: Backpressure,
  startedAt: z.string(),
  /** Null while it runs. */
  endedAt: z.string().nullable(),
  counters: StreamCounters,
})
export type SeriesInfo = z.infer<typeof SeriesInfo>

export const StreamInfo = z.object({
  id: z.number().int(),
  projectId: z.number().int(),
  name: z.string(),
  backpressure: Backpressure,
  /** Store every flagged frame as an image of the project (with its detections as suggestions). */
  keepFlagged: z.boolean(),
  rules: z.array(Rule),
  createdAt: z.string(),
  /** Instruments connected to the ingest socket now. */
  connected: z.number().int().nonnegative(),
  /** Counters since the server started (all series). */
  counters: StreamCounters,
  /** The series running now, else the latest one since the server started; null if none. */
  series: SeriesInfo.nullable(),
  latest: FrameSummary.nullable(),
})
export type StreamInfo = z.infer<typeof StreamInfo>

export const StreamList = z.object({ streams: z.array(StreamInfo) })

export const CreateStream = z.object({
  name: z.string().trim().min(1).max(100),
  backpressure: Backpressure.default('latest'),
  keepFlagged: z.boolean().default(false),
})
export const UpdateStream = z.object({
  name: z.string().trim().min(1).max(100).optional(),
  backpressure: Backpressure.optional(),
  keepFlagged: z.boolean().optional(),
})
/** A rule sent back with the id of a current rule keeps it (recorded events name it); any other
 * rule gets a fresh id. */
export const ReplaceRules = z.object({
  rules: z.array(RuleInput.extend({ id: z.number().int().positive().optional() })).max(32),
})

/** GET …/streams/:streamId/frames: the newest processed frames, oldest first. */
export const RecentFrames = z.object({ frames: z.array(FrameSummary) })
/** GET …/streams/:streamId/events?after=ID&limit=N: recorded events, oldest first. */
export const EventList = z.object({ events: z.array(FeedbackEvent) })
/** POST …/streams/:streamId/series/:seriesId/frames/:frame/keep */
export const KeptFrame = z.object({
  imageId: z.number().int(),
  /** False when the frame had been kept already (the same image is returned). */
  created: z.boolean(),
  suggestions: z.number().int(),
})

export const InstrumentTokenInfo = z.object({
  id: z.number().int(),
  projectId: z.number().int(),
  name: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
})
export const InstrumentTokenList = z.object({ tokens: z.array(InstrumentTokenInfo) })
export const CreateInstrumentToken = z.object({ name: z.string().trim().min(1).max(100) })
/** Shown once, at creation. */
export const CreatedInstrumentToken = InstrumentTokenInfo.extend({ token: z.string() })
