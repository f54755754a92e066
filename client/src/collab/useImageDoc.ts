// Connects an image's Y.Doc to the server (y-websocket at /collab, room image:<id>, the session
// cookie authenticates) and to IndexedDB, so edits made offline survive a reload and merge on
// reconnect. Reports the connection state, edits not yet sent, and presence (awareness).
import { useEffect, useState } from 'react'
import { IndexeddbPersistence } from 'y-indexeddb'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { CLOSE_REASON, CloseCode } from '../../../shared/schemas/closeCodes.ts'
import { userColor } from '../../../shared/collab/userColor.ts'

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
}

const FATAL = new Set<number>([
  CloseCode.Unauthorized,
  CloseCode.Forbidden,
  CloseCode.NotFound,
  CloseCode.DocTooLarge,
])

export function useImageDoc(imageId: number, user: { id: number; name: string }): ImageDoc | null {
  const [state, setState] = useState<ImageDoc | null>(null)
  useEffect(() => {
    const doc = new Y.Doc()
    const persistence = new IndexeddbPersistence(`tessera-image-${imageId}`, doc)
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/collab`
    const provider = new WebsocketProvider(url, `image:${imageId}`, doc, { maxBackoffTime: 2000 })
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
    }
    const publish = (changes: Partial<ImageDoc>) => {
      current = { ...current, ...changes }
      setState(current)
    }
    publish({})
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
        publish({ status: 'refused', reason: CLOSE_REASON[event.code] })
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
  }, [imageId, user.id, user.name])
  return state
}
