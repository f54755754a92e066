// The document store in SQLite (ARCHITECTURE decision 10): writes are synchronous
// (better-sqlite3), so an update is on disk before the caller relays it, and compaction never
// deletes an update the compacting process has not applied, so two server processes on one
// database cannot lose each other's updates.
import * as Y from 'yjs'
import type { Db } from '../db/database.ts'
import type { AppliedUpdates, DocumentStore, StoredDocument, UpdateId } from './documentStore.ts'

export class SqliteDocumentStore implements DocumentStore {
  private readonly selectSnapshot
  private readonly selectUpdates
  private readonly insertUpdate
  private readonly upsertSnapshot
  private readonly deleteThrough
  private readonly deleteOne
  private readonly loggedBytes

  constructor(private readonly db: Db) {
    this.selectSnapshot = db.prepare('SELECT state FROM doc_snapshots WHERE room = ?').pluck()
    this.selectUpdates = db.prepare('SELECT id, data FROM doc_updates WHERE room = ? ORDER BY id')
    this.insertUpdate = db.prepare('INSERT INTO doc_updates (room, data) VALUES (?, ?)')
    this.upsertSnapshot = db.prepare(`INSERT INTO doc_snapshots (room, state) VALUES (?, ?)
      ON CONFLICT(room) DO UPDATE SET state = excluded.state,
        updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`)
    this.deleteThrough = db.prepare('DELETE FROM doc_updates WHERE room = ? AND id <= ?')
    this.deleteOne = db.prepare('DELETE FROM doc_updates WHERE room = ? AND id = ?')
    this.loggedBytes = db
      .prepare('SELECT coalesce(sum(length(data)), 0) FROM doc_updates WHERE room = ?')
      .pluck()
  }

  load(room: string, doc = new Y.Doc({ gc: true })): StoredDocument {
    // One read transaction: the snapshot and the log as of one moment.
    return this.db.transaction(() => {
      const snapshot = this.selectSnapshot.get(room) as Buffer | undefined
      let bytes = 0
      if (snapshot) {
        Y.applyUpdate(doc, snapshot)
        bytes += snapshot.length
      }
      const updates = this.selectUpdates.all(room) as { id: number; data: Buffer }[]
      if (updates.length > 0) {
        Y.applyUpdate(doc, Y.mergeUpdates(updates.map((u) => u.data)))
        for (const u of updates) bytes += u.data.length
      }
      return { doc, bytes, logged: updates.length, through: updates.at(-1)?.id ?? 0 }
    })()
  }

  append(room: string, update: Uint8Array): UpdateId {
    return Number(this.insertUpdate.run(room, update).lastInsertRowid)
  }

  compact(room: string, doc: Y.Doc, applied: AppliedUpdates): number {
    // IMMEDIATE: the write lock first, so the snapshot read below is the latest one (a
    // deferred transaction whose read went stale fails with SQLITE_BUSY_SNAPSHOT instead).
    return this.db
      .transaction(() => {
        // Another process may have compacted its own updates into the snapshot: keep them.
        const stored = this.selectSnapshot.get(room) as Buffer | undefined
        let state = Y.encodeStateAsUpdate(doc)
        if (stored) {
          const merged = new Y.Doc({ gc: true })
          Y.applyUpdate(merged, stored)
          Y.applyUpdate(merged, state)
          state = Y.encodeStateAsUpdate(merged)
          merged.destroy()
        }
        this.upsertSnapshot.run(room, state)
        if (applied.through > 0) this.deleteThrough.run(room, applied.through)
        for (const id of applied.ids) this.deleteOne.run(room, id)
        return state.length + (this.loggedBytes.get(room) as number)
      })
      .immediate()
  }

  rooms(): string[] {
    return this.db
      .prepare('SELECT room FROM doc_snapshots UNION SELECT DISTINCT room FROM doc_updates')
      .pluck()
      .all() as string[]
  }

  drop(room: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM doc_updates WHERE room = ?').run(room)
      this.db.prepare('DELETE FROM doc_snapshots WHERE room = ?').run(room)
    })()
  }
}
