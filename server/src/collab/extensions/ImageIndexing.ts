// Keeps the derived image index (imageIndex.ts) in step with a loaded document: written a
// moment after annotations or the review state change, and when the room unloads.
import { changesAnnotations } from '../../../../shared/doc/index.ts'
import type { Db } from '../../db/database.ts'
import type { Logger } from '../../logger.ts'
import type { CollabExtension, CollabRoom, OnChangePayload, RoomPayload } from '../hooks.ts'
import { computeImageIndex, writeImageIndex } from '../imageIndex.ts'

export class ImageIndexing implements CollabExtension {
  private readonly timers = new Map<CollabRoom, NodeJS.Timeout>()

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly delayMs = 200,
  ) {}

  afterLoadDocument({ room }: RoomPayload) {
    this.schedule(room)
  }

  onChange({ room, transaction }: OnChangePayload) {
    if (changesAnnotations(room.doc, transaction)) this.schedule(room)
  }

  beforeUnloadDocument({ room }: RoomPayload) {
    this.write(room)
  }

  onDiscardDocument({ room }: RoomPayload) {
    clearTimeout(this.timers.get(room))
    this.timers.delete(room)
  }

  private schedule(room: CollabRoom) {
    if (this.timers.has(room)) return
    this.timers.set(
      room,
      setTimeout(() => this.write(room), this.delayMs),
    )
  }

  private write(room: CollabRoom) {
    clearTimeout(this.timers.get(room))
    this.timers.delete(room)
    try {
      writeImageIndex(this.db, computeImageIndex(room.imageId, room.doc, room.image))
    } catch (error) {
      // The image may have been deleted while its document was open.
      this.log.error(`collab ${room.name}: index not written`, error)
    }
  }
}
