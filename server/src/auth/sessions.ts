// Browser sessions (cookie) and personal API tokens (bearer). Only sha256 digests of the
// secrets are stored, so a leaked database does not leak usable credentials.
import { createHash, randomBytes } from 'node:crypto'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'

export const SESSION_COOKIE = 'tessera_session'
const TOKEN_PREFIX = 'tsr_'

const digest = (secret: string) => createHash('sha256').update(secret).digest('hex')

export interface SessionRow {
  id: string
  user_id: number
  csrf_token: string
  expires_at: number
}

export function createSession(db: Db, userId: number, days: number) {
  const secret = randomBytes(32).toString('base64url')
  const csrfToken = randomBytes(24).toString('base64url')
  const expiresAt = Date.now() + days * 86_400_000
  db.prepare('INSERT INTO sessions (id, user_id, csrf_token, expires_at) VALUES (?, ?, ?, ?)').run(
    digest(secret),
    userId,
    csrfToken,
    expiresAt,
  )
  return { secret, csrfToken, expiresAt }
}

export function findSession(db: Db, secret: string): SessionRow | null {
  const row = db.prepare('SELECT * FROM sessions WHERE id = ?').get(digest(secret)) as
    | SessionRow
    | undefined
  if (!row) return null
  if (row.expires_at < Date.now()) {
    db.prepare('DELETE FROM sessions WHERE id = ?').run(row.id)
    return null
  }
  return row
}

export function deleteSession(db: Db, sessionId: string): void {
  db.prepare('DELETE FROM sessions WHERE id = ?').run(sessionId)
}

export function createApiToken(db: Db, userId: number, name: string) {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
  const result = db
    .prepare('INSERT INTO api_tokens (user_id, name, token_hash) VALUES (?, ?, ?)')
    .run(userId, name, digest(token))
  return { token, id: Number(result.lastInsertRowid), name }
}

export function findApiToken(db: Db, token: string): { id: number; user_id: number } | null {
  if (!token.startsWith(TOKEN_PREFIX)) return null
  const row = db
    .prepare('SELECT id, user_id FROM api_tokens WHERE token_hash = ?')
    .get(digest(token))
  if (!row) return null
  db.prepare(
    "UPDATE api_tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
  ).run((row as { id: number }).id)
  return row as { id: number; user_id: number }
}

export function listApiTokens(db: Db, userId: number) {
  return db
    .prepare(
      'SELECT id, name, created_at AS createdAt, last_used_at AS lastUsedAt FROM api_tokens WHERE user_id = ? ORDER BY id',
    )
    .all(userId) as { id: number; name: string; createdAt: string; lastUsedAt: string | null }[]
}

export function deleteApiToken(db: Db, userId: number, tokenId: number): void {
  const result = db
    .prepare('DELETE FROM api_tokens WHERE id = ? AND user_id = ?')
    .run(tokenId, userId)
  if (result.changes === 0) throw new HttpError(404, 'Token not found')
}
