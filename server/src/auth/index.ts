// Accounts, sessions, API tokens and access control.
export { authenticateToken, createAccessControl, readCookie } from './accessControl.ts'
export type { LoginThrottleStore } from './LoginThrottleStore.ts'
export { registerAuthRoutes } from './routes.ts'
export { SESSION_COOKIE } from './sessions.ts'
export { createUser, ensureAdmin } from './users.ts'
