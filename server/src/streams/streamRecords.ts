// The streams' stored facts: each stream's settings and rules, the feedback events sent, and
// which frames were kept as which images. Plain functions over SQLite; what is only in memory
// (counters, queues, recent frames) lives in StreamHub.
import {
  type Backpressure,
  type FeedbackEvent,
  Rule,
  type SeriesId,
} from '../../../shared/schemas/streams.ts'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'

export interface StreamRecord {
  id: number
  projectId: number
  name: string
  backpressure: Backpressure
  keepFlagged: boolean
  rules: Rule[]
  nextRuleId: number
  createdAt: string
}

interface StreamRow {
  id: number
  project_id: number
  name: string
  backpressure: string
  keep_flagged: number
  rules_json: string
  next_rule_id: number
  created_at: string
}

function toRecord(row: StreamRow): StreamRecord {
  const parsed = Rule.array().safeParse(JSON.parse(row.rules_json))
  return {
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    backpressure: row.backpressure as Backpressure,
    keepFlagged: row.keep_flagged === 1,
    rules: parsed.success ? parsed.data : [],
    nextRuleId: row.next_rule_id,
    createdAt: row.created_at,
  }
}

export function getStream(db: Db, streamId: number): StreamRecord | null {
  const row = db.prepare('SELECT * FROM streams WHERE id = ?').get(streamId) as
    | StreamRow
    | undefined
  return row ? toRecord(row) : null
}

/** The stream if it belongs to the project; 404 otherwise (foreign streams look unknown). */
export function streamOf(db: Db, projectId: number, streamId: number): StreamRecord {
  const stream = getStream(db, streamId)
  if (!stream || stream.projectId !== projectId) throw new HttpError(404, `No stream ${streamId}`)
  return stream
}

export function listStreams(db: Db, projectId: number): StreamRecord[] {
  return (
    db
      .prepare('SELECT * FROM streams WHERE project_id = ? ORDER BY id')
      .all(projectId) as StreamRow[]
  ).map(toRecord)
}

const uniqueName = (error: unknown, name: string) =>
  (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE'
    ? new HttpError(409, `This project already has a stream named "${name}"`)
    : error

export function createStream(
  db: Db,
  projectId: number,
  input: { name: string; backpressure: Backpressure; keepFlagged: boolean },
): StreamRecord {
  try {
    const id = Number(
      db
        .prepare(
          'INSERT INTO streams (project_id, name, backpressure, keep_flagged) VALUES (?, ?, ?, ?)',
        )
        .run(projectId, input.name, input.backpressure, input.keepFlagged ? 1 : 0).lastInsertRowid,
    )
    return getStream(db, id)!
  } catch (error) {
    throw uniqueName(error, input.name)
  }
}

export function updateStream(
  db: Db,
  stream: StreamRecord,
  input: { name?: string; backpressure?: Backpressure; keepFlagged?: boolean },
): StreamRecord {
  const name = input.name ?? stream.name
  try {
    db.prepare('UPDATE streams SET name = ?, backpressure = ?, keep_flagged = ? WHERE id = ?').run(
      name,
      input.backpressure ?? stream.backpressure,
      (input.keepFlagged ?? stream.keepFlagged) ? 1 : 0,
      stream.id,
    )
  } catch (error) {
    throw uniqueName(error, name)
  }
  return getStream(db, stream.id)!
}

export function saveRules(db: Db, streamId: number, rules: Rule[], nextRuleId: number): void {
  db.prepare('UPDATE streams SET rules_json = ?, next_rule_id = ? WHERE id = ?').run(
    JSON.stringify(rules),
    nextRuleId,
    streamId,
  )
}

export function deleteStream(db: Db, streamId: number): void {
  db.prepare('DELETE FROM streams WHERE id = ?').run(streamId)
}

/** Records an event and returns it with its id. */
export function recordEvent(db: Db, event: Omit<FeedbackEvent, 'id'>): FeedbackEvent {
  const id = Number(
    db
      .prepare(
        'INSERT INTO stream_events (stream_id, series_id, frame, action, event_json, at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        event.streamId,
        String(event.seriesId),
        event.frame,
        event.action,
        JSON.stringify(event),
        event.at,
      ).lastInsertRowid,
  )
  return { id, ...event }
}

/** Events after the id `after`, oldest first: the first `limit`, or the newest `limit`. */
export function listEvents(
  db: Db,
  streamId: number,
  after: number,
  limit: number,
  newest = false,
): FeedbackEvent[] {
  const rows = db
    .prepare(
      newest
        ? 'SELECT * FROM (SELECT id, event_json FROM stream_events WHERE stream_id = ? AND id > ? ORDER BY id DESC LIMIT ?) ORDER BY id'
        : 'SELECT id, event_json FROM stream_events WHERE stream_id = ? AND id > ? ORDER BY id LIMIT ?',
    )
    .all(streamId, after, limit) as { id: number; event_json: string }[]
  return rows.map((row) => ({ id: row.id, ...JSON.parse(row.event_json) }))
}

export function keptImageOf(
  db: Db,
  streamId: number,
  seriesId: SeriesId,
  frame: number,
): number | null {
  const row = db
    .prepare(
      'SELECT k.image_id FROM stream_kept_frames k JOIN images i ON i.id = k.image_id WHERE k.stream_id = ? AND k.series_id = ? AND k.frame = ?',
    )
    .get(streamId, String(seriesId), frame) as { image_id: number } | undefined
  return row?.image_id ?? null
}

export function recordKeptFrame(
  db: Db,
  streamId: number,
  seriesId: SeriesId,
  frame: number,
  imageId: number,
): void {
  db.prepare(
    'INSERT OR REPLACE INTO stream_kept_frames (stream_id, series_id, frame, image_id) VALUES (?, ?, ?, ?)',
  ).run(streamId, String(seriesId), frame, imageId)
}
