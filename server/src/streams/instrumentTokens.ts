// Instrument tokens: bearer credentials (`tsi_…`) of a microscope's or detector's control
// software for one project. An owner creates one and sees it once; only its sha256 is stored.
// Good for the stream sockets only: it is not a user, so the user API answers 401 to it.
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'

export const INSTRUMENT_TOKEN_PREFIX = 'tsi_'
const digest = (secret: string) => createHash('sha256').update(secret).digest('hex')

export interface InstrumentPrincipal {
  tokenId: number
  projectId: number
  name: string
  /** Who created the token (kept frames of its streams are theirs when no one clicked Keep). */
  createdBy: number | null
}

interface InstrumentTokenRow {
  id: number
  project_id: number
  name: string
  created_by: number | null
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

const toInfo = (row: InstrumentTokenRow) => ({
  id: row.id,
  projectId: row.project_id,
  name: row.name,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
})

export function createInstrumentToken(
  db: Db,
  projectId: number,
  name: string,
  createdBy: number | null,
) {
  const token = INSTRUMENT_TOKEN_PREFIX + randomBytes(32).toString('base64url')
  const id = Number(
    db
      .prepare(
        'INSERT INTO instrument_tokens (project_id, name, token_hash, created_by) VALUES (?, ?, ?, ?)',
      )
      .run(projectId, name, digest(token), createdBy).lastInsertRowid,
  )
  const row = db
    .prepare('SELECT * FROM instrument_tokens WHERE id = ?')
    .get(id) as InstrumentTokenRow
  return { ...toInfo(row), token }
}

export function listInstrumentTokens(db: Db, projectId: number) {
  return (
    db
      .prepare('SELECT * FROM instrument_tokens WHERE project_id = ? ORDER BY id')
      .all(projectId) as InstrumentTokenRow[]
  ).map(toInfo)
}

/** Revokes a token of the project; its instruments are refused from their next connection on
 * (open connections are closed by the caller). */
export function revokeInstrumentToken(db: Db, projectId: number, id: number): void {
  const result = db
    .prepare(
      "UPDATE instrument_tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ? AND project_id = ? AND revoked_at IS NULL",
    )
    .run(id, projectId)
  if (result.changes === 0) throw new HttpError(404, 'No such active instrument token')
}

/** The token a request carries: `Authorization: Bearer tsi_…`, or `?token=` (for clients that
 * cannot set headers on a websocket). */
export function instrumentTokenOf(req: IncomingMessage): string | null {
  const authorization = req.headers.authorization
  if (authorization?.toLowerCase().startsWith('bearer ')) {
    const token = authorization.slice(7).trim()
    return token.startsWith(INSTRUMENT_TOKEN_PREFIX) ? token : null
  }
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token')
  return query?.startsWith(INSTRUMENT_TOKEN_PREFIX) ? query : null
}

export function authenticateInstrument(db: Db, token: string): InstrumentPrincipal | null {
  if (!token.startsWith(INSTRUMENT_TOKEN_PREFIX)) return null
  const row = db
    .prepare(
      'SELECT id, project_id, name, created_by FROM instrument_tokens WHERE token_hash = ? AND revoked_at IS NULL',
    )
    .get(digest(token)) as
    | Pick<InstrumentTokenRow, 'id' | 'project_id' | 'name' | 'created_by'>
    | undefined
  if (!row) return null
  db.prepare(
    "UPDATE instrument_tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
  ).run(row.id)
  return { tokenId: row.id, projectId: row.project_id, name: row.name, createdBy: row.created_by }
}
