// Durable storage of image documents behind a narrow interface: an append-only log of Yjs
// updates per room and a compacted snapshot. SQLite is the embedded default
// (SqliteDocumentStore); a larger deployment can put the same calls on Postgres or Redis.
import type * as Y from 'yjs'

/** An update's id in the log, increasing in the order updates were stored. */
export type UpdateId = number

export interface StoredDocument {
  doc: Y.Doc
  /** Bytes stored for the room: snapshot plus logged updates. */
  bytes: number
  /** Updates in the log, not yet in the snapshot. */
  logged: number
  /** The last update id loaded: every update up to it is in `doc`. */
  through: UpdateId
}

/** The updates a process has applied to its copy of a room: all up to `through`, and `ids`. */
export interface AppliedUpdates {
  through: UpdateId
  ids: readonly UpdateId[]
}

export interface DocumentStore {
  /** Reads a room's snapshot and log into `doc` (a new one by default). */
  load(room: string, doc?: Y.Doc): StoredDocument
  /** Appends an update durably (on disk when this returns) and returns its id. */
  append(room: string, update: Uint8Array): UpdateId
  /**
   * Merges the doc into the room's snapshot and deletes the logged updates it has applied, and
   * only those: updates another process appended meanwhile stay in the log. Returns the bytes
   * stored for the room afterwards.
   */
  compact(room: string, doc: Y.Doc, applied: AppliedUpdates): number
  /** Rooms that have anything stored. */
  rooms(): string[]
  drop(room: string): void
}
