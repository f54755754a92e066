// Declarative API routes: each route names its auth, role and zod schemas once; the same
// declaration validates requests, checks access and produces the OpenAPI document.
// Handlers never parse raw input or check roles themselves.
import type { IncomingMessage } from 'node:http'
import express, { type Request, type Response } from 'express'
import { z } from 'zod'
import type { WorkerPrincipal } from '../workers/workerTokens.ts'
import { HttpError } from './HttpError.ts'

export const PROJECT_ROLES = ['viewer', 'annotator', 'reviewer', 'owner'] as const
export type ProjectRole = (typeof PROJECT_ROLES)[number]

/** Who made a request and how: a browser session (cookie, CSRF-checked) or a bearer token. */
export interface Principal {
  userId: number
  username: string
  isAdmin: boolean
  via: 'session' | 'token'
  csrfToken?: string
  sessionId?: string
}

export interface AccessControl {
  authenticate(req: IncomingMessage): Principal | null
  /** The caller's role in a project, or null when the caller is not a member. */
  projectRole(principal: Principal, projectId: number): ProjectRole | null
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'
type AnyZod = z.ZodType

export interface RouteContext<P, Q, B> {
  params: P
  query: Q
  body: B
  principal: Principal | null
  /** The training worker calling, on routes with auth 'worker'. */
  worker: WorkerPrincipal | null
  /** Role in the project named by :projectId, when the route declares projectRole. */
  role: ProjectRole | null
  req: Request
  res: Response
}

type Infer<S> = S extends AnyZod ? z.infer<S> : undefined

export interface RouteSpec<PS, QS, BS> {
  method: Method
  path: string
  summary: string
  tag: string
  /** 'worker': a worker token (and nothing else) is accepted; no CSRF (no cookies). */
  auth: 'public' | 'user' | 'admin' | 'worker'
  /** Minimum role in the project named by the :projectId path parameter. */
  projectRole?: ProjectRole
  params?: PS
  query?: QS
  body?: BS
  /** A multipart upload (described in OpenAPI, parsed by the handler). */
  multipart?: { fields: Record<string, string> }
  response?: AnyZod | { contentType: string; description: string }
  status?: number
  handler: (ctx: RouteContext<Infer<PS>, Infer<QS>, Infer<BS>>) => unknown | Promise<unknown>
}

const roleRank = (role: ProjectRole) => PROJECT_ROLES.indexOf(role)

export function hasRole(role: ProjectRole | null, atLeast: ProjectRole): boolean {
  return role !== null && roleRank(role) >= roleRank(atLeast)
}

function issuesOf(error: z.ZodError) {
  return error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }))
}

function parsePart<S extends AnyZod>(schema: S | undefined, value: unknown, part: string) {
  if (!schema) return undefined
  const result = schema.safeParse(value)
  if (!result.success) {
    const first = result.error.issues[0]
    const where = first?.path.length ? `${part}.${first.path.join('.')}` : part
    throw new HttpError(
      400,
      `Invalid ${where}: ${first?.message ?? 'invalid value'}`,
      issuesOf(result.error),
    )
  }
  return result.data
}

const UNSAFE_METHODS = new Set(['post', 'put', 'patch', 'delete'])

export class ApiRouter {
  readonly router = express.Router()
  private readonly specs: RouteSpec<AnyZod, AnyZod, AnyZod>[] = []

  constructor(
    private readonly access: AccessControl,
    private readonly workerAuth: (req: IncomingMessage) => WorkerPrincipal | null = () => null,
  ) {}

