// HTTP bodies of accounts, sessions and tokens, shared by server (validation, OpenAPI) and client.
import { z } from 'zod'

export const Username = z
  .string()
  .trim()
  .min(2, 'Username needs at least 2 characters')
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, 'Username may use letters, digits, dot, dash and underscore')
export const Password = z.string().min(8, 'Password needs at least 8 characters').max(256)

export const User = z.object({
  id: z.number().int(),
  username: z.string(),
  displayName: z.string(),
  isAdmin: z.boolean(),
  disabled: z.boolean(),
  createdAt: z.string(),
})
export type User = z.infer<typeof User>

export const LoginBody = z.object({ username: z.string().min(1), password: z.string().min(1) })
export const SessionInfo = z.object({ user: User, csrfToken: z.string().nullable() })
export type SessionInfo = z.infer<typeof SessionInfo>

export const TokenBody = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  name: z.string().trim().min(1).max(100).default('api token'),
})
export const TokenResponse = z.object({ token: z.string(), id: z.number().int(), name: z.string() })

export const CreateUserBody = z.object({
  username: Username,
  password: Password,
  displayName: z.string().trim().min(1).max(100).optional(),
  isAdmin: z.boolean().default(false),
})
export const UpdateUserBody = z
  .object({
    password: Password.optional(),
    displayName: z.string().trim().min(1).max(100).optional(),
    isAdmin: z.boolean().optional(),
    disabled: z.boolean().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'Nothing to change')
export const UserList = z.object({ users: z.array(User) })
