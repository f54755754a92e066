// The project live channel (ARCHITECTURE decision 7): server-sent events at
// GET /api/projects/:projectId/events, authenticated like every API call (the session cookie or a
// token, and a role in the project). Pushes training jobs' progress and model version changes,
// so every open editor can swap its model without a reload. Access is checked again whenever
// memberships or accounts change (AppContext.accessChanged): a stream that lost its access ends.
// One process holds its own subscribers; with several server processes, publish() is what a
// Redis pub/sub would fan out.
import type { IncomingMessage } from 'node:http'
import type { Request, Response } from 'express'
import type { ProjectEvent } from '../../../shared/schemas/training.ts'
import type { AccessControl, Principal } from '../http/ApiRouter.ts'

interface Subscriber {
  projectId: number
  userId: number
  /** Authenticates the stream's credentials again (the session may have ended). */
  reauthenticate: () => Principal | null
  res: Response
}

/** A comment line every so often keeps proxies from closing an idle stream. */
const KEEP_ALIVE_MS = 20_000

export class ProjectEvents {
  private readonly subscribers = new Set<Subscriber>()
  private readonly keepAlive: NodeJS.Timeout

  constructor(private readonly access: AccessControl) {
    this.keepAlive = setInterval(() => {
      for (const subscriber of this.subscribers) subscriber.res.write(': keep-alive\n\n')
    }, KEEP_ALIVE_MS)
    this.keepAlive.unref()
  }

  /** Turns the response into an event stream of the project until the client goes away. */
  subscribe(projectId: number, principal: Principal, req: Request, res: Response): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    })
    // Reconnect after 2 s when the stream breaks (EventSource's default is 3 s).
    res.write('retry: 2000\n\n')
    const { cookie, authorization } = req.headers
    const subscriber: Subscriber = {
      projectId,
      userId: principal.userId,
      reauthenticate: () =>
        this.access.authenticate({ headers: { cookie, authorization } } as IncomingMessage),
      res,
    }
    this.subscribers.add(subscriber)
    res.on('close', () => this.subscribers.delete(subscriber))
  }

  publish(projectId: number, event: ProjectEvent): void {
    const data = `data: ${JSON.stringify(event)}\n\n`
    for (const subscriber of this.subscribers) {
      if (subscriber.projectId === projectId) subscriber.res.write(data)
    }
  }

  /** Ends the streams of subscribers who can no longer read the project. */
  refreshAccess(filter: { userId?: number; projectId?: number } = {}): void {
    for (const subscriber of this.subscribers) {
      if (filter.userId !== undefined && subscriber.userId !== filter.userId) continue
      if (filter.projectId !== undefined && subscriber.projectId !== filter.projectId) continue
      const principal = subscriber.reauthenticate()
      const allowed =
        principal?.userId === subscriber.userId &&
        this.access.projectRole(principal, subscriber.projectId) !== null
      if (!allowed) {
        this.subscribers.delete(subscriber)
        subscriber.res.end()
      }
    }
  }

  subscriberCount(projectId?: number): number {
    let count = 0
    for (const subscriber of this.subscribers) {
      if (projectId === undefined || subscriber.projectId === projectId) count++
    }
    return count
  }

  close(): void {
    clearInterval(this.keepAlive)
    for (const subscriber of this.subscribers) subscriber.res.end()
    this.subscribers.clear()
  }
}
