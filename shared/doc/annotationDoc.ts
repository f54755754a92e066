// The annotation document of one image, defined once: root names, typed verbs that write in
// one transaction with an origin, and readers that validate what they read. Nothing else in
// the project touches the Y.Map keys. Remote data may be malformed: readers skip and report it,
// never throw.
import * as Y from 'yjs'
import {
  type AnnotationKind,
  type AnnotationOrigin,
  AnnotationRecord,
  type Geometry,
  type ReviewDecision,
  ReviewState,
} from '../schemas/annotation.ts'
import { type TransactionOrigin, userIdOf } from './origins.ts'
import { annotationProblem, geometryProblem, type ImageExtent } from './validation.ts'

export const ROOT = { annotations: 'annotations', review: 'review', meta: 'meta' } as const

/** Keys of an annotation's Y.Map. Geometry is one plain-JSON value, replaced whole. */
export const FIELD = {
  kind: 'kind',
  geometry: 'geometry',
  classId: 'classId',
  author: 'author',
  updatedBy: 'updatedBy',
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
  origin: 'origin',
  review: 'review',
  attributes: 'attributes',
} as const

export type AnnotationId = string

export const annotationsOf = (doc: Y.Doc) => doc.getMap<Y.Map<unknown>>(ROOT.annotations)
export const reviewOf = (doc: Y.Doc) => doc.getMap<unknown>(ROOT.review)
export const metaOf = (doc: Y.Doc) => doc.getMap<unknown>(ROOT.meta)

function newId(): AnnotationId {
  const bytes = new Uint8Array(12)
  crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(36).padStart(2, '0'))
    .join('')
    .slice(0, 16)
}

export interface NewAnnotation {
  kind: AnnotationKind
  geometry: Geometry['geometry']
  classId: number | null
  /**
   * Human by default. A model origin without clicks is an automatic suggestion (pending, no
   * author, written with the model's transaction origin); with clicks it is a person's click-tool
   * mask, written with their user origin: theirs, and accepted.
   */
  origin?: AnnotationOrigin
  attributes?: Record<string, string | number | boolean>
  /** Keep an id (paste, undo of a delete by id); a fresh random id otherwise. */
  id?: AnnotationId
}

/**
 * Checks a geometry against its kind, and against the image when one is given (bounds and
 * sizes, shared/doc/validation.ts), before it goes into the doc.
 */
function checkGeometry(
  kind: AnnotationKind,
  geometry: unknown,
  image?: ImageExtent,
): Geometry['geometry'] {
  const parsed = AnnotationRecord.safeParse({
    id: 'check',
    kind,
    geometry,
    classId: null,
    author: null,
    updatedBy: null,
    createdAt: 0,
    updatedAt: 0,
    origin: { type: 'human' },
    review: 'pending',
    attributes: {},
  })
  if (!parsed.success)
    throw new Error(`Invalid ${kind} geometry: ${parsed.error.issues[0]?.message}`)
  const problem = image && geometryProblem(parsed.data, image)
  if (problem) throw new Error(`Invalid ${kind} geometry: ${problem}`)
  return geometry as Geometry['geometry']
}

/** Whether an origin is a model's automatic suggestion (not a person's click-tool result). */
export const isAutomaticSuggestion = (
  origin: AnnotationOrigin,
): origin is Extract<AnnotationOrigin, { type: 'model' }> & { clicks?: undefined } =>
  origin.type === 'model' && origin.clicks === undefined

/**
 * A new entry's review: an automatic suggestion waits for a reviewer; what a person made (drawn,
 * or a click-tool mask that keeps its model provenance) is theirs and counts as accepted.
 */
export const initialReview = (origin: AnnotationOrigin): ReviewDecision =>
  isAutomaticSuggestion(origin) ? 'pending' : 'accepted'

