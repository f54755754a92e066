// The one server-side reader of an image's annotations, for everything that reads documents in
// bulk (training sets, dataset export): the live state when the room is open, the stored one
// otherwise, each entry checked against the image. Never writes; never holds the live document.
import * as Y from 'yjs'
import { type AnnotationList, listAnnotations } from '../../../shared/doc/index.ts'
import type { ImageExtent } from '../../../shared/doc/validation.ts'
import type { CollabServer } from './collabServer.ts'

export interface ImageAnnotations extends AnnotationList {
  /** Identifies the document's state: equal states give equal hashes. */
  stateVector: Uint8Array
}

export async function readImageAnnotations(
  collab: Pick<CollabServer, 'readDocument'>,
  image: ImageExtent & { id: number },
): Promise<ImageAnnotations> {
  const doc = await collab.readDocument(`image:${image.id}`)
  try {
    return { ...listAnnotations(doc, image), stateVector: Y.encodeStateVector(doc) }
  } finally {
    doc.destroy()
  }
}
