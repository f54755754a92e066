// Presence from awareness, with identities from the session: the server sets each state's
// `user` (id, name, colour) from the connection's account, so no one can appear as someone
// else, and a connection may only change the awareness client ids it introduced.
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { userColor } from '../../../../shared/collab/userColor.ts'
import type { CollabExtension, CollabRoom, OnAwarenessUpdatePayload } from '../hooks.ts'

export interface PresentUser {
  name: string
  color: string
}

export class Presence implements CollabExtension {
  onAwarenessUpdate({ room, connection, update }: OnAwarenessUpdatePayload): Uint8Array | null {
    const { userId } = connection.access.principal
    const user = { id: userId, name: connection.access.displayName, color: userColor(userId) }
    const decoder = decoding.createDecoder(update)
    const entries: [number, number, string][] = []
    const count = decoding.readVarUint(decoder)
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder)
      const clock = decoding.readVarUint(decoder)
      const json = decoding.readVarString(decoder)
      const owner = room.awarenessOwner(clientId)
      if (owner && owner !== connection) continue
      let state: unknown = JSON.parse(json)
      if (state !== null) {
        if (typeof state !== 'object' || Array.isArray(state)) state = {}
        state = { ...(state as object), user }
      }
      entries.push([clientId, clock, JSON.stringify(state)])
    }
    if (entries.length === 0) return null
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, entries.length)
    for (const [clientId, clock, json] of entries) {
      encoding.writeVarUint(encoder, clientId)
      encoding.writeVarUint(encoder, clock)
      encoding.writeVarString(encoder, json)
    }
    return encoding.toUint8Array(encoder)
  }
}

/** Who is on which of these images now, from the awareness states of the loaded rooms. */
export function presenceOf(
  rooms: Iterable<CollabRoom>,
  imageIds: Set<number>,
): { imageId: number; users: PresentUser[] }[] {
  const out: { imageId: number; users: PresentUser[] }[] = []
  for (const room of rooms) {
    if (!imageIds.has(room.imageId) || room.connections.size === 0) continue
    const users = new Map<string, PresentUser>()
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
