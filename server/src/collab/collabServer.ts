// The y-websocket endpoint at /collab/<room>: speaks the standard protocol (y-protocols sync and
// awareness), keeps one room per loaded document with its connections, and relays. Everything
// else (who may connect, storage, the document guard, the index, presence) is an extension
// called through typed hooks (hooks.ts), in the order given.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { type WebSocket, WebSocketServer } from 'ws'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import type { TransactionOrigin } from '../../../shared/doc/origins.ts'
import type { ImageExtent } from '../../../shared/doc/validation.ts'
import { CLOSE_REASON, CloseCode } from '../../../shared/schemas/closeCodes.ts'
import type { ProjectRole } from '../http/ApiRouter.ts'
import type { Logger } from '../logger.ts'
import { type CollabExtension, CollabRefusal, type CollabRoom, type RoomAccess } from './hooks.ts'
import {
  awarenessMessage,
  Connection,
  isEmptyUpdate,
  MESSAGE_AWARENESS,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_SYNC,
  message,
  Room,
  send,
} from './Room.ts'

const PATH_PREFIX = '/collab/'
/** A read-only connection that keeps sending edits is told so at most this often. */
const READ_ONLY_NOTICE_MS = 1_000

export interface CollabOptions {
  extensions: CollabExtension[]
  log: Logger
  maxMessageBytes: number
  /** Unload a document this long after its last connection closed. */
  unloadAfterMs?: number
  /** Check every open connection's credentials and role this often (changes this process
   * makes are applied at once through refreshAccess). */
  accessSweepMs?: number
}

