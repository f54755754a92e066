// The y-websocket endpoint at /collab/<room> (room "image:<imageId>"): authenticates the
// upgrade, maps the caller's project role to read-only for viewers, persists every update
// before relaying it, relays awareness, keeps the derived image index, and unloads idle docs.
// Speaks the standard y-websocket protocol (y-protocols sync + awareness).
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebSocket, WebSocketServer } from 'ws'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import {
  migrateDoc,
  observeAnnotations,
  type TransactionOrigin,
  userOrigin,
} from '../../../shared/doc/index.ts'
import { CLOSE_REASON, CloseCode } from '../../../shared/schemas/closeCodes.ts'
import { authenticateToken } from '../auth/accessControl.ts'
import type { Db } from '../db/database.ts'
import { type AccessControl, hasRole, type Principal } from '../http/ApiRouter.ts'
import type { Logger } from '../logger.ts'
import type { DocStore } from './docStore.ts'
import { computeImageIndex, writeImageIndex } from './imageIndex.ts'

const MESSAGE_SYNC = 0
const MESSAGE_AWARENESS = 1
const MESSAGE_QUERY_AWARENESS = 3
const PATH_PREFIX = '/collab/'

export interface CollabOptions {
  db: Db
  store: DocStore
  access: AccessControl
  log: Logger
  maxMessageBytes: number
  maxDocBytes: number
  /** Unload a document this long after its last connection closed. */
  unloadAfterMs?: number
  /** Compact the update log into a snapshot after this many updates. */
  compactAfterUpdates?: number
  indexDelayMs?: number
}

interface Connection {
  principal: Principal
  readOnly: boolean
  origin: TransactionOrigin
  awarenessIds: Set<number>
  alive: boolean
}

interface Room {
  name: string
  imageId: number
  doc: Y.Doc
  awareness: awarenessProtocol.Awareness
  connections: Map<WebSocket, Connection>
  bytes: number
  logged: number
  unloadTimer: NodeJS.Timeout | null
  indexTimer: NodeJS.Timeout | null
  stopObserving: () => void
  /** Set when the image was deleted: nothing of the room is stored any more. */
  discarded: boolean
}

function message(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

/** An awareness message with the given clients' states (all known clients by default). */
function awarenessMessage(
  awareness: awarenessProtocol.Awareness,
  clients = [...awareness.getStates().keys()],
) {
  return message((e) => {
    encoding.writeVarUint(e, MESSAGE_AWARENESS)
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, clients))
  })
}

export class CollabServer {
  private readonly wss: WebSocketServer
  private readonly rooms = new Map<string, Room>()
  private readonly heartbeat: NodeJS.Timeout
  private closing = false

