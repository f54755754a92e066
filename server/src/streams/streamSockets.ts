// The stream websockets: `/streams/:streamId/ingest` (an instrument: binary CBOR both ways) and
// `/streams/:streamId/events` (a subscriber: JSON text). Credentials are checked at the HTTP
// upgrade and refused there with a status and a JSON {error}; after that a bad message is
// answered with an `error` message and the connection stays open.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { encode } from 'cbor-x'
import { type WebSocket, WebSocketServer } from 'ws'
import type { ServerMessage } from '../../../shared/schemas/streams.ts'
import type { Db } from '../db/database.ts'
import type { AccessControl, Principal } from '../http/ApiRouter.ts'
import type { Logger } from '../logger.ts'
import { decodeIngestMessage, IngestRefusal } from './ingestMessages.ts'
import { authenticateInstrument, instrumentTokenOf } from './instrumentTokens.ts'
import type { InstrumentPeer, StreamPeer } from './liveStream.ts'
import type { StreamHub } from './StreamHub.ts'
import { getStream } from './streamRecords.ts'

/** A peer that leaves this much unread is sent nothing more until it catches up (memory stays
 * bounded however slowly an instrument or a subscriber reads). */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024
const PATH = /^\/streams\/([1-9][0-9]{0,14})\/(ingest|events)$/
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
}

export interface StreamSocketsOptions {
  db: Db
  log: Logger
  hub: StreamHub
  access: AccessControl
  maxMessageBytes: number
  /** Throws when a browser's Origin may not open a websocket here (collab's check). */
  checkOrigin(request: IncomingMessage): void
}

class UpgradeRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export class StreamSockets {
  private readonly wss: WebSocketServer
  private readonly heartbeat: NodeJS.Timeout
  private readonly alive = new WeakMap<WebSocket, boolean>()
  /** Subscribers that came with a user's credentials, checked again when access changes. */
  private readonly members = new Map<
    WebSocket,
    { userId: number; projectId: number; reauthenticate: () => Principal | null }
  >()
  private closing = false

