// Notices the collaboration server sends one connection, as the reason of a y-protocols auth
// message (type 2, "permission denied"): stock clients log them, Tessera's client shows them.
import { z } from 'zod'
import { ProjectRole } from './projects.ts'

export const CollabNotice = z.discriminatedUnion('type', [
  /** The connection's role in the image's project, sent on connect and whenever it changes. */
  z.object({ type: z.literal('access'), role: ProjectRole, readOnly: z.boolean() }),
  /** A read-only connection sent an edit: it was not applied and reached no one. */
  z.object({ type: z.literal('read-only'), message: z.string() }),
  /** Part of the connection's last edit broke the document's rules and was undone. */
  z.object({ type: z.literal('repaired'), reasons: z.array(z.string()) }),
])
export type CollabNotice = z.infer<typeof CollabNotice>

/** The notice in an auth message's reason, or null for anything else (a stock server's text). */
export function parseCollabNotice(reason: string): CollabNotice | null {
  try {
    const result = CollabNotice.safeParse(JSON.parse(reason))
    return result.success ? result.data : null
  } catch {
    return null
  }
}
