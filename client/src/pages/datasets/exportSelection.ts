// What the export dialog has chosen, and the query string of the export and preview routes it
// makes. Pure: the form keeps the selection, the server parses the query with ExportQuery.

import { ReviewDecision } from '../../../../shared/schemas/annotation.ts'
import { AnnotationOriginType, type ExportFormat } from '../../../../shared/schemas/datasets.ts'
import { ImageStatus } from '../../../../shared/schemas/images.ts'

/** The key of annotations without a class in the class filter (as ExportQuery spells it). */
export const NO_CLASS = 'none'

export interface ExportSelection {
  format: ExportFormat
  /** Image states to include; every state means no filter. */
  status: readonly ImageStatus[]
  /** Review decisions to include; always sent, since the server's default is accepted only. */
  review: readonly ReviewDecision[]
  origin: readonly AnnotationOriginType[]
  /** Class keys left out (ids as strings, NO_CLASS): a class made after opening the form is in. */
  excludedClasses: readonly string[]
  /** Put the original image files in the archive. */
  images: boolean
}

export const DEFAULT_EXPORT_SELECTION: ExportSelection = {
  format: 'coco',
  status: ImageStatus.options,
  review: ['accepted'],
  origin: AnnotationOriginType.options,
  excludedClasses: [],
  images: false,
}

/** The query string for `selection`, or why there is none (a filter that keeps nothing). */
export function exportQueryOf(
  selection: ExportSelection,
  classKeys: readonly string[],
): { query: string } | { problem: string } {
  const params = new URLSearchParams({ format: selection.format })
  if (selection.status.length === 0) return { problem: 'Choose at least one image status.' }
  if (selection.status.length < ImageStatus.options.length)
    params.set('status', inOrder(ImageStatus.options, selection.status).join(','))
  if (selection.review.length === 0) return { problem: 'Choose at least one review decision.' }
  params.set('review', inOrder(ReviewDecision.options, selection.review).join(','))
  if (selection.origin.length === 0) return { problem: 'Choose human or model annotations.' }
  if (selection.origin.length < AnnotationOriginType.options.length)
    params.set('origin', inOrder(AnnotationOriginType.options, selection.origin).join(','))
  const excluded = classKeys.filter((key) => selection.excludedClasses.includes(key))
  if (excluded.length === classKeys.length && classKeys.length > 0)
    return { problem: 'Choose at least one class (or no class).' }
  if (excluded.length > 0)
    params.set('classes', classKeys.filter((key) => !excluded.includes(key)).join(','))
  if (selection.images) params.set('images', 'true')
  return { query: params.toString() }
}

/** The chosen values in the schema's order, so one selection always makes one query. */
function inOrder<T extends string>(all: readonly T[], chosen: readonly T[]): T[] {
  return all.filter((value) => chosen.includes(value))
}

/** Adds `value` to `list` or takes it out. */
export function toggled<T>(list: readonly T[], value: T, on: boolean): T[] {
  return on ? [...list.filter((v) => v !== value), value] : list.filter((v) => v !== value)
}

/** A random export id for the progress events (ExportQuery.progress: [A-Za-z0-9_-]{1,64}). */
export function newExportId(): string {
  // crypto.getRandomValues works on plain http too, where randomUUID is missing.
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
