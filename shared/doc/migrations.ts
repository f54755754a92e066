// Schema version of an image's document and the named migrations that bring an older document
// up to date. The server runs them when it loads a document, before any client syncs.
import type * as Y from 'yjs'
import { metaOf } from './annotationDoc.ts'
import { SERVER_ORIGIN } from './origins.ts'

/** Named versions, in order; add a name and a step for every change of the stored shape. */
export const DOC_VERSIONS = { Initial: 1 } as const
export const CURRENT_DOC_VERSION = Math.max(...Object.values(DOC_VERSIONS))

const STEPS: Record<number, (doc: Y.Doc) => void> = {
  // Version 1 is the first shape; later versions add their step here.
}

export function docSchemaVersion(doc: Y.Doc): number {
  const version = metaOf(doc).get('schemaVersion')
  return typeof version === 'number' ? version : 0
}

/** Applies the missing steps in one server transaction; returns the versions applied. */
export function migrateDoc(doc: Y.Doc): number[] {
  const from = docSchemaVersion(doc)
  if (from >= CURRENT_DOC_VERSION) return []
  const applied: number[] = []
  doc.transact(() => {
    for (let version = from + 1; version <= CURRENT_DOC_VERSION; version++) {
      STEPS[version]?.(doc)
      applied.push(version)
    }
    metaOf(doc).set('schemaVersion', CURRENT_DOC_VERSION)
  }, SERVER_ORIGIN)
  return applied
}
