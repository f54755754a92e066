// Writes an annotation entry with plain Y.Map calls, as any stock y-websocket client can, past
// the checks of shared/doc's verbs: for tests of what the server and the editor do with entries
// no Tessera client would write. Fields not given take a valid human annotation's values.
import * as Y from 'yjs'
import { annotationsOf } from '../doc/annotationDoc.ts'

export const RAW_ANNOTATION_DEFAULTS: Readonly<Record<string, unknown>> = {
  kind: 'polygon',
  geometry: { rings: [[1, 1, 5, 1, 5, 5]] },
  classId: 1,
  author: null,
  updatedBy: null,
  createdAt: 1,
  updatedAt: 1,
  origin: { type: 'human' },
  review: 'accepted',
  attributes: {},
}

export function writeRawAnnotation(doc: Y.Doc, id: string, fields: Record<string, unknown>) {
  doc.transact(() => {
    const entry = new Y.Map<unknown>()
    for (const [key, value] of Object.entries({ ...RAW_ANNOTATION_DEFAULTS, ...fields }))
      entry.set(key, value)
    annotationsOf(doc).set(id, entry)
  })
}
