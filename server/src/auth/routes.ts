// Routes for login/logout, the current session, personal API tokens and user administration.
import type { Request, Response } from 'express'
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
import { LoginThrottle, loginThrottlePolicy, refusalMessage } from './LoginThrottle.ts'
import { UNUSABLE_HASH, verifyPassword } from './passwords.ts'
import { SqliteLoginThrottleStore } from './SqliteLoginThrottleStore.ts'
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

export function registerAuthRoutes(api: ApiRouter, context: AppContext): void {
  const { db, config, log } = context
  const throttle = new LoginThrottle(
    new SqliteLoginThrottleStore(db),
    loginThrottlePolicy(config),
    log,
  )

  /**
   * Checks a username and password unless login throttling refuses the attempt (429 with
   * Retry-After); the same time is spent whether or not the user exists.
   */
  async function checkCredentials(username: string, password: string, req: Request, res: Response) {
    const admission = await throttle.admit(username, req.ip)
    if (!admission.admitted) {
      res.set('Retry-After', String(admission.retryAfterSeconds))
      throw new HttpError(429, refusalMessage(admission), {
        retryAfterSeconds: admission.retryAfterSeconds,
      })
    }
    const row = findUserByName(db, username)
    const ok = await verifyPassword(password, row?.password_hash ?? UNUSABLE_HASH)
    if (!row || !ok) throw new HttpError(401, 'Wrong username or password')
    await throttle.succeeded(admission.attempt)
    if (row.disabled === 1) throw new HttpError(403, 'This account is disabled')
    return row
  }

  // Secure when people reach the app over HTTPS (req.secure believes X-Forwarded-Proto only from
  // a trusted proxy), so the cookie never travels in the clear; plain http on loopback stays usable.
  const servedOverHttps =
    config.publicUrl !== undefined && new URL(config.publicUrl).protocol === 'https:'
  const secureCookie = (req: Request) => servedOverHttps || req.secure

  api.route({
    method: 'post',
    path: '/api/auth/login',
    summary: 'Log in with a username and password; sets the session cookie',
    tag: 'auth',
    auth: 'public',
    body: LoginBody,
    response: SessionInfo,
    handler: async ({ body, req, res }) => {
      const row = await checkCredentials(body.username, body.password, req, res)
      const session = createSession(db, row.id, config.sessionDays)
      res.cookie(SESSION_COOKIE, session.secret, {
        httpOnly: true,
        sameSite: 'strict',
        secure: secureCookie(req),
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
    handler: ({ principal, req, res }) => {
      if (principal?.sessionId) deleteSession(db, principal.sessionId)
      res.clearCookie(SESSION_COOKIE, { path: '/', secure: secureCookie(req) })
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
    handler: async ({ body, req, res }) => {
      const row = await checkCredentials(body.username, body.password, req, res)
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
    handler: ({ params, body }) => {
      const user = updateUser(db, params.userId, body)
      // A disabled account or a new password ends that user's open collaboration sockets too.
      context.accessChanged({ userId: params.userId })
      return user
    },
  })
}