export function createAnnotation(
  doc: Y.Doc,
  input: NewAnnotation,
  origin: TransactionOrigin,
  image?: ImageExtent,
): AnnotationId {
  const geometry = checkGeometry(input.kind, input.geometry, image)
  const id = input.id ?? newId()
  const now = Date.now()
  const author = userIdOf(origin)
  const annotationOrigin = input.origin ?? { type: 'human' }
  doc.transact(() => {
    const entry = new Y.Map<unknown>()
    entry.set(FIELD.kind, input.kind)
    entry.set(FIELD.geometry, geometry)
    entry.set(FIELD.classId, input.classId)
    entry.set(FIELD.author, author)
    entry.set(FIELD.updatedBy, author)
    entry.set(FIELD.createdAt, now)
    entry.set(FIELD.updatedAt, now)
    entry.set(FIELD.origin, annotationOrigin)
    entry.set(FIELD.review, initialReview(annotationOrigin))
    entry.set(FIELD.attributes, input.attributes ?? {})
    annotationsOf(doc).set(id, entry)
  }, origin)
  return id
}

function edit(
  doc: Y.Doc,
  id: AnnotationId,
  origin: TransactionOrigin,
  apply: (entry: Y.Map<unknown>) => void,
) {
  const entry = annotationsOf(doc).get(id)
  if (!(entry instanceof Y.Map)) throw new Error(`No annotation ${id}`)
  doc.transact(() => {
    apply(entry)
    entry.set(FIELD.updatedAt, Date.now())
    entry.set(FIELD.updatedBy, userIdOf(origin))
  }, origin)
}

export function updateGeometry(
  doc: Y.Doc,
  id: AnnotationId,
  geometry: Geometry['geometry'],
  origin: TransactionOrigin,
  image?: ImageExtent,
) {
  const kind = annotationsOf(doc).get(id)?.get(FIELD.kind) as AnnotationKind
  const checked = checkGeometry(kind, geometry, image)
  edit(doc, id, origin, (entry) => entry.set(FIELD.geometry, checked))
}

export function updateClass(
  doc: Y.Doc,
  id: AnnotationId,
  classId: number | null,
  origin: TransactionOrigin,
) {
  edit(doc, id, origin, (entry) => entry.set(FIELD.classId, classId))
}

export function updateAttributes(
  doc: Y.Doc,
  id: AnnotationId,
  attributes: Record<string, string | number | boolean>,
  origin: TransactionOrigin,
) {
  edit(doc, id, origin, (entry) => entry.set(FIELD.attributes, attributes))
}

export function deleteAnnotation(doc: Y.Doc, id: AnnotationId, origin: TransactionOrigin) {
  doc.transact(() => annotationsOf(doc).delete(id), origin)
}

/** A reviewer's decision on an annotation or a model suggestion. */
export function setReviewDecision(
  doc: Y.Doc,
  id: AnnotationId,
  decision: ReviewDecision,
  origin: TransactionOrigin,
) {
  edit(doc, id, origin, (entry) => entry.set(FIELD.review, decision))
}

/** Accepting a model suggestion makes it an annotation like any other (undoable by the user). */
export const acceptSuggestion = (doc: Y.Doc, id: AnnotationId, origin: TransactionOrigin) =>
  setReviewDecision(doc, id, 'accepted', origin)

/** Rejecting a suggestion removes it from the image. */
export const rejectSuggestion = (doc: Y.Doc, id: AnnotationId, origin: TransactionOrigin) =>
  deleteAnnotation(doc, id, origin)

export function setReviewState(
  doc: Y.Doc,
  state: { status: ReviewState['status']; note?: string },
  origin: TransactionOrigin,
) {
  doc.transact(() => {
    const review = reviewOf(doc)
    review.set('status', state.status)
    // A status change keeps the reviewer's note unless a new one is given.
    if (state.note !== undefined) review.set('note', state.note)
    review.set('updatedBy', userIdOf(origin))
    review.set('updatedAt', Date.now())
  }, origin)
}

export type ReadResult<T> = { parsed: T; error?: undefined } | { parsed?: undefined; error: string }

