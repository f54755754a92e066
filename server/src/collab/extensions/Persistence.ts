// Stores rooms in a DocumentStore: loads a room's document, appends every update before it is
// relayed, refuses an update that would grow a document past its limit, compacts the log into
// a snapshot every so many updates and when the room unloads, and forgets a discarded room.
import { CloseCode } from '../../../../shared/schemas/closeCodes.ts'
import type { Logger } from '../../logger.ts'
import type { AppliedUpdates, DocumentStore, UpdateId } from '../documentStore.ts'
import {
  type BeforeApplyUpdatePayload,
  type CollabExtension,
  CollabRefusal,
  type CollabRoom,
  type OnStoreDocumentPayload,
  type RoomPayload,
} from '../hooks.ts'

interface StoredRoom {
  bytes: number
  logged: number
  /** What this process has applied of the log: compaction deletes only that. */
  through: UpdateId
  ids: UpdateId[]
}

export interface PersistenceOptions {
  store: DocumentStore
  log: Logger
  maxDocBytes: number
  /** Compact the update log into a snapshot after this many updates. */
  compactAfterUpdates: number
}

export class Persistence implements CollabExtension {
  private readonly rooms = new WeakMap<CollabRoom, StoredRoom>()

  constructor(private readonly options: PersistenceOptions) {}

  private get log() {
    return this.options.log
  }

  private state(room: CollabRoom): StoredRoom {
    const state = this.rooms.get(room)
    if (!state) throw new Error(`room ${room.name} was not loaded by the persistence extension`)
    return state
  }

  onLoadDocument({ room }: RoomPayload) {
    // Read before the room is observed: loading stores nothing again.
    const stored = this.options.store.load(room.name, room.doc)
    this.rooms.set(room, {
      bytes: stored.bytes,
      logged: stored.logged,
      through: stored.through,
      ids: [],
    })
  }

  onReadDocument({ roomName }: { roomName: string }) {
    return this.options.store.load(roomName).doc
  }

  beforeApplyUpdate({ room, update }: BeforeApplyUpdatePayload) {
    if (this.state(room).bytes + update.length > this.options.maxDocBytes)
      throw new CollabRefusal(CloseCode.DocTooLarge, 'document too large')
  }

  onStoreDocument({ room, update }: OnStoreDocumentPayload) {
    const state = this.state(room)
    try {
      state.ids.push(this.options.store.append(room.name, update))
    } catch (error) {
      // The update is in memory only: a snapshot of the whole document stores it, or this
      // throws and the core relays nothing.
      this.log.error(`collab ${room.name}: update not appended, compacting instead`, error)
      this.compact(room, state)
      return
    }
    state.bytes += update.length
    state.logged++
    if (state.logged >= this.options.compactAfterUpdates) {
      try {
        this.compact(room, state)
      } catch (error) {
        // The update is stored; compaction is tried again with the next one.
        this.log.error(`collab ${room.name}: compaction failed`, error)
      }
    }
  }

  beforeUnloadDocument({ room }: RoomPayload) {
    const state = this.rooms.get(room)
    if (state && state.logged > 0) this.compact(room, state)
  }

  onDiscardDocument({ room }: RoomPayload) {
    this.rooms.delete(room)
    this.options.store.drop(room.name)
  }

  private compact(room: CollabRoom, state: StoredRoom) {
    const applied: AppliedUpdates = { through: state.through, ids: state.ids }
    state.bytes = this.options.store.compact(room.name, room.doc, applied)
    state.logged = 0
    state.ids = []
  }
}
