// Who is calling: resolves a cookie session or a bearer token to a Principal, and a
// principal's role in a project. Used by the HTTP router and the collaboration upgrade.
import type { IncomingMessage } from 'node:http'
import type { Db } from '../db/database.ts'
import type { AccessControl, Principal, ProjectRole } from '../http/ApiRouter.ts'
import { findApiToken, findSession, SESSION_COOKIE } from './sessions.ts'

interface PrincipalRow {
  id: number
  username: string
  is_admin: number
  disabled: number
}

export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null
  for (const part of header.split(';')) {
    const index = part.indexOf('=')
    if (index < 0) continue
    if (part.slice(0, index).trim() === name)
      return decodeURIComponent(part.slice(index + 1).trim())
  }
  return null
}

function userPrincipal(db: Db, userId: number): Omit<Principal, 'via'> | null {
  const row = db
    .prepare('SELECT id, username, is_admin, disabled FROM users WHERE id = ?')
    .get(userId) as PrincipalRow | undefined
  if (!row || row.disabled === 1) return null
  return { userId: row.id, username: row.username, isAdmin: row.is_admin === 1 }
}

/** A principal from a bearer token, for clients that pass it as `?token=` (websockets). */
export function authenticateToken(db: Db, token: string): Principal | null {
  const row = findApiToken(db, token)
  const user = row && userPrincipal(db, row.user_id)
  return user ? { ...user, via: 'token' } : null
}

export function createAccessControl(db: Db): AccessControl {
  const roleOf = db.prepare('SELECT role FROM project_members WHERE project_id = ? AND user_id = ?')
  const projectExists = db.prepare('SELECT 1 FROM projects WHERE id = ?')
  return {
    authenticate(req: IncomingMessage): Principal | null {
      const authorization = req.headers.authorization
      if (authorization?.toLowerCase().startsWith('bearer ')) {
        return authenticateToken(db, authorization.slice(7).trim())
      }
      const secret = readCookie(req.headers.cookie, SESSION_COOKIE)
      if (!secret) return null
      const session = findSession(db, secret)
      const user = session && userPrincipal(db, session.user_id)
      if (!session || !user) return null
      return { ...user, via: 'session', csrfToken: session.csrf_token, sessionId: session.id }
    },
    projectRole(principal: Principal, projectId: number): ProjectRole | null {
      const row = roleOf.get(projectId, principal.userId) as { role: ProjectRole } | undefined
      if (row) return row.role
      // A site administrator acts as owner of every existing project.
      if (principal.isAdmin && projectExists.get(projectId)) return 'owner'
      return null
    },
  }
}