  constructor(private readonly options: StreamSocketsOptions) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes })
    // Ping every 30 s; a connection that did not answer the last ping is dropped.
    this.heartbeat = setInterval(() => {
      for (const ws of this.wss.clients) {
        if (this.alive.get(ws) === false) ws.terminate()
        else {
          this.alive.set(ws, false)
          ws.ping()
        }
      }
    }, 30_000)
    this.heartbeat.unref()
  }

  /** Handles an HTTP upgrade if it is for /streams/; returns false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith('/streams/')) return false
    // A client gone before the handshake finished must not take the server down.
    socket.on('error', () => socket.destroy())
    try {
      if (this.closing) throw new UpgradeRefusal(503, 'The server is shutting down')
      const match = PATH.exec(url.pathname)
      if (!match) throw new UpgradeRefusal(404, `No stream socket ${url.pathname}`)
      const streamId = Number(match[1])
      const accept =
        match[2] === 'ingest'
          ? this.authorizeIngest(req, streamId)
          : this.authorizeEvents(req, streamId)
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.alive.set(ws, true)
        ws.on('pong', () => this.alive.set(ws, true))
        ws.on('error', (error) => this.options.log.info(`stream ${streamId}: ${error.message}`))
        accept(ws)
      })
    } catch (error) {
      if (!(error instanceof UpgradeRefusal)) {
        this.options.log.error('stream socket: upgrade failed', error)
        refuse(socket, 500, 'Server error')
      } else refuse(socket, error.status, error.message)
    }
    return true
  }

  private authorizeIngest(req: IncomingMessage, streamId: number): (ws: WebSocket) => void {
    const { db, hub } = this.options
    const token = instrumentTokenOf(req)
    if (!token)
      throw new UpgradeRefusal(401, 'Send an instrument token (Authorization: Bearer tsi_…)')
    const principal = authenticateInstrument(db, token)
    if (!principal) throw new UpgradeRefusal(401, 'The instrument token is unknown or revoked')
    const stream = getStream(db, streamId)
    if (!stream) throw new UpgradeRefusal(404, `No stream ${streamId}`)
    if (stream.projectId !== principal.projectId)
      throw new UpgradeRefusal(403, "The instrument token is not for this stream's project")
    return (ws) => {
      const peer: InstrumentPeer = {
        tokenId: principal.tokenId,
        tokenCreatedBy: principal.createdBy,
        send: (message) => sendCbor(ws, message),
        close: (code, reason) => ws.close(code, reason),
      }
      let detach: () => void
      try {
        detach = hub.attachInstrument(streamId, peer)
      } catch {
        ws.close(4404, 'stream deleted')
        return
      }
      ws.on('close', () => detach())
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        try {
          if (!isBinary) throw new IngestRefusal('send binary CBOR messages, not text')
          const message = decodeIngestMessage(data)
          if (message.type === 'start') hub.start(streamId, peer, message.start)
          else if (message.type === 'image') hub.frame(streamId, message.image)
          else hub.end(streamId, message.end.series_id)
        } catch (error) {
          if (!(error instanceof IngestRefusal)) {
            this.options.log.error(`stream ${streamId}: a message failed`, error)
          }
          const refusal =
            error instanceof IngestRefusal
              ? error
              : new IngestRefusal('the server could not take this message')
          hub.refused(streamId, refusal.seriesId)
          const answer: ServerMessage = { type: 'error', error: refusal.message }
          if (refusal.seriesId !== undefined) answer.series_id = refusal.seriesId
          if (refusal.imageId !== undefined) answer.image_id = refusal.imageId
          peer.send(answer)
        }
      })
      peer.send({
        type: 'ready',
        stream_id: streamId,
        model_version: hub.currentModelName(stream.projectId),
      })
    }
  }

  private authorizeEvents(req: IncomingMessage, streamId: number): (ws: WebSocket) => void {
    const { db, hub, access } = this.options
    const stream = () => getStream(db, streamId)
    const token = instrumentTokenOf(req)
    let member: {
      userId: number
      projectId: number
      reauthenticate: () => Principal | null
    } | null = null
    if (token) {
      const principal = authenticateInstrument(db, token)
      if (!principal) throw new UpgradeRefusal(401, 'The instrument token is unknown or revoked')
      const found = stream()
      if (!found) throw new UpgradeRefusal(404, `No stream ${streamId}`)
      if (found.projectId !== principal.projectId)
        throw new UpgradeRefusal(403, "The instrument token is not for this stream's project")
    } else {
      try {
        this.options.checkOrigin(req)
      } catch (error) {
        throw new UpgradeRefusal(403, (error as Error).message)
      }
      const principal = access.authenticate(req)
      if (!principal) throw new UpgradeRefusal(401, 'Log in, or send an instrument token')
      const found = stream()
      const role = found ? access.projectRole(principal, found.projectId) : null
      // Unknown streams and foreign projects look the same to a non-member.
      if (!found || role === null) throw new UpgradeRefusal(404, `No stream ${streamId}`)
      const { cookie, authorization } = req.headers
      member = {
        userId: principal.userId,
        projectId: found.projectId,
        reauthenticate: () =>
          access.authenticate({ headers: { cookie, authorization } } as IncomingMessage),
      }
    }
    return (ws) => {
      if (member) {
        this.members.set(ws, member)
        ws.on('close', () => this.members.delete(ws))
      }
      const peer: StreamPeer = {
        send: (message) => {
          if (ws.readyState === ws.OPEN && ws.bufferedAmount < MAX_UNREAD_BYTES)
            ws.send(JSON.stringify(message))
        },
        close: (code, reason) => ws.close(code, reason),
      }
      try {
        const detach = hub.attachSubscriber(streamId, peer)
        ws.on('close', detach)
      } catch {
        ws.close(4404, 'stream deleted')
      }
      // Subscribers only listen.
      ws.on('message', () => {})
    }
  }

  /** Closes member subscribers who can no longer read the project (AppContext.accessChanged). */
  refreshAccess(filter: { userId?: number; projectId?: number } = {}): void {
    for (const [ws, member] of this.members) {
      if (filter.userId !== undefined && member.userId !== filter.userId) continue
      if (filter.projectId !== undefined && member.projectId !== filter.projectId) continue
      const principal = member.reauthenticate()
      const allowed =
        principal?.userId === member.userId &&
        this.options.access.projectRole(principal, member.projectId) !== null
      if (!allowed) {
        this.members.delete(ws)
        ws.close(4403, 'no longer a member')
      }
    }
  }

  close(): void {
    this.closing = true
    clearInterval(this.heartbeat)
    for (const ws of this.wss.clients) ws.close(1001, 'server shutting down')
    this.wss.close()
  }
}

function sendCbor(ws: WebSocket, message: ServerMessage): void {
  if (ws.readyState !== ws.OPEN || ws.bufferedAmount >= MAX_UNREAD_BYTES) return
  ws.send(encode(withoutUndefined(message)))
}

/** CBOR has its own `undefined`; optional fields that are absent are left out instead. */
function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, entry] of Object.entries(value)) {
    if (entry !== undefined) out[key] = withoutUndefined(entry)
  }
  return out
}

function refuse(socket: Duplex, status: number, error: string): void {
  const body = JSON.stringify({ error })
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}
