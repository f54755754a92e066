// One loaded document and its connections, and the y-websocket messages the core sends them:
// a connection knows its access and role, and is told what the server decided about it; a room
// traces each transaction back to the connection that made it.
import * as encoding from 'lib0/encoding'
import { WebSocket } from 'ws'
import * as authProtocol from 'y-protocols/auth'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import { userOrigin } from '../../../shared/doc/index.ts'
import type { CollabNotice } from '../../../shared/schemas/collabNotice.ts'
import { hasRole, type ProjectRole } from '../http/ApiRouter.ts'
import type { CollabConnection, CollabRoom, RoomAccess } from './hooks.ts'

export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_AUTH = 2
export const MESSAGE_QUERY_AWARENESS = 3

export function message(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

/** An awareness message with the given clients' states (all known clients by default). */
export function awarenessMessage(
  awareness: awarenessProtocol.Awareness,
  clients = [...awareness.getStates().keys()],
) {
  return message((e) => {
    encoding.writeVarUint(e, MESSAGE_AWARENESS)
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, clients))
  })
}

/** An update without structs or deletions (two zero counts in Yjs' update format v1). */
export const isEmptyUpdate = (update: Uint8Array) =>
  update.length === 2 && update[0] === 0 && update[1] === 0

export function send(ws: WebSocket, data: Uint8Array) {
  if (ws.readyState !== WebSocket.OPEN) return
  ws.send(data, (error) => {
    if (error) ws.terminate()
  })
}

export class Connection implements CollabConnection {
  role: ProjectRole
  readonly origin
  /** Awareness client ids this connection set. */
  readonly awarenessIds = new Set<number>()
  alive = true
  lastReadOnlyNotice = 0
  /** Set once an update of this connection was dropped (it was read-only then). */
  droppedUpdates = false

  constructor(
    readonly socket: WebSocket,
    readonly access: RoomAccess,
  ) {
    this.role = access.role
    // One origin object per connection: transactions are traced back to it by identity.
    this.origin = userOrigin(access.principal.userId)
  }

  get readOnly() {
    return !hasRole(this.role, 'annotator')
  }

  notify(notice: CollabNotice) {
    send(
      this.socket,
      message((e) => {
        encoding.writeVarUint(e, MESSAGE_AUTH)
        authProtocol.writePermissionDenied(e, JSON.stringify(notice))
      }),
    )
  }

  close(code: number, reason: string) {
    this.socket.close(code, reason)
  }
}

export class Room implements CollabRoom {
  readonly doc = new Y.Doc({ gc: true })
  readonly awareness: awarenessProtocol.Awareness
  readonly connections = new Map<WebSocket, Connection>()
  private readonly byOrigin = new Map<unknown, Connection>()
  unloadTimer: NodeJS.Timeout | null = null
  /** Updates of the transactions in progress, stored and relayed together when they end. */
  outbox: Uint8Array[] = []
  /** Set when the image was deleted: nothing of the room is stored any more. */
  discarded = false
  /** Why the last flush could not store its update (read by CollabServer.transact). */
  storeError: unknown = undefined

  constructor(
    readonly name: string,
    readonly imageId: number,
    readonly projectId: number,
    readonly image: { width: number; height: number },
  ) {
    this.awareness = new awarenessProtocol.Awareness(this.doc)
    this.awareness.setLocalState(null) // the server has no presence of its own
  }

  add(connection: Connection) {
    this.connections.set(connection.socket, connection)
    this.byOrigin.set(connection.origin, connection)
  }

  remove(socket: WebSocket): Connection | undefined {
    const connection = this.connections.get(socket)
    this.connections.delete(socket)
    if (connection) this.byOrigin.delete(connection.origin)
    return connection
  }

  connectionOf(origin: unknown): Connection | null {
    return this.byOrigin.get(origin) ?? null
  }

  awarenessOwner(clientId: number): Connection | undefined {
    for (const connection of this.connections.values()) {
      if (connection.awarenessIds.has(clientId)) return connection
    }
    return undefined
  }
}