  constructor(private readonly options: CollabOptions) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes })
    // Ping every 30 s; a connection that did not answer the last ping is dropped.
    this.heartbeat = setInterval(() => {
      for (const room of this.rooms.values()) {
        for (const [socket, connection] of room.connections) {
          if (!connection.alive) socket.terminate()
          else {
            connection.alive = false
            socket.ping()
          }
        }
      }
    }, 30_000)
    this.heartbeat.unref()
  }

  /** Handles an HTTP upgrade if it is for /collab/; returns false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith(PATH_PREFIX)) return false
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, url))
    return true
  }

  private accept(ws: WebSocket, req: IncomingMessage, url: URL) {
    const { db, access } = this.options
    const token = url.searchParams.get('token')
    const principal = token ? authenticateToken(db, token) : access.authenticate(req)
    if (!principal) return ws.close(CloseCode.Unauthorized, 'unauthorized')
    const roomName = decodeURIComponent(url.pathname.slice(PATH_PREFIX.length))
    const match = roomName.match(/^image:(\d+)$/)
    const image = match
      ? (db.prepare('SELECT id, project_id FROM images WHERE id = ?').get(Number(match[1])) as
          | { id: number; project_id: number }
          | undefined)
      : undefined
    // Unknown images and foreign projects look the same to a non-member.
    const role = image ? access.projectRole(principal, image.project_id) : null
    if (!image || role === null) {
      return ws.close(
        image ? CloseCode.Forbidden : CloseCode.NotFound,
        image ? 'forbidden' : 'not found',
      )
    }
    if (this.closing) return ws.close(CloseCode.ServerShutdown, 'shutting down')
    const room = this.openRoom(roomName, image.id)
    const connection: Connection = {
      principal,
      readOnly: !hasRole(role, 'annotator'),
      origin: userOrigin(principal.userId),
      awarenessIds: new Set(),
      alive: true,
    }
    room.connections.set(ws, connection)
    if (room.unloadTimer) clearTimeout(room.unloadTimer)
    room.unloadTimer = null
    ws.on('pong', () => {
      connection.alive = true
    })
    ws.on('message', (data: Buffer) => {
      try {
        this.receive(room, ws, connection, new Uint8Array(data))
      } catch (error) {
        this.options.log.error(`collab ${room.name}: bad message from ${principal.username}`, error)
        ws.close(1003, 'malformed message')
      }
    })
    ws.on('close', () => this.disconnect(room, ws))
    ws.on('error', () => ws.terminate())
    // Start the sync: our state vector, and the awareness states we know.
    this.send(
      ws,
      message((e) => {
        encoding.writeVarUint(e, MESSAGE_SYNC)
        syncProtocol.writeSyncStep1(e, room.doc)
      }),
    )
    if (room.awareness.getStates().size > 0) this.send(ws, awarenessMessage(room.awareness))
  }

  private receive(room: Room, ws: WebSocket, connection: Connection, data: Uint8Array) {
    const decoder = decoding.createDecoder(data)
    const type = decoding.readVarUint(decoder)
    if (type === MESSAGE_SYNC) {
      const syncType = decoding.readVarUint(decoder)
      if (syncType === syncProtocol.messageYjsSyncStep1) {
        const stateVector = decoding.readVarUint8Array(decoder)
        this.send(
          ws,
          message((e) => {
            encoding.writeVarUint(e, MESSAGE_SYNC)
            syncProtocol.writeSyncStep2(e, room.doc, stateVector)
          }),
        )
        return
      }
      const update = decoding.readVarUint8Array(decoder)
      // A viewer's changes are dropped: it still receives everyone else's.
      if (connection.readOnly) return
      if (room.bytes + update.length > this.options.maxDocBytes) {
        ws.close(CloseCode.DocTooLarge, 'document too large')
        return
      }
      Y.applyUpdate(room.doc, update, connection.origin)
    } else if (type === MESSAGE_AWARENESS) {
      awarenessProtocol.applyAwarenessUpdate(
        room.awareness,
        decoding.readVarUint8Array(decoder),
        ws,
      )
    } else if (type === MESSAGE_QUERY_AWARENESS) {
      this.send(ws, awarenessMessage(room.awareness))
    }
  }

  private send(ws: WebSocket, data: Uint8Array) {
    if (ws.readyState !== WebSocket.OPEN) return
    ws.send(data, (error) => {
      if (error) ws.terminate()
    })
  }

  private openRoom(name: string, imageId: number): Room {
    const existing = this.rooms.get(name)
    if (existing) return existing
    const { store } = this.options
    const stored = store.load(name)
    const doc = stored.doc
    const awareness = new awarenessProtocol.Awareness(doc)
    awareness.setLocalState(null) // the server has no presence of its own
    const room: Room = {
      name,
      imageId,
      doc,
      awareness,
      connections: new Map(),
      bytes: stored.bytes,
      logged: stored.logged,
      unloadTimer: null,
      indexTimer: null,
      stopObserving: () => {},
      discarded: false,
    }
    doc.on('update', (update: Uint8Array) => {
      // A discarded room (its image deleted) stores nothing more.
      if (room.discarded) return
      // Durable first, then relayed: no client sees an update the disk does not have.
      store.append(name, update)
      room.bytes += update.length
      room.logged++
      const data = message((e) => {
        encoding.writeVarUint(e, MESSAGE_SYNC)
        syncProtocol.writeUpdate(e, update)
      })
      for (const socket of room.connections.keys()) this.send(socket, data)
      if (room.logged >= (this.options.compactAfterUpdates ?? 500)) this.compact(room)
    })
    awareness.on(
      'update',
      ({ added, updated, removed }: Record<string, number[]>, origin: unknown) => {
        const changed = [...added, ...updated, ...removed]
        const owner = origin instanceof WebSocket ? room.connections.get(origin) : undefined
        if (owner) {
          for (const id of added) owner.awarenessIds.add(id)
          for (const id of removed) owner.awarenessIds.delete(id)
        }
        const data = awarenessMessage(awareness, changed)
        for (const socket of room.connections.keys()) this.send(socket, data)
      },
    )
    room.stopObserving = observeAnnotations(doc, () => this.scheduleIndex(room))
    migrateDoc(doc)
    this.rooms.set(name, room)
    this.scheduleIndex(room)
    return room
  }

  private scheduleIndex(room: Room) {
    if (room.indexTimer) return
    room.indexTimer = setTimeout(() => {
      room.indexTimer = null
      this.writeIndex(room)
    }, this.options.indexDelayMs ?? 200)
  }

  private writeIndex(room: Room) {
    if (room.indexTimer) clearTimeout(room.indexTimer)
    room.indexTimer = null
    try {
      writeImageIndex(this.options.db, computeImageIndex(room.imageId, room.doc))
    } catch (error) {
      // The image may have been deleted while its document was open.
      this.options.log.error(`collab ${room.name}: index not written`, error)
    }
  }

  private compact(room: Room) {
    room.bytes = this.options.store.compact(room.name, room.doc)
    room.logged = 0
  }

  private disconnect(room: Room, ws: WebSocket) {
    const connection = room.connections.get(ws)
    room.connections.delete(ws)
    if (connection && connection.awarenessIds.size > 0) {
      awarenessProtocol.removeAwarenessStates(room.awareness, [...connection.awarenessIds], null)
    }
    if (room.connections.size === 0 && !this.closing) {
      room.unloadTimer = setTimeout(() => this.unload(room), this.options.unloadAfterMs ?? 30_000)
      room.unloadTimer.unref()
    }
  }

  private unload(room: Room) {
    if (room.connections.size > 0) return
    this.writeIndex(room)
    if (room.logged > 0) this.compact(room)
    room.stopObserving()
    room.awareness.destroy()
    room.doc.destroy()
    this.rooms.delete(room.name)
  }

  /** Who is on which of these images now, from their awareness states. */
  presence(imageIds: Set<number>): { imageId: number; users: { name: string; color: string }[] }[] {
    const out: { imageId: number; users: { name: string; color: string }[] }[] = []
    for (const room of this.rooms.values()) {
      if (!imageIds.has(room.imageId) || room.connections.size === 0) continue
      const users = new Map<string, { name: string; color: string }>()
      for (const state of room.awareness.getStates().values()) {
        const user = state.user as { id?: unknown; name?: unknown; color?: unknown } | undefined
        if (typeof user?.name === 'string' && typeof user.color === 'string') {
          users.set(String(user.id ?? user.name), { name: user.name, color: user.color })
        }
      }
      if (users.size > 0) out.push({ imageId: room.imageId, users: [...users.values()] })
    }
    return out
  }

  /**
   * Drops a deleted image's live document without storing it again (the database deletes its
   * stored document with the image); its editors are told the image is gone.
   */
  discardImage(imageId: number) {
    const room = this.rooms.get(`image:${imageId}`)
    if (!room) return
    room.discarded = true
    this.rooms.delete(room.name)
    for (const socket of room.connections.keys())
      socket.close(CloseCode.NotFound, CLOSE_REASON[CloseCode.NotFound])
    room.connections.clear()
    if (room.unloadTimer) clearTimeout(room.unloadTimer)
    if (room.indexTimer) clearTimeout(room.indexTimer)
    room.stopObserving()
    room.awareness.destroy()
    room.doc.destroy()
  }

  /** The live document of a room, if loaded (tests and server-side writers). */
  liveDoc(name: string): Y.Doc | undefined {
    return this.rooms.get(name)?.doc
  }

  get connectionCount(): number {
    let n = 0
    for (const room of this.rooms.values()) n += room.connections.size
    return n
  }

  /** Closes every connection, writes indexes and snapshots, and unloads every document. */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    clearInterval(this.heartbeat)
    for (const room of this.rooms.values()) {
      for (const socket of room.connections.keys())
        socket.close(CloseCode.ServerShutdown, 'server shutting down')
    }
    for (const room of [...this.rooms.values()]) {
      room.connections.clear()
      if (room.unloadTimer) clearTimeout(room.unloadTimer)
      this.unload(room)
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
  }
}
