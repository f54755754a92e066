// Who may open which room: the websocket's Origin (same origin, the configured public URL or a
// listed origin), the credentials (session cookie or ?token=), the one canonical room name per
// image (`image:<id>`, nothing else), and the caller's role in the image's project. The same
// checks run again on open connections when access may have changed.
import type { IncomingMessage } from 'node:http'
import { CloseCode } from '../../../../shared/schemas/closeCodes.ts'
import { authenticateToken } from '../../auth/accessControl.ts'
import type { Db } from '../../db/database.ts'
import type { AccessControl } from '../../http/ApiRouter.ts'
import type { Logger } from '../../logger.ts'
import {
  type CollabExtension,
  CollabRefusal,
  type ConnectionPayload,
  type OnAuthenticatePayload,
  type OnUpgradePayload,
  type RoomAccess,
} from '../hooks.ts'

/** The one name of an image's room; `image:05` or `image:5.0` name nothing. */
const ROOM_NAME = /^image:([1-9][0-9]{0,14})$/

export interface AccessCheckOptions {
  db: Db
  access: AccessControl
  log: Logger
  /** The app's public URL, whose origin may connect (besides the request's own host). */
  publicUrl?: string
  /** Further origins that may connect. */
  allowedOrigins: string[]
}

export class AccessCheck implements CollabExtension {
  private readonly allowed: Set<string>
  private readonly selectImage
  private readonly selectName

  constructor(private readonly options: AccessCheckOptions) {
    this.allowed = new Set(options.allowedOrigins.map((origin) => new URL(origin).origin))
    if (options.publicUrl) this.allowed.add(new URL(options.publicUrl).origin)
    this.selectImage = options.db.prepare(
      'SELECT id, project_id, width, height FROM images WHERE id = ?',
    )
    this.selectName = options.db.prepare('SELECT display_name FROM users WHERE id = ?').pluck()
  }

  /**
   * Browsers always send Origin on a websocket handshake, and the session cookie goes with it
   * whatever page opened the socket: a foreign origin is refused before the upgrade. A client
   * without Origin is not a browser and must bring its own credentials.
   */
  onUpgrade({ request }: OnUpgradePayload) {
    const origin = request.headers.origin
    if (origin === undefined || this.originAllowed(origin, request)) return
    this.options.log.info(
      `collab: refused a websocket from origin ${origin} (set TESSERA_PUBLIC_URL or TESSERA_ALLOWED_ORIGINS to allow it)`,
    )
    throw new CollabRefusal(CloseCode.Forbidden, `origin ${origin} may not connect`, 403)
  }

  private originAllowed(origin: string, request: IncomingMessage): boolean {
    let parsed: URL
    try {
      parsed = new URL(origin)
    } catch {
      return false
    }
    if (this.allowed.has(parsed.origin)) return true
    // Same origin: the page was served by this host and port (scheme and port included, so
    // another port of the same host is another origin).
    return !this.options.publicUrl && parsed.host === request.headers.host
  }

  onAuthenticate({ request, roomName }: OnAuthenticatePayload): RoomAccess {
    const { db, access } = this.options
    const url = new URL(request.url ?? '/', 'http://localhost')
    const token = url.searchParams.get('token')
    const reauthenticate = token
      ? () => authenticateToken(db, token)
      : () => {
          const { cookie, authorization } = request.headers
          return access.authenticate({ headers: { cookie, authorization } } as IncomingMessage)
        }
    const principal = reauthenticate()
    if (!principal) throw new CollabRefusal(CloseCode.Unauthorized, 'unauthorized')
    const match = ROOM_NAME.exec(roomName)
    const image = match
      ? (this.selectImage.get(Number(match[1])) as
          | { id: number; project_id: number; width: number; height: number }
          | undefined)
      : undefined
    // Unknown images and foreign projects look the same to a non-member.
    const role = image ? access.projectRole(principal, image.project_id) : null
    if (!image) throw new CollabRefusal(CloseCode.NotFound, 'not found')
    if (role === null) throw new CollabRefusal(CloseCode.Forbidden, 'forbidden')
    return {
      roomName: `image:${image.id}`,
      imageId: image.id,
      projectId: image.project_id,
      image: { width: image.width, height: image.height },
      principal,
      displayName:
        (this.selectName.get(principal.userId) as string | undefined) ?? principal.username,
      role,
      reauthenticate,
    }
  }

  onReauthenticate({ room, connection }: ConnectionPayload) {
    const principal = connection.access.reauthenticate()
    if (!principal || principal.userId !== connection.access.principal.userId)
      throw new CollabRefusal(CloseCode.Unauthorized, 'session ended')
    const role = this.options.access.projectRole(principal, room.projectId)
    if (role === null) throw new CollabRefusal(CloseCode.Forbidden, 'no longer a member')
    return role
  }
}