  route<
    PS extends AnyZod | undefined = undefined,
    QS extends AnyZod | undefined = undefined,
    BS extends AnyZod | undefined = undefined,
  >(spec: RouteSpec<PS, QS, BS>): void {
    this.specs.push(spec as unknown as RouteSpec<AnyZod, AnyZod, AnyZod>)
    this.router[spec.method](spec.path, async (req: Request, res: Response) => {
      let principal: Principal | null = null
      let worker: WorkerPrincipal | null = null
      if (spec.auth === 'worker') {
        worker = this.workerAuth(req)
        if (!worker) throw new HttpError(401, 'Send a valid worker token (Authorization: Bearer)')
      } else {
        principal =
          spec.auth === 'public' ? this.access.authenticate(req) : this.requirePrincipal(req)
        if (spec.auth === 'admin' && !principal?.isAdmin) {
          throw new HttpError(403, 'Only an administrator can do this')
        }
        // Public routes (login, token) take credentials in the body; a stale cookie must not block them.
        const needsCsrf = spec.auth !== 'public' && principal?.via === 'session'
        if (needsCsrf && UNSAFE_METHODS.has(spec.method)) {
          const sent = req.get('x-csrf-token')
          if (!sent || sent !== principal?.csrfToken) {
            throw new HttpError(
              403,
              'Missing or invalid CSRF token (send X-CSRF-Token)',
              undefined,
              'csrf',
            )
          }
        }
      }
      const params = parsePart(spec.params, req.params, 'path') as Infer<PS>
      let role: ProjectRole | null = null
      if (spec.projectRole) {
        const projectId = Number((params as { projectId?: unknown } | undefined)?.projectId)
        if (!principal || !Number.isInteger(projectId))
          throw new HttpError(400, 'Invalid project id')
        role = this.access.projectRole(principal, projectId)
        if (role === null) throw new HttpError(403, 'You are not a member of this project')
        if (!hasRole(role, spec.projectRole)) {
          throw new HttpError(403, `This needs the ${spec.projectRole} role; you are ${role}`)
        }
      }
      const query = parsePart(spec.query, req.query, 'query') as Infer<QS>
      const body = parsePart(spec.body, req.body ?? {}, 'body') as Infer<BS>
      const ctx = { params, query, body, principal, worker, role, req, res }
      const result = await spec.handler(ctx)
      if (res.headersSent) return
      if (result === undefined) res.status(spec.status ?? 204).end()
      else res.status(spec.status ?? 200).json(result)
    })
  }

  private requirePrincipal(req: Request): Principal {
    const principal = this.access.authenticate(req)
    if (!principal) throw new HttpError(401, 'Log in first, or send a bearer token')
    return principal
  }

  /** The OpenAPI 3.1 document of every route, from the same schemas that validate requests. */
  openApi(info: { title: string; version: string }): object {
    const paths: Record<string, Record<string, object>> = {}
    const schema = (s: AnyZod, io: 'input' | 'output') =>
      z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' })
    for (const spec of this.specs) {
      const openPath = spec.path.replace(/:(\w+)/g, '{$1}')
      const parameters: object[] = []
      const paramShape = (spec.params as z.ZodObject | undefined)?.shape ?? {}
      for (const [name, s] of Object.entries(paramShape)) {
        parameters.push({ name, in: 'path', required: true, schema: schema(s as AnyZod, 'input') })
      }
      const queryShape = (spec.query as z.ZodObject | undefined)?.shape ?? {}
      for (const [name, s] of Object.entries(queryShape)) {
        parameters.push({
          name,
          in: 'query',
          required: !(s as AnyZod).safeParse(undefined).success,
          schema: schema(s as AnyZod, 'input'),
        })
      }
      const operation: Record<string, unknown> = {
        summary: spec.summary,
        tags: [spec.tag],
        parameters,
        'x-auth': spec.auth,
        ...(spec.projectRole ? { 'x-project-role': spec.projectRole } : {}),
        security:
          spec.auth === 'public'
            ? []
            : spec.auth === 'worker'
              ? [{ workerToken: [] }]
              : [{ cookieSession: [] }, { bearerToken: [] }],
        responses: {} as Record<string, object>,
      }
      if (spec.body) {
        operation.requestBody = {
          required: true,
          content: { 'application/json': { schema: schema(spec.body, 'input') } },
        }
      } else if (spec.multipart) {
        const properties = Object.fromEntries(
          Object.entries(spec.multipart.fields).map(([name, description]) => [
            name,
            { type: 'string', format: 'binary', description },
          ]),
        )
        operation.requestBody = {
          required: true,
          content: { 'multipart/form-data': { schema: { type: 'object', properties } } },
        }
      }
      const responses = operation.responses as Record<string, object>
      const status = String(spec.status ?? (spec.response ? 200 : 204))
      if (!spec.response) responses[status] = { description: 'Done' }
      else if ('contentType' in spec.response) {
        responses[status] = {
          description: spec.response.description,
          content: {
            [spec.response.contentType]: { schema: { type: 'string', format: 'binary' } },
          },
        }
      } else {
        responses[status] = {
          description: 'OK',
          content: { 'application/json': { schema: schema(spec.response as AnyZod, 'output') } },
        }
      }
      responses.default = {
        description: 'Error',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      }
      paths[openPath] ??= {}
      paths[openPath][spec.method] = operation
    }
    return {
      openapi: '3.1.0',
      info,
      paths,
      components: {
        securitySchemes: {
          cookieSession: { type: 'apiKey', in: 'cookie', name: 'tessera_session' },
          bearerToken: { type: 'http', scheme: 'bearer' },
          workerToken: { type: 'http', scheme: 'bearer', description: 'A worker token (tsw_…)' },
        },
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: { error: { type: 'string' }, code: { type: 'string' }, details: {} },
          },
        },
      },
    }
  }
}
