// Durable storage of image documents in SQLite: an append-only log of Yjs updates per room and
// a compacted snapshot. Writes are synchronous (better-sqlite3), so an update is on disk before
// the caller relays it to anyone; a crash loses nothing that a client has received.
import * as Y from 'yjs'
import type { Db } from '../db/database.ts'

export interface StoredDoc {
  doc: Y.Doc
  /** Bytes stored for the room: snapshot plus logged updates. */
  bytes: number
  logged: number
}

export class DocStore {
  private readonly selectSnapshot
  private readonly selectUpdates
  private readonly insertUpdate
  private readonly upsertSnapshot
  private readonly deleteUpdates
  private readonly deleteRoom

  constructor(private readonly db: Db) {
    this.selectSnapshot = db.prepare('SELECT state FROM doc_snapshots WHERE room = ?').pluck()
    this.selectUpdates = db.prepare('SELECT id, data FROM doc_updates WHERE room = ? ORDER BY id')
    this.insertUpdate = db.prepare('INSERT INTO doc_updates (room, data) VALUES (?, ?)')
    this.upsertSnapshot = db.prepare(`INSERT INTO doc_snapshots (room, state) VALUES (?, ?)
      ON CONFLICT(room) DO UPDATE SET state = excluded.state,
        updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`)
    this.deleteUpdates = db.prepare('DELETE FROM doc_updates WHERE room = ? AND id <= ?')
    this.deleteRoom = db.prepare('DELETE FROM doc_updates WHERE room = ?')
  }

  load(room: string): StoredDoc {
    const doc = new Y.Doc({ gc: true })
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
    return { doc, bytes, logged: updates.length }
  }

  append(room: string, update: Uint8Array): void {
    this.insertUpdate.run(room, update)
  }

  /** Replaces the room's log by one snapshot of the doc, atomically. Returns the new size. */
  compact(room: string, doc: Y.Doc): number {
    const state = Y.encodeStateAsUpdate(doc)
    this.db.transaction(() => {
      const last = this.db
        .prepare('SELECT max(id) FROM doc_updates WHERE room = ?')
        .pluck()
        .get(room) as number | null
      this.upsertSnapshot.run(room, state)
      if (last !== null) this.deleteUpdates.run(room, last)
    })()
    return state.length
  }

  /** Rooms that have anything stored. */
  rooms(): string[] {
    return this.db
      .prepare('SELECT room FROM doc_snapshots UNION SELECT DISTINCT room FROM doc_updates')
      .pluck()
      .all() as string[]
  }

  drop(room: string): void {
    this.db.transaction(() => {
      this.deleteRoom.run(room)
      this.db.prepare('DELETE FROM doc_snapshots WHERE room = ?').run(room)
    })()
  }
}