/**
 * Reads one entry, checked by the record's schema and, when the image is given, by what the
 * image allows (bounds and sizes): an entry that fails is reported, never returned.
 */
export function readAnnotation(
  id: AnnotationId,
  entry: unknown,
  image?: ImageExtent,
): ReadResult<AnnotationRecord> {
  if (!(entry instanceof Y.Map)) return { error: `${id}: not a map` }
  // Fields are plain values replaced whole; a shared type inside one would merge per item.
  for (const [key, value] of entry) {
    if (value instanceof Y.AbstractType) return { error: `${id}: ${key}: not a plain value` }
  }
  const result = AnnotationRecord.safeParse({ id, ...entry.toJSON() })
  if (!result.success) {
    const issue = result.error.issues[0]
    return { error: `${id}: ${issue?.path.join('.') || 'record'}: ${issue?.message}` }
  }
  const problem = image && annotationProblem(result.data, image)
  if (problem) return { error: `${id}: ${problem}` }
  return { parsed: result.data }
}

export interface AnnotationList {
  parsed: AnnotationRecord[]
  failed: { id: AnnotationId; error: string }[]
}

export function listAnnotations(doc: Y.Doc, image?: ImageExtent): AnnotationList {
  const parsed: AnnotationRecord[] = []
  const failed: AnnotationList['failed'] = []
  for (const [id, entry] of annotationsOf(doc)) {
    const result = readAnnotation(id, entry, image)
    if (result.parsed) parsed.push(result.parsed)
    else failed.push({ id, error: result.error })
  }
  return { parsed, failed }
}

export const DEFAULT_REVIEW_STATE: ReviewState = {
  status: 'new',
  updatedBy: null,
  updatedAt: 0,
  note: '',
}

export function readReviewState(doc: Y.Doc): ReviewState {
  const review = reviewOf(doc)
  if (review.size === 0) return DEFAULT_REVIEW_STATE
  const result = ReviewState.safeParse(review.toJSON())
  return result.success ? result.data : DEFAULT_REVIEW_STATE
}

export interface AnnotationChange {
  /** Ids of annotations created, changed or deleted in one transaction. */
  ids: Set<AnnotationId>
  reviewChanged: boolean
  origin: unknown
  local: boolean
}

/** Whether a transaction changed annotations or the review state. */
export function changesAnnotations(doc: Y.Doc, transaction: Y.Transaction): boolean {
  type Changed = Parameters<typeof transaction.changed.has>[0]
  const annotations = annotationsOf(doc) as unknown as Changed
  const review = reviewOf(doc) as unknown as Changed
  return transaction.changedParentTypes.has(annotations) || transaction.changed.has(review)
}

/** Calls back once per transaction that touched annotations or the review state. */
export function observeAnnotations(
  doc: Y.Doc,
  callback: (change: AnnotationChange) => void,
): () => void {
  const annotations = annotationsOf(doc)
  const review = reviewOf(doc)
  const handler = (events: Y.YEvent<Y.AbstractType<unknown>>[], transaction: Y.Transaction) => {
    const ids = new Set<AnnotationId>()
    let reviewChanged = false
    for (const event of events) {
      if (event.target === annotations) for (const key of event.keys.keys()) ids.add(key)
      else if (event.target === review) reviewChanged = true
      else if (typeof event.path[0] === 'string') ids.add(event.path[0]) // a field of one annotation
    }
    if (ids.size > 0 || reviewChanged) {
      callback({ ids, reviewChanged, origin: transaction.origin, local: transaction.local })
    }
  }
  const reviewHandler = (event: Y.YMapEvent<unknown>, transaction: Y.Transaction) =>
    handler([event as Y.YEvent<Y.AbstractType<unknown>>], transaction)
  annotations.observeDeep(handler)
  review.observe(reviewHandler)
  return () => {
    annotations.unobserveDeep(handler)
    review.unobserve(reviewHandler)
  }
}
