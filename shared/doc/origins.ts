// Who made a change to a Y.Doc, passed as the transaction origin. The client's UndoManager
// tracks only its own user origin object, so undo never reverts a collaborator's edit or a
// model suggestion; the server tags what it writes itself.

export type TransactionOrigin =
  | { source: 'user'; userId: number }
  | { source: 'model'; modelVersion: string }
  | { source: 'server' }

export const userOrigin = (userId: number): TransactionOrigin => ({ source: 'user', userId })
export const modelOrigin = (modelVersion: string): TransactionOrigin => ({
  source: 'model',
  modelVersion,
})
export const SERVER_ORIGIN: TransactionOrigin = Object.freeze({ source: 'server' })

export function isTransactionOrigin(value: unknown): value is TransactionOrigin {
  if (typeof value !== 'object' || value === null) return false
  const source = (value as { source?: unknown }).source
  return source === 'user' || source === 'model' || source === 'server'
}

/** The user id behind an origin, or null for model and server changes. */
export function userIdOf(origin: TransactionOrigin): number | null {
  return origin.source === 'user' ? origin.userId : null
}
