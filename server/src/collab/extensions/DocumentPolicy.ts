// What an image's document may hold, enforced on every update: migrations run when it loads,
// and the shared document guard (shared/doc/guard.ts) repairs what a connection may not change,
// telling that connection why. The server's own writes are trusted.
import {
  createDocumentGuard,
  type DocumentGuard,
  migrateDoc,
} from '../../../../shared/doc/index.ts'
import { hasRole } from '../../http/ApiRouter.ts'
import type { Logger } from '../../logger.ts'
import type { CollabExtension, CollabRoom, OnChangePayload, RoomPayload } from '../hooks.ts'

/** At most this many reasons go to the client in one notice. */
const REASONS_SHOWN = 10

export class DocumentPolicy implements CollabExtension {
  private readonly guards = new WeakMap<CollabRoom, DocumentGuard>()

  constructor(private readonly log: Logger) {}

  afterLoadDocument({ room }: RoomPayload) {
    migrateDoc(room.doc)
    this.guards.set(
      room,
      createDocumentGuard(room.doc, {
        image: room.image,
        rightsOf: (origin) => {
          const connection = room.connectionOf(origin)
          if (!connection) return null
          return {
            userId: connection.access.principal.userId,
            canReview: hasRole(connection.role, 'reviewer'),
          }
        },
        onRepair: (origin, reasons) => {
          const connection = room.connectionOf(origin)
          this.log.info(
            `collab ${room.name}: repaired an update from ${connection?.access.principal.username}: ${reasons.slice(0, REASONS_SHOWN).join('; ')}`,
          )
          connection?.notify({ type: 'repaired', reasons: reasons.slice(0, REASONS_SHOWN) })
        },
      }),
    )
  }

  onChange({ room, transaction }: OnChangePayload) {
    this.guards.get(room)?.onTransaction(transaction)
  }
}
