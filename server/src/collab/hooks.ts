// The collaboration server's extension points, after Hocuspocus: each ability (access checks,
// persistence, the document guard, the image index, presence) is an extension with typed hooks
// that the core calls in order. Hooks are synchronous on purpose: with better-sqlite3 an update
// is durable before the core relays it, and no await can reorder two updates of one room.
import type { IncomingMessage } from 'node:http'
import type { WebSocket } from 'ws'
import type * as awarenessProtocol from 'y-protocols/awareness'
import type * as Y from 'yjs'
import type { TransactionOrigin } from '../../../shared/doc/index.ts'
import type { ImageExtent } from '../../../shared/doc/validation.ts'
import type { CollabNotice } from '../../../shared/schemas/collabNotice.ts'
import type { Principal, ProjectRole } from '../http/ApiRouter.ts'

/** Thrown by a hook to refuse: a websocket close code, or an HTTP status before the upgrade. */
export class CollabRefusal extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    /** Set by onUpgrade: the upgrade is answered with this HTTP status and no socket is opened. */
    readonly httpStatus?: number,
  ) {
    super(reason)
  }
}

/** Who may open which room, as onAuthenticate establishes it. */
export interface RoomAccess {
  roomName: string
  imageId: number
  projectId: number
  image: ImageExtent
  principal: Principal
  /** The name collaborators see (from the account, never from the client). */
  displayName: string
  role: ProjectRole
  /** Checks the connection's credentials again: its principal, or null when they ended. */
  reauthenticate(): Principal | null
}

export interface CollabConnection {
  readonly socket: WebSocket
  readonly access: RoomAccess
  /** The project role now (re-checked while the connection is open). */
  role: ProjectRole
  /** Viewers' updates are dropped; they still receive everyone else's. */
  readonly readOnly: boolean
  /** The transaction origin of this connection's updates (one object per connection). */
  readonly origin: TransactionOrigin
  notify(notice: CollabNotice): void
  close(code: number, reason: string): void
}

export interface CollabRoom {
  readonly name: string
  readonly imageId: number
  readonly projectId: number
  readonly image: ImageExtent
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  readonly connections: ReadonlyMap<WebSocket, CollabConnection>
  /** The connection whose update a transaction came from, or null (the server's own writes). */
  connectionOf(origin: unknown): CollabConnection | null
  /** Which connection set an awareness client id; a connection may only change its own. */
  awarenessOwner(clientId: number): CollabConnection | undefined
}

export interface RoomPayload {
  room: CollabRoom
}
export interface ConnectionPayload extends RoomPayload {
  connection: CollabConnection
}
export interface OnUpgradePayload {
  request: IncomingMessage
}
export interface OnAuthenticatePayload {
  request: IncomingMessage
  /** The room name from the URL, decoded, not yet checked. */
  roomName: string
}
export interface BeforeApplyUpdatePayload extends ConnectionPayload {
  update: Uint8Array
}
export interface OnChangePayload extends RoomPayload {
  transaction: Y.Transaction
  /** The connection that made the change; null for the server's own writes. */
  connection: CollabConnection | null
}
export interface OnStoreDocumentPayload extends RoomPayload {
  /** Everything one applied message changed (the connection's update and any repair). */
  update: Uint8Array
}
export interface OnAwarenessUpdatePayload extends ConnectionPayload {
  update: Uint8Array
}

/** An ability of the collaboration server; every hook is optional. */
export interface CollabExtension {
  /** Before the websocket exists: throw a CollabRefusal with an HTTP status to refuse it. */
  onUpgrade?(payload: OnUpgradePayload): void
  /** Who connects to which room with which role; the first extension that answers decides. */
  onAuthenticate?(payload: OnAuthenticatePayload): RoomAccess | undefined
  /** Fills a new room's document (from storage) before anything observes it. */
  onLoadDocument?(payload: RoomPayload): void
  /**
   * The stored document of a room that is not loaded, as a new Y.Doc the caller owns (readers
   * such as training); the first extension that answers decides.
   */
  onReadDocument?(payload: { roomName: string }): Y.Doc | undefined
  /** The room is loaded and observed: migrations, guards and indexes start here. */
  afterLoadDocument?(payload: RoomPayload): void
  /** Before a connection's update is applied: throw a CollabRefusal to close it instead. */
  beforeApplyUpdate?(payload: BeforeApplyUpdatePayload): void
  /** Every transaction on a loaded document, in order. */
  onChange?(payload: OnChangePayload): void
  /** Stores what changed, before any connection receives it. */
  onStoreDocument?(payload: OnStoreDocumentPayload): void
  /** The role of an open connection now; throw a CollabRefusal to close it. */
  onReauthenticate?(payload: ConnectionPayload): ProjectRole | undefined
  /** May rewrite an awareness update before it is applied (null drops it). */
  onAwarenessUpdate?(payload: OnAwarenessUpdatePayload): Uint8Array | null
  onDisconnect?(payload: ConnectionPayload): void
  /** The last connection left a while ago: store what must survive the unload. */
  beforeUnloadDocument?(payload: RoomPayload): void
  /** The room's image was deleted: nothing of the room is stored any more. */
  onDiscardDocument?(payload: RoomPayload): void
}
