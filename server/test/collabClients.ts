// Test helpers for collaboration: users with tokens, an image to edit, and stock y-websocket
// providers in Node (the npm package's WebsocketProvider over the `ws` WebSocket).
import * as decoding from 'lib0/decoding'
import sharp from 'sharp'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { type CollabNotice, parseCollabNotice } from '../../shared/schemas/collabNotice.ts'
import { ApiClient } from './harness.ts'

const MESSAGE_AUTH = 2
/** The size of the image collabProject makes. */
export const COLLAB_IMAGE = { width: 64, height: 64 } as const

export interface CollabClient {
  doc: Y.Doc
  provider: WebsocketProvider
  /** Resolves with the close code when the server closes the connection. */
  closed: Promise<number>
  /** Notices the server sent this connection (its role, refused and repaired edits). */
  notices: CollabNotice[]
  destroy(): void
}

export function connect(baseUrl: string, imageId: number, token: string | null): CollabClient {
  const doc = new Y.Doc()
  let onClose: (code: number) => void = () => {}
  const closed = new Promise<number>((resolve) => {
    onClose = resolve
  })
  const provider = new WebsocketProvider(
    `${baseUrl.replace('http', 'ws')}/collab`,
    `image:${imageId}`,
    doc,
    {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      params: token ? { token } : {},
      disableBc: true,
      maxBackoffTime: 200,
    },
  )
  provider.on('connection-close', (event: CloseEvent | null) => {
    if (event && event.code !== 1000) onClose(event.code)
  })
  const notices: CollabNotice[] = []
  // The stock provider only logs auth messages; keep the server's notices instead.
  provider.messageHandlers[MESSAGE_AUTH] = (_encoder, decoder) => {
    decoding.readVarUint(decoder) // permission denied
    const notice = parseCollabNotice(decoding.readVarString(decoder))
    if (notice) notices.push(notice)
  }
  return {
    doc,
    provider,
    closed,
    notices,
    destroy() {
      provider.destroy()
      doc.destroy()
    },
  }
}

export function synced(client: CollabClient, timeoutMs = 10_000): Promise<void> {
  if (client.provider.synced) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not synced in time')), timeoutMs)
    client.provider.once('sync', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/** Polls until the condition holds (bounded in time). */
export async function eventually(
  condition: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const started = Date.now()
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export async function tokenFor(
  baseUrl: string,
  username: string,
  password: string,
): Promise<string> {
  const response = await new ApiClient(baseUrl).request('POST', '/api/auth/token', {
    username,
    password,
  })
  if (response.status !== 201)
    throw new Error(`no token for ${username}: ${JSON.stringify(response.body)}`)
  return response.body.token
}

/**
 * Creates a project with one 64×64 image and members of the given roles; returns ids, user ids
 * and tokens.
 */
export async function collabProject(admin: ApiClient, roles: Record<string, string>) {
  const project = (await admin.request('POST', '/api/projects', { name: `Collab ${Date.now()}` }))
    .body.id
  const png = await sharp({ create: { ...COLLAB_IMAGE, channels: 3, background: '#202020' } })
    .toColourspace('b-w')
    .png()
    .toBuffer()
  const form = new FormData()
  form.append('files', new Blob([png as Uint8Array<ArrayBuffer>]), 'cells.png')
  const upload = await admin.request('POST', `/api/projects/${project}/images`, form)
  const imageId = upload.body.images[0].id as number
  const tokens: Record<string, string> = {}
  const userIds: Record<string, number> = {}
  for (const [username, role] of Object.entries(roles)) {
    const password = `${username}-password`
    userIds[username] = (await admin.request('POST', '/api/users', { username, password })).body.id
    await admin.request('POST', `/api/projects/${project}/members`, { username, role })
    tokens[username] = await tokenFor(admin.baseUrl, username, password)
  }
  return { project, imageId, tokens, userIds }
}
