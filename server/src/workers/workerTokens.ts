// Worker tokens: bearer credentials for training workers (ARCHITECTURE, Security). An admin
// creates one and sees it once; only its sha256 is stored. A worker token is good for the worker
// API only (it is not a user: the user API answers 401) and, there, only for the job it holds.
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'

const TOKEN_PREFIX = 'tsw_'
const digest = (secret: string) => createHash('sha256').update(secret).digest('hex')

export interface WorkerPrincipal {
  tokenId: number
  name: string
}

interface WorkerTokenRow {
  id: number
  name: string
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

const toInfo = (row: WorkerTokenRow) => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
})

export function createWorkerToken(db: Db, name: string, createdBy: number | null) {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
  const id = Number(
    db
      .prepare('INSERT INTO worker_tokens (name, token_hash, created_by) VALUES (?, ?, ?)')
      .run(name, digest(token), createdBy).lastInsertRowid,
  )
  const row = db.prepare('SELECT * FROM worker_tokens WHERE id = ?').get(id) as WorkerTokenRow
  return { ...toInfo(row), token }
}

export function listWorkerTokens(db: Db) {
  return (db.prepare('SELECT * FROM worker_tokens ORDER BY id').all() as WorkerTokenRow[]).map(
    toInfo,
  )
}

/** Revokes a token; the worker holding it is refused from its next call on. */
export function revokeWorkerToken(db: Db, id: number): void {
  const result = db
    .prepare(
      "UPDATE worker_tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ? AND revoked_at IS NULL",
    )
    .run(id)
  if (result.changes === 0) throw new HttpError(404, 'No such active worker token')
}

/** Revokes every active token of that name (the local worker's token is replaced each start). */
export function revokeWorkerTokensNamed(db: Db, name: string): void {
  db.prepare(
    "UPDATE worker_tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE name = ? AND revoked_at IS NULL",
  ).run(name)
}

export function authenticateWorker(db: Db, req: IncomingMessage): WorkerPrincipal | null {
  const authorization = req.headers.authorization
  if (!authorization?.toLowerCase().startsWith('bearer ')) return null
  const token = authorization.slice(7).trim()
  if (!token.startsWith(TOKEN_PREFIX)) return null
  const row = db
    .prepare('SELECT id, name FROM worker_tokens WHERE token_hash = ? AND revoked_at IS NULL')
    .get(digest(token)) as { id: number; name: string } | undefined
  if (!row) return null
  db.prepare(
    "UPDATE worker_tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
  ).run(row.id)
  return { tokenId: row.id, name: row.name }
}
