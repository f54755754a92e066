// Routes for login/logout, the current session, personal API tokens and user administration.
import { z } from 'zod'
import {
  CreateUserBody,
  LoginBody,
  SessionInfo,
  TokenBody,
  TokenResponse,
  UpdateUserBody,
  User,
  UserList,
} from '../../../shared/schemas/auth.ts'
import type { AppContext } from '../app.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import { HttpError } from '../http/HttpError.ts'
import { UNUSABLE_HASH, verifyPassword } from './passwords.ts'
import {
  createApiToken,
  createSession,
  deleteApiToken,
  deleteSession,
  listApiTokens,
  SESSION_COOKIE,
} from './sessions.ts'
import { createUser, findUserByName, getUser, listUsers, toUser, updateUser } from './users.ts'

const Id = z.coerce.number().int().positive()
const TokenInfo = z.object({
  id: z.number(),
  name: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
})

export function registerAuthRoutes(api: ApiRouter, { db, config }: AppContext): void {
  /** Checks a username and password; the same time is spent whether or not the user exists. */
  async function checkCredentials(username: string, password: string) {
    const row = findUserByName(db, username)
    const ok = await verifyPassword(password, row?.password_hash ?? UNUSABLE_HASH)
    if (!row || !ok) throw new HttpError(401, 'Wrong username or password')
    if (row.disabled === 1) throw new HttpError(403, 'This account is disabled')
    return row
  }

  api.route({
    method: 'post',
    path: '/api/auth/login',
    summary: 'Log in with a username and password; sets the session cookie',
    tag: 'auth',
    auth: 'public',
    body: LoginBody,
    response: SessionInfo,
    handler: async ({ body, res }) => {
      const row = await checkCredentials(body.username, body.password)
      const session = createSession(db, row.id, config.sessionDays)
      res.cookie(SESSION_COOKIE, session.secret, {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        maxAge: config.sessionDays * 86_400_000,
      })
      return { user: toUser(row), csrfToken: session.csrfToken }
    },
  })

  api.route({
    method: 'post',
    path: '/api/auth/logout',
    summary: 'End the current session',
    tag: 'auth',
    auth: 'user',
    handler: ({ principal, res }) => {
      if (principal?.sessionId) deleteSession(db, principal.sessionId)
      res.clearCookie(SESSION_COOKIE, { path: '/' })
      return undefined
    },
  })

  api.route({
    method: 'get',
    path: '/api/auth/me',
    summary: 'The logged-in user and the CSRF token for cookie-authenticated writes',
    tag: 'auth',
    auth: 'user',
    response: SessionInfo,
    handler: ({ principal }) => ({
      user: toUser(getUser(db, principal!.userId)),
      csrfToken: principal!.csrfToken ?? null,
    }),
  })

  api.route({
    method: 'post',
    path: '/api/auth/token',
    summary: 'Create a personal API token from a username and password (for scripts)',
    tag: 'auth',
    auth: 'public',
    body: TokenBody,
    response: TokenResponse,
    status: 201,
    handler: async ({ body }) => {
      const row = await checkCredentials(body.username, body.password)
      return createApiToken(db, row.id, body.name)
    },
  })

  api.route({
    method: 'get',
    path: '/api/auth/tokens',
    summary: 'List my API tokens (never their secrets)',
    tag: 'auth',
    auth: 'user',
    response: z.object({ tokens: z.array(TokenInfo) }),
    handler: ({ principal }) => ({ tokens: listApiTokens(db, principal!.userId) }),
  })

  api.route({
    method: 'delete',
    path: '/api/auth/tokens/:tokenId',
    summary: 'Revoke one of my API tokens',
    tag: 'auth',
    auth: 'user',
    params: z.object({ tokenId: Id }),
    handler: ({ principal, params }) => {
      deleteApiToken(db, principal!.userId, params.tokenId)
      return undefined
    },
  })

  api.route({
    method: 'get',
    path: '/api/users',
    summary: 'List all users',
    tag: 'users',
    auth: 'admin',
    response: UserList,
    handler: () => ({ users: listUsers(db) }),
  })

  api.route({
    method: 'post',
    path: '/api/users',
    summary: 'Create a user',
    tag: 'users',
    auth: 'admin',
    body: CreateUserBody,
    response: User,
    status: 201,
    handler: ({ body }) => createUser(db, body),
  })

  api.route({
    method: 'patch',
    path: '/api/users/:userId',
    summary: "Change a user's password, name, admin flag or disabled flag",
    tag: 'users',
    auth: 'admin',
    params: z.object({ userId: Id }),
    body: UpdateUserBody,
    response: User,
    handler: ({ params, body }) => updateUser(db, params.userId, body),
  })
}
