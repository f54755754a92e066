// Local user accounts: creation, lookup, admin changes, and the initial `admin` user.
import { randomBytes } from 'node:crypto'
import type { User } from '../../../shared/schemas/auth.ts'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'
import { hashPassword } from './passwords.ts'

export interface UserRow {
  id: number
  username: string
  display_name: string
  password_hash: string
  is_admin: number
  disabled: number
  created_at: string
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    isAdmin: row.is_admin === 1,
    disabled: row.disabled === 1,
    createdAt: row.created_at,
  }
}

export function findUserByName(db: Db, username: string): UserRow | undefined {
  return db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined
}

export function getUser(db: Db, userId: number): UserRow {
  const row = db.prepare('SELECT * FROM users WHERE id = ?').get(userId) as UserRow | undefined
  if (!row) throw new HttpError(404, 'User not found')
  return row
}

export function createUser(
  db: Db,
  input: { username: string; password: string; displayName?: string; isAdmin?: boolean },
): User {
  if (findUserByName(db, input.username)) {
    throw new HttpError(409, `User "${input.username}" already exists`)
  }
  const result = db
    .prepare(
      'INSERT INTO users (username, display_name, password_hash, is_admin) VALUES (?, ?, ?, ?)',
    )
    .run(
      input.username,
      input.displayName ?? input.username,
      hashPassword(input.password),
      input.isAdmin ? 1 : 0,
    )
  return toUser(getUser(db, Number(result.lastInsertRowid)))
}

export function listUsers(db: Db): User[] {
  return (db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toUser)
}

export function updateUser(
  db: Db,
  userId: number,
  changes: { password?: string; displayName?: string; isAdmin?: boolean; disabled?: boolean },
): User {
  const row = getUser(db, userId)
  const demotesLastAdmin =
    row.is_admin === 1 && (changes.isAdmin === false || changes.disabled === true)
  if (demotesLastAdmin) {
    const { n } = db
      .prepare('SELECT count(*) AS n FROM users WHERE is_admin = 1 AND disabled = 0')
      .get() as { n: number }
    if (n <= 1) throw new HttpError(409, 'The last active administrator cannot be removed')
  }
  db.transaction(() => {
    if (changes.password !== undefined) {
      db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(
        hashPassword(changes.password),
        userId,
      )
      // A new password ends every session of that user (API tokens stay until revoked).
      db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId)
    }
    if (changes.displayName !== undefined) {
      db.prepare('UPDATE users SET display_name = ? WHERE id = ?').run(changes.displayName, userId)
    }
    if (changes.isAdmin !== undefined) {
      db.prepare('UPDATE users SET is_admin = ? WHERE id = ?').run(changes.isAdmin ? 1 : 0, userId)
    }
    if (changes.disabled !== undefined) {
      db.prepare('UPDATE users SET disabled = ? WHERE id = ?').run(changes.disabled ? 1 : 0, userId)
      if (changes.disabled) db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId)
    }
  })()
  return toUser(getUser(db, userId))
}

/**
 * Creates the `admin` user on first start. Returns the generated password when none was
 * configured (printed once by main.ts), else null.
 */
export function ensureAdmin(db: Db, configuredPassword: string | undefined): string | null {
  if (findUserByName(db, 'admin')) return null
  const password = configuredPassword ?? randomBytes(12).toString('base64url')
  createUser(db, { username: 'admin', password, displayName: 'Administrator', isAdmin: true })
  return configuredPassword ? null : password
}