export class CollabServer {
  private readonly wss: WebSocketServer
  private readonly rooms = new Map<string, Room>()
  private readonly heartbeat: NodeJS.Timeout
  private readonly sweep: NodeJS.Timeout
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
    this.sweep = setInterval(() => this.refreshAccess(), options.accessSweepMs ?? 10_000)
    this.sweep.unref()
  }

  private get extensions() {
    return this.options.extensions
  }

  /** Handles an HTTP upgrade if it is for /collab/; returns false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith(PATH_PREFIX)) return false
    try {
      for (const extension of this.extensions) extension.onUpgrade?.({ request: req })
    } catch (error) {
      if (!(error instanceof CollabRefusal)) throw error
      const status = error.httpStatus ?? 403
      socket.end(
        `HTTP/1.1 ${status} Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${error.reason}\n`,
      )
      return true
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, url))
    return true
  }

  private accept(ws: WebSocket, req: IncomingMessage, url: URL) {
    if (this.closing) return ws.close(CloseCode.ServerShutdown, 'shutting down')
    let access: RoomAccess | undefined
    try {
      const roomName = decodeURIComponent(url.pathname.slice(PATH_PREFIX.length))
      for (const extension of this.extensions) {
        access ??= extension.onAuthenticate?.({ request: req, roomName })
      }
    } catch (error) {
      if (error instanceof CollabRefusal) return ws.close(error.code, error.reason)
      this.options.log.error('collab: authentication failed', error)
      return ws.close(1011, 'server error')
    }
    if (!access) return ws.close(CloseCode.Unauthorized, CLOSE_REASON[CloseCode.Unauthorized])
    const room = this.openRoom(access)
    const connection = new Connection(ws, access)
    room.add(connection)
    if (room.unloadTimer) clearTimeout(room.unloadTimer)
    room.unloadTimer = null
    ws.on('pong', () => {
      connection.alive = true
    })
    ws.on('message', (data: Buffer) => {
      try {
        this.receive(room, connection, new Uint8Array(data))
      } catch (error) {
        if (error instanceof CollabRefusal) return connection.close(error.code, error.reason)
        this.options.log.error(
          `collab ${room.name}: bad message from ${access.principal.username}`,
          error,
        )
        ws.close(1003, 'malformed message')
      }
    })
    ws.on('close', () => this.disconnect(room, ws))
    // ws closes the socket itself after an error, with the error's code (1009 for a message over
    // the limit): terminating here would cut the close frame off, and the client, seeing 1006,
    // would reconnect and send the same message again.
    ws.on('error', (error) =>
      this.options.log.info(`collab ${room.name}: ${access.principal.username}: ${error.message}`),
    )
    // Start the sync: the connection's access, our state vector, the awareness states we know.
    connection.notify({ type: 'access', role: connection.role, readOnly: connection.readOnly })
    this.requestSync(room, connection)
    if (room.awareness.getStates().size > 0) send(ws, awarenessMessage(room.awareness))
  }

  /** Sync step 1: our state vector; the client answers with what the document lacks. */
  private requestSync(room: Room, connection: Connection) {
    send(
      connection.socket,
      message((e) => {
        encoding.writeVarUint(e, MESSAGE_SYNC)
        syncProtocol.writeSyncStep1(e, room.doc)
      }),
    )
  }

  private receive(room: Room, connection: Connection, data: Uint8Array) {
    const decoder = decoding.createDecoder(data)
    const type = decoding.readVarUint(decoder)
    if (type === MESSAGE_SYNC) {
      const syncType = decoding.readVarUint(decoder)
      if (syncType === syncProtocol.messageYjsSyncStep1) {
        const stateVector = decoding.readVarUint8Array(decoder)
        send(
          connection.socket,
          message((e) => {
            encoding.writeVarUint(e, MESSAGE_SYNC)
            syncProtocol.writeSyncStep2(e, room.doc, stateVector)
          }),
        )
        return
      }
      const update = decoding.readVarUint8Array(decoder)
      if (connection.readOnly) {
        // A sync reply with nothing in it (a client with no edits of its own) is no edit.
        if (isEmptyUpdate(update)) return
        // Dropped: the connection still receives everyone else's changes, and is told why.
        connection.droppedUpdates = true
        const now = Date.now()
        if (now - connection.lastReadOnlyNotice >= READ_ONLY_NOTICE_MS) {
          connection.lastReadOnlyNotice = now
          connection.notify({
            type: 'read-only',
            message: `As a ${connection.role} you can view this image but not edit it; your edit was not saved.`,
          })
        }
        return
      }
      for (const extension of this.extensions) {
        extension.beforeApplyUpdate?.({ room, connection, update })
      }
      Y.applyUpdate(room.doc, update, connection.origin)
      const store = room.doc.store
      if (store.pendingStructs !== null || store.pendingDs !== null) {
        // The update depends on changes the server never received: apply nothing of it later
        // under someone else's transaction, and tell the client to start again.
        store.pendingStructs = null
        store.pendingDs = null
        connection.close(CloseCode.BadUpdate, CLOSE_REASON[CloseCode.BadUpdate])
      }
    } else if (type === MESSAGE_AWARENESS) {
      let update: Uint8Array | null = decoding.readVarUint8Array(decoder)
      for (const extension of this.extensions) {
        if (update === null) break
        if (extension.onAwarenessUpdate)
          update = extension.onAwarenessUpdate({ room, connection, update })
      }
      if (update) awarenessProtocol.applyAwarenessUpdate(room.awareness, update, connection)
    } else if (type === MESSAGE_QUERY_AWARENESS) {
      send(connection.socket, awarenessMessage(room.awareness))
    }
  }

  private openRoom(access: Pick<RoomAccess, 'roomName' | 'imageId' | 'projectId' | 'image'>): Room {
    const existing = this.rooms.get(access.roomName)
    if (existing) return existing
    const room = new Room(access.roomName, access.imageId, access.projectId, access.image)
    for (const extension of this.extensions) extension.onLoadDocument?.({ room })
    const { doc } = room
    doc.on('afterTransaction', (transaction: Y.Transaction) => {
      if (room.discarded) return
      const connection = room.connectionOf(transaction.origin)
      for (const extension of this.extensions) {
        extension.onChange?.({ room, transaction, connection })
      }
    })
    doc.on('update', (update: Uint8Array) => {
      if (!room.discarded) room.outbox.push(update)
    })
    // A connection's update and the transactions it caused (a repair) end together: store them
    // as one update, then relay it, so no one ever sees the update without its repair.
    doc.on('afterAllTransactions', () => this.flush(room))
    room.awareness.on(
      'update',
      ({ added, updated, removed }: Record<string, number[]>, origin: unknown) => {
        const owner = origin instanceof Connection ? origin : undefined
        if (owner) {
          for (const id of added) owner.awarenessIds.add(id)
          for (const id of removed) owner.awarenessIds.delete(id)
        }
        const data = awarenessMessage(room.awareness, [...added, ...updated, ...removed])
        for (const socket of room.connections.keys()) send(socket, data)
      },
    )
    this.rooms.set(room.name, room)
    for (const extension of this.extensions) extension.afterLoadDocument?.({ room })
    return room
  }

  private flush(room: Room) {
    if (room.outbox.length === 0) return
    const update = room.outbox.length === 1 ? room.outbox[0] : Y.mergeUpdates(room.outbox)
    room.outbox = []
    // Durable first, then relayed: no client sees an update the disk does not have.
    try {
      for (const extension of this.extensions) extension.onStoreDocument?.({ room, update })
    } catch (error) {
      // Not stored: relay nothing, and let the room's editors reconnect and sync again.
      this.options.log.error(`collab ${room.name}: an update could not be stored`, error)
      room.storeError = error
      for (const connection of room.connections.values()) connection.close(1011, 'storage failed')
      return
    }
    const data = message((e) => {
      encoding.writeVarUint(e, MESSAGE_SYNC)
      syncProtocol.writeUpdate(e, update)
    })
    for (const socket of room.connections.keys()) send(socket, data)
  }

  private disconnect(room: Room, ws: WebSocket) {
    const connection = room.remove(ws)
    if (!connection) return
    if (connection.awarenessIds.size > 0) {
      awarenessProtocol.removeAwarenessStates(room.awareness, [...connection.awarenessIds], null)
    }
    for (const extension of this.extensions) extension.onDisconnect?.({ room, connection })
    if (room.connections.size === 0 && !this.closing && !room.discarded) {
      room.unloadTimer = setTimeout(() => this.unload(room), this.options.unloadAfterMs ?? 30_000)
      room.unloadTimer.unref()
    }
  }

  private unload(room: Room) {
    if (room.connections.size > 0) return
    for (const extension of this.extensions) {
      try {
        extension.beforeUnloadDocument?.({ room })
      } catch (error) {
        // Updates are in the log already; only the snapshot or the index was not written.
        this.options.log.error(`collab ${room.name}: not everything was stored at unload`, error)
      }
    }
    this.destroyRoom(room)
  }

  private destroyRoom(room: Room) {
    if (room.unloadTimer) clearTimeout(room.unloadTimer)
    room.awareness.destroy()
    room.doc.destroy()
    this.rooms.delete(room.name)
  }

  /**
   * Checks open connections' credentials and roles again (all, or those of one user or one
   * project): a connection whose access ended is closed with the hook's code, one whose role
   * changed is told and becomes read-only or writable.
   */
  refreshAccess(filter: { userId?: number; projectId?: number } = {}) {
    for (const room of this.rooms.values()) {
      if (filter.projectId !== undefined && room.projectId !== filter.projectId) continue
      for (const connection of [...room.connections.values()]) {
        if (filter.userId !== undefined && connection.access.principal.userId !== filter.userId)
          continue
        let role: ProjectRole | undefined
        try {
          for (const extension of this.extensions) {
            role ??= extension.onReauthenticate?.({ room, connection })
          }
        } catch (error) {
          if (!(error instanceof CollabRefusal)) throw error
          connection.close(error.code, error.reason)
          continue
        }
        if (role && role !== connection.role) {
          const wasReadOnly = connection.readOnly
          connection.role = role
          connection.notify({ type: 'access', role, readOnly: connection.readOnly })
          if (wasReadOnly && !connection.readOnly && connection.droppedUpdates) {
            // Its client's later updates build on the dropped ones: ask for everything this
            // document lacks, to be applied (and guarded) under the new role.
            connection.droppedUpdates = false
            this.requestSync(room, connection)
          }
        }
      }
    }
  }

  /** Loaded rooms (presence, tests). */
  loadedRooms(): Iterable<CollabRoom> {
    return this.rooms.values()
  }

  /**
   * Drops a deleted image's live document without storing it again (the database deletes its
   * stored document with the image); its editors are told the image is gone.
   */
  discardImage(imageId: number) {
    for (const room of [...this.rooms.values()]) {
      if (room.imageId !== imageId) continue
      room.discarded = true
      for (const extension of this.extensions) extension.onDiscardDocument?.({ room })
      for (const connection of room.connections.values())
        connection.close(CloseCode.NotFound, CLOSE_REASON[CloseCode.NotFound])
      room.connections.clear()
      this.destroyRoom(room)
    }
  }

  /**
   * The one way the server writes into an image's document, whether or not anyone has it open.
   * `write` runs on a copy of the document; what it changed is then applied to the room in one
   * transaction with `origin`, so a write that throws half-way changes nothing. A room nobody has
   * open is loaded for the write exactly as for a connection (from storage, migrated, guarded,
   * indexed), stored, and unloaded again; an open one changes live and its editors receive the
   * change. Throws when `write` throws or the change could not be stored.
   */
  transact(
    target: { imageId: number; projectId: number; image: ImageExtent },
    write: (doc: Y.Doc) => void,
    origin: TransactionOrigin,
  ): void {
    if (this.closing) throw new Error('The collaboration server is shutting down')
    const roomName = `image:${target.imageId}`
    const existing = this.rooms.get(roomName)
    if (existing && existing.projectId !== target.projectId)
      throw new Error(`${roomName} is not an image of project ${target.projectId}`)
    const room = existing ?? this.openRoom({ roomName, ...target })
    try {
      const scratch = new Y.Doc({ gc: true })
      Y.applyUpdate(scratch, Y.encodeStateAsUpdate(room.doc))
      const before = Y.encodeStateVector(scratch)
      write(scratch)
      const change = Y.encodeStateAsUpdate(scratch, before)
      scratch.destroy()
      room.storeError = undefined
      Y.applyUpdate(room.doc, change, origin)
      if (room.storeError) throw room.storeError
    } finally {
      room.storeError = undefined
      if (!existing && room.connections.size === 0 && !room.discarded) this.unload(room)
    }
  }

  /** The live document of a room, if loaded (tests and server-side writers). */
  liveDoc(name: string): Y.Doc | undefined {
    return this.rooms.get(name)?.doc
  }

  /**
   * A copy of a room's document, whether or not it is loaded: the live state when it is, the
   * stored one otherwise (empty when nothing is stored). The caller owns the copy; the live
   * document is never handed out, so no reader can change or hold it.
   */
  async readDocument(name: string): Promise<Y.Doc> {
    const live = this.rooms.get(name)?.doc
    if (live) {
      const copy = new Y.Doc({ gc: true })
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(live))
      return copy
    }
    for (const extension of this.extensions) {
      const stored = extension.onReadDocument?.({ roomName: name })
      if (stored) return stored
    }
    return new Y.Doc({ gc: true })
  }

  get connectionCount(): number {
    let n = 0
    for (const room of this.rooms.values()) n += room.connections.size
    return n
  }

  /** Closes every connection, stores what must survive, and unloads every document. */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    clearInterval(this.heartbeat)
    clearInterval(this.sweep)
    for (const room of this.rooms.values()) {
      for (const connection of room.connections.values())
        connection.close(CloseCode.ServerShutdown, 'server shutting down')
    }
    for (const room of [...this.rooms.values()]) {
      room.connections.clear()
      this.unload(room)
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
  }
}
