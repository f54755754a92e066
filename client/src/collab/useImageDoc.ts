// Connects an image's Y.Doc to the server (y-websocket at /collab, room image:<id>, the session
// cookie authenticates) and to IndexedDB, so edits made offline survive a reload and merge on
// reconnect. Reports the connection, edits not yet sent, presence, the role the server grants,
// and what the server refused or repaired; never re-sends forever what the server refused.

import * as decoding from 'lib0/decoding'
import { useEffect, useState } from 'react'
import { IndexeddbPersistence } from 'y-indexeddb'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { userColor } from '../../../shared/collab/userColor.ts'
import { CLOSE_REASON, CloseCode } from '../../../shared/schemas/closeCodes.ts'
import { parseCollabNotice } from '../../../shared/schemas/collabNotice.ts'
import type { ProjectRole } from '../../../shared/schemas/projects.ts'

export type ConnectionStatus = 'connecting' | 'connected' | 'offline' | 'refused'

export interface ImageDoc {
  doc: Y.Doc
  provider: WebsocketProvider
  status: ConnectionStatus
  /** Local edits made since the connection was lost, not yet acknowledged by a sync. */
  unsentEdits: number
  /** Why the server refused or ended the connection, when it said so. */
  reason: string | null
  synced: boolean
  /** The role the server grants this connection (it can change while the image is open). */
  access: { role: ProjectRole; readOnly: boolean } | null
  /** The server's latest word on an edit of ours it did not keep as made. */
  notice: { text: string; at: number } | null
  /** After a refusal: connect again (once the user has undone what was refused). */
  reconnect(): void
}

/** Closes after which reconnecting by itself would only be refused again. */
const FATAL = new Set<number>([
  CloseCode.Unauthorized,
  CloseCode.Forbidden,
  CloseCode.NotFound,
  CloseCode.DocTooLarge,
  CloseCode.BadUpdate,
  CloseCode.MessageTooBig,
])
const MESSAGE_AUTH = 2

/** What to tell the person when the server closed for one of these reasons. */
const ADVICE: Partial<Record<number, string>> = {
  [CloseCode.MessageTooBig]:
    'Your last edit was too large for the server and was not sent. It is kept in this browser only: undo it (Ctrl+Z), then reconnect.',
  [CloseCode.DocTooLarge]:
    "This image's annotations reached the server's size limit; your latest edits are kept in this browser only. Undo them, then reconnect.",
}

/**
 * The image's document under `storageKey`, which names this image's contents (an id is reused
 * after a deletion, its contents are not): null until the key is known.
 */
export function useImageDoc(
  imageId: number,
  storageKey: string | null,
  user: { id: number; name: string },
): ImageDoc | null {
  const [state, setState] = useState<ImageDoc | null>(null)
  // Reconnecting after a refusal starts from a new Y.Doc read back from IndexedDB: there an
  // undone edit arrives already deleted and is garbage-collected, whereas the old doc keeps its
  // content for redo and would send it again.
  const [generation, setGeneration] = useState(0)
  useEffect(() => {
    if (storageKey === null) return
    void generation
    const doc = new Y.Doc()
    // Documents stored under the image id alone (before storage keys) may belong to a deleted
    // image whose id was reused: they are never merged.
    indexedDB.deleteDatabase(`tessera-image-${imageId}`)
    const persistence = new IndexeddbPersistence(`tessera-image-${storageKey}`, doc)
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/collab`
    const provider = new WebsocketProvider(url, `image:${imageId}`, doc, {
      maxBackoffTime: 2000,
      shouldReconnect: (event: CloseEvent) => !FATAL.has(event.code),
    })
    provider.awareness.setLocalStateField('user', {
      id: user.id,
      name: user.name,
      color: userColor(user.id),
    })
    let current: ImageDoc = {
      doc,
      provider,
      status: 'connecting',
      unsentEdits: 0,
      reason: null,
      synced: false,
      access: null,
      notice: null,
      reconnect: () => setGeneration((g) => g + 1),
    }
    const publish = (changes: Partial<ImageDoc>) => {
      current = { ...current, ...changes }
      setState(current)
    }
    publish({})
    // The server's notices come as auth messages ("permission denied" with a JSON reason).
    provider.messageHandlers[MESSAGE_AUTH] = (_encoder, decoder) => {
      decoding.readVarUint(decoder)
      const notice = parseCollabNotice(decoding.readVarString(decoder))
      if (notice?.type === 'access') {
        publish({ access: { role: notice.role, readOnly: notice.readOnly } })
      } else if (notice?.type === 'read-only') {
        publish({ notice: { text: notice.message, at: Date.now() } })
      } else if (notice?.type === 'repaired') {
        publish({
          notice: {
            text: `The server undid part of your edit: ${notice.reasons.join('; ')}`,
            at: Date.now(),
          },
        })
      }
    }
    let everConnected = false
    provider.on('status', ({ status }: { status: string }) => {
      if (current.status === 'refused') return
      if (status === 'connected') everConnected = true
      // Retrying after a lost connection is still "offline" to the person editing.
      const connecting = status === 'connecting' && !everConnected
      publish({
        status: status === 'connected' ? 'connected' : connecting ? 'connecting' : 'offline',
      })
    })
    provider.on('sync', (synced: boolean) =>
      publish({ synced, unsentEdits: synced ? 0 : current.unsentEdits }),
    )
    provider.on('connection-close', (event: CloseEvent | null) => {
      if (!event) return
      if (FATAL.has(event.code)) {
        provider.disconnect()
        publish({
          status: 'refused',
          reason: ADVICE[event.code] ?? CLOSE_REASON[event.code] ?? 'refused by the server',
        })
        // A deleted image's edits can go nowhere; nothing of it stays in this browser.
        if (event.code === CloseCode.NotFound) void persistence.clearData()
      } else if (CLOSE_REASON[event.code]) publish({ reason: CLOSE_REASON[event.code] })
    })
    doc.on('update', (_update: Uint8Array, origin: unknown) => {
      if (origin !== provider && origin !== persistence && !provider.wsconnected) {
        publish({ unsentEdits: current.unsentEdits + 1 })
      }
    })
    return () => {
      provider.destroy()
      persistence.destroy()
      doc.destroy()
      setState(null)
    }
  }, [imageId, storageKey, user.id, user.name, generation])
  return state
}

/** The storage key of an image's contents: its id, file digest and creation time. */
export const imageStorageKey = (image: { id: number; sha256: string; createdAt: string }) =>
  `${image.id}-${image.sha256.slice(0, 16)}-${Date.parse(image.createdAt)}`
