// The derived index of an image's document in SQLite: annotation counts per class, model
// suggestions, malformed entries, last editor and change, and images.status from the review
// state. Written only here, only from documents; listings and active learning read it.
import type * as Y from 'yjs'
import { type ImageExtent, listAnnotations, readReviewState } from '../../../shared/doc/index.ts'
import type { Db } from '../db/database.ts'
import { endClaim, FINISHED_STATUSES } from '../learning/index.ts'

export interface ImageIndexRow {
  imageId: number
  annotationCount: number
  countsByClass: Record<string, number>
  suggestionCount: number
  invalidCount: number
  lastEditor: number | null
  lastChange: number | null
  status: string
}

/** The index of a document; entries the image cannot hold count as invalid when it is given. */
export function computeImageIndex(imageId: number, doc: Y.Doc, image?: ImageExtent): ImageIndexRow {
  const { parsed, failed } = listAnnotations(doc, image)
  const review = readReviewState(doc)
  const countsByClass: Record<string, number> = {}
  let suggestionCount = 0
  let lastChange: number | null = review.updatedAt || null
  let lastEditor: number | null = review.updatedBy
  for (const annotation of parsed) {
    const key = String(annotation.classId)
    countsByClass[key] = (countsByClass[key] ?? 0) + 1
    if (annotation.origin.type === 'model' && annotation.review === 'pending') suggestionCount++
    if (lastChange === null || annotation.updatedAt > lastChange) {
      lastChange = annotation.updatedAt
      lastEditor = annotation.updatedBy
    }
  }
  return {
    imageId,
    annotationCount: parsed.length,
    countsByClass,
    suggestionCount,
    invalidCount: failed.length,
    lastEditor,
    lastChange,
    // An image with annotations but no explicit state is in progress.
    status: review.status === 'new' && parsed.length > 0 ? 'in_progress' : review.status,
  }
}

export function writeImageIndex(db: Db, row: ImageIndexRow): void {
  db.transaction(() => {
    db.prepare(`INSERT INTO image_index (image_id, annotation_count, counts_by_class,
        suggestion_count, invalid_count, last_editor, last_change)
      VALUES (?, ?, ?, ?, ?, (SELECT id FROM users WHERE id = ?), ?)
      ON CONFLICT(image_id) DO UPDATE SET annotation_count = excluded.annotation_count,
        counts_by_class = excluded.counts_by_class, suggestion_count = excluded.suggestion_count,
        invalid_count = excluded.invalid_count, last_editor = excluded.last_editor,
        last_change = excluded.last_change`).run(
      row.imageId,
      row.annotationCount,
      JSON.stringify(row.countsByClass),
      row.suggestionCount,
      row.invalidCount,
      row.lastEditor,
      row.lastChange,
    )
    db.prepare('UPDATE images SET status = ? WHERE id = ?').run(row.status, row.imageId)
    // A finished image needs nobody's claim any more (Next's claims end here).
    if ((FINISHED_STATUSES as readonly string[]).includes(row.status)) endClaim(db, row.imageId)
  })()
}

export function readImageIndex(db: Db, imageId: number): ImageIndexRow | null {
  const row = db
    .prepare(
      `SELECT x.*, i.status FROM image_index x JOIN images i ON i.id = x.image_id WHERE x.image_id = ?`,
    )
    .get(imageId) as
    | {
        image_id: number
        annotation_count: number
        counts_by_class: string
        suggestion_count: number
        invalid_count: number
        last_editor: number | null
        last_change: number | null
        status: string
      }
    | undefined
  if (!row) return null
  return {
    imageId: row.image_id,
    annotationCount: row.annotation_count,
    countsByClass: JSON.parse(row.counts_by_class),
    suggestionCount: row.suggestion_count,
    invalidCount: row.invalid_count,
    lastEditor: row.last_editor,
    lastChange: row.last_change,
    status: row.status,
  }
}
