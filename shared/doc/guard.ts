// The server's check of every change a connection makes to an image's document: geometry the
// image allows (validation.ts), review decisions only from reviewers, authorship from the
// connection, nothing outside the known roots. A change that breaks a rule is repaired by one
// server transaction right after it (the previous value restored, or the entry removed); the
// server stores and relays the change and its repair as one update. Never throws on remote data.
import * as Y from 'yjs'
import { AnnotationFields, Geometry, ReviewDecision, ReviewState } from '../schemas/annotation.ts'
import {
  annotationsOf,
  FIELD,
  initialReview,
  isAutomaticSuggestion,
  metaOf,
  readAnnotation,
  reviewOf,
} from './annotationDoc.ts'
import { SERVER_ORIGIN } from './origins.ts'
import { ANNOTATION_LIMITS, geometryProblem, type ImageExtent } from './validation.ts'

/** What the author of a transaction may do; null for trusted (server-side) origins. */
export interface EditRights {
  userId: number
  /** Reviewers and owners: review decisions and the image's `reviewed` status. */
  canReview: boolean
}

export interface GuardOptions {
  image: ImageExtent
  rightsOf(origin: unknown): EditRights | null
  /** Called after a repair, with the origin of the transaction it repaired and why. */
  onRepair?(origin: unknown, reasons: string[]): void
}

/** Fields that identify who made an entry and from what; a restored entry keeps them. */
interface Identity {
  author: unknown
  createdAt: unknown
  origin: string
  review: unknown
}

const FIELDS = new Set<string>(Object.values(FIELD))
const IMMUTABLE = new Set<string>([FIELD.kind, FIELD.author, FIELD.createdAt, FIELD.origin])
const REVIEW_KEYS = new Set(['status', 'note', 'updatedBy', 'updatedAt'])
/** How many deleted entries are remembered, so that undoing a deletion restores its author. */
const TOMBSTONES = 10_000

// biome-ignore lint/suspicious/noExplicitAny: the changed types of a transaction are of any kind
type AnyType = Y.AbstractType<any>

const isPlain = (value: unknown) => !(value instanceof Y.AbstractType)

function identityOf(entry: Y.Map<unknown>): Identity {
  return {
    author: entry.get(FIELD.author),
    createdAt: entry.get(FIELD.createdAt),
    origin: JSON.stringify(entry.get(FIELD.origin) ?? null),
    review: entry.get(FIELD.review),
  }
}

const sameIdentity = (a: Identity, b: Identity) =>
  a.author === b.author && a.createdAt === b.createdAt && a.origin === b.origin

/** Deletes the list items of a shared type (a map root holds keys, never a list). */
function clearList(type: AnyType, transaction: Y.Transaction) {
  for (let item = type._start; item !== null; item = item.right) {
    if (!item.deleted) item.delete(transaction)
  }
}

/** Deletes every item of a shared type (a root no one may write). */
function clearType(type: AnyType, transaction: Y.Transaction) {
  for (const item of type._map.values()) if (!item.deleted) item.delete(transaction)
  clearList(type, transaction)
}

export interface DocumentGuard {
  /** Checks one transaction of the document (call it for every transaction, in order). */
  onTransaction(transaction: Y.Transaction): void
}

/** Watches a document and repairs what a connection's transaction must not change. */
export function guardDocument(doc: Y.Doc, options: GuardOptions): () => void {
  const guard = createDocumentGuard(doc, options)
  doc.on('afterTransaction', guard.onTransaction)
  return () => doc.off('afterTransaction', guard.onTransaction)
}

/**
 * The guard of one document, for a caller that already sees every transaction (the collaboration
 * server's onChange hook). Remembers who made each entry, so that undoing a deletion keeps it.
 */
export function createDocumentGuard(doc: Y.Doc, options: GuardOptions): DocumentGuard {
  const annotations = annotationsOf(doc)
  const review = reviewOf(doc)
  const meta = metaOf(doc)
  const known = new Set<AnyType>([annotations, review, meta])
  const annotationsType: AnyType = annotations
  const reviewType: AnyType = review
  const metaType: AnyType = meta
  const identities = new Map<string, Identity>()
  const tombstones = new Map<string, Identity>()
  for (const [id, entry] of annotations) {
    if (entry instanceof Y.Map) identities.set(id, identityOf(entry))
  }

  const remember = (id: string, identity: Identity | undefined) => {
    if (!identity) return
    tombstones.delete(id)
    tombstones.set(id, identity)
    if (tombstones.size > TOMBSTONES) tombstones.delete(tombstones.keys().next().value!)
  }

  const handler = (transaction: Y.Transaction) => {
    const rights = options.rightsOf(transaction.origin)
    const repairs: ((transaction: Y.Transaction) => void)[] = []
    const reasons: string[] = []
    const repair: Repair = (reason, fix) => {
      reasons.push(reason)
      repairs.push(fix)
    }
    // Collect every change before anything is repaired: events read the transaction's state.
    const added = new Map<string, Identity | undefined>()
    const removed: string[] = []
    const fieldChanges: { id: string; entry: Y.Map<unknown>; keys: YKeyChanges }[] = []
    const nested = new Set<string>()
    let reviewChanges: YKeyChanges | null = null
    let metaChanges: YKeyChanges | null = null
    const foreign: AnyType[] = []
    const lists: AnyType[] = []
    for (const [type, subs] of transaction.changed) {
      if (known.has(type) && subs.has(null)) lists.push(type)
      if (type === annotationsType) {
        for (const [id, change] of new Y.YMapEvent(annotations, transaction, subs).keys) {
          if (change.action === 'delete') removed.push(id)
          else added.set(id, change.action === 'update' ? identities.get(id) : undefined)
        }
      } else if (type === reviewType) {
        reviewChanges = new Y.YMapEvent(review, transaction, subs).keys
      } else if (type === metaType) {
        metaChanges = new Y.YMapEvent(meta, transaction, subs).keys
      } else if (type._item === null) {
        if (!known.has(type)) foreign.push(type)
      } else {
        const entryOf = topEntry(type, annotationsType)
        if (!entryOf || entryOf.entry._item?.deleted) continue
        if (entryOf.entry === type && type instanceof Y.Map) {
          const keys = new Y.YMapEvent(type, transaction, subs).keys
          fieldChanges.push({ id: entryOf.id, entry: type, keys })
        } else nested.add(entryOf.id)
      }
    }

    if (rights) {
      for (const [id, replaced] of added) {
        checkNewEntry(id, replaced ?? tombstones.get(id), rights, repair)
      }
      for (const { id, entry, keys } of fieldChanges) {
        if (added.has(id)) continue
        checkFieldChanges(id, entry, keys, rights, repair)
      }
      for (const id of nested) {
        if (added.has(id)) continue
        const entry = annotations.get(id)
        repair(`${id}: a field's value was edited in place; fields are replaced whole`, () => {
          if (entry instanceof Y.Map && annotations.get(id) === entry) annotations.delete(id)
        })
      }
      if (reviewChanges) checkReviewChanges(reviewChanges, rights, repair)
      if (metaChanges) {
        for (const [key, change] of metaChanges) {
          repair(`meta.${key}: only the server writes the document's metadata`, () =>
            restore(meta, key, change),
          )
        }
      }
      for (const type of foreign) {
        repair('content outside the annotations and review state', (t) => clearType(type, t))
      }
      for (const type of lists) {
        repair('list content in a map of the document', (t) => clearList(type, t))
      }
    }

    // Keep the identities of entries current, whoever changed them.
    for (const id of removed) {
      remember(id, identities.get(id))
      identities.delete(id)
    }
    for (const id of [...added.keys(), ...fieldChanges.map((c) => c.id)]) {
      const entry = annotations.get(id)
      if (entry instanceof Y.Map) identities.set(id, identityOf(entry))
    }

    if (repairs.length > 0) {
      doc.transact((t) => {
        for (const fix of repairs) fix(t)
      }, SERVER_ORIGIN)
      options.onRepair?.(transaction.origin, reasons)
    }
  }

  /** An entry added (or replaced) by a connection: valid on this image, authored by it. */
  function checkNewEntry(
    id: string,
    previous: Identity | undefined,
    rights: EditRights,
    repair: Repair,
  ) {
    const entry = annotations.get(id)
    const read = readAnnotation(id, entry, options.image)
    if (!read.parsed || !(entry instanceof Y.Map)) {
      repair(read.error ?? `${id}: not an annotation`, () => {
        if (annotations.get(id) === entry) annotations.delete(id)
      })
      return
    }
    const record = read.parsed
    for (const key of entry.keys()) {
      if (!FIELDS.has(key)) repair(`${id}: unknown field ${key}`, () => entry.delete(key))
    }
    const identity = identityOf(entry)
    // Undoing a deletion brings the entry back as it was: its author stays.
    const restored = previous !== undefined && sameIdentity(previous, identity)
    // A click-tool mask keeps its model origin but is the clicking person's, like a drawn one.
    const isSuggestion = isAutomaticSuggestion(record.origin)
    if (!restored) {
      const author = isSuggestion ? null : rights.userId
      if (record.author !== author) {
        repair(`${id}: author must be ${author === null ? 'empty for a suggestion' : 'you'}`, () =>
          entry.set(FIELD.author, author),
        )
      }
    }
    const updatedByOk =
      record.updatedBy === rights.userId || (isSuggestion && !restored && record.updatedBy === null)
    if (!updatedByOk) {
      repair(`${id}: updatedBy must be you`, () => entry.set(FIELD.updatedBy, rights.userId))
    }
    if (!rights.canReview) {
      const allowed = restored ? previous.review : initialReview(record.origin)
      if (record.review !== allowed) {
        repair(`${id}: only reviewers decide on review (${record.review})`, () =>
          entry.set(FIELD.review, allowed),
        )
      }
    }
  }

  /** Fields of an existing entry changed by a connection. */
  function checkFieldChanges(
    id: string,
    entry: Y.Map<unknown>,
    keys: YKeyChanges,
    rights: EditRights,
    repair: Repair,
  ) {
    checkRecordChanges(`${id}: `, entry, keys, FIELDS, rights, repair, (key, value, change) => {
      if (change.action === 'delete' || !isPlain(value)) return 'must be a plain value'
      if (IMMUTABLE.has(key)) return 'cannot change after creation'
      if (key === FIELD.review) {
        if (!rights.canReview) return 'only reviewers decide on review'
        return ReviewDecision.safeParse(value).success ? null : 'not a review decision'
      }
      return fieldValueProblem(key, value, entry.get(FIELD.kind), options.image)
    })
  }

  /** The image's review state changed by a connection. */
  function checkReviewChanges(keys: YKeyChanges, rights: EditRights, repair: Repair) {
    checkRecordChanges(
      'review.',
      review,
      keys,
      REVIEW_KEYS,
      rights,
      repair,
      (key, value, change) => {
        const field = ReviewState.shape[key as 'status' | 'note'].safeParse(value)
        if (change.action === 'delete' || !field.success) return 'not a valid value'
        if (rights.canReview) return null
        if (key === 'note') return "only reviewers write the review's note"
        if (value === 'reviewed') return 'only reviewers mark an image reviewed'
        if (change.oldValue === 'reviewed') return 'only reviewers reopen a reviewed image'
        return null
      },
    )
  }

  /**
   * Changes of a record (an annotation's fields, the review state): unknown keys go, each
   * change of content is judged by `problemOf` and put back if it has one, and the stamps (who
   * and when) follow: the connection, now, when any change stands; when none does (all
   * refused, or only the stamps were written), the stamps go back too.
   */
  function checkRecordChanges(
    prefix: string,
    map: Y.Map<unknown>,
    keys: YKeyChanges,
    known: ReadonlySet<string>,
    rights: EditRights,
    repair: Repair,
    problemOf: (key: string, value: unknown, change: KeyChange) => string | null,
  ) {
    let accepted = false
    const stamps: [string, KeyChange][] = []
    for (const [key, change] of keys) {
      if (!known.has(key)) {
        if (change.action !== 'delete')
          repair(`${prefix}unknown field ${key}`, () => map.delete(key))
      } else if (key === FIELD.updatedBy || key === FIELD.updatedAt) {
        stamps.push([key, change])
      } else {
        const problem = problemOf(key, map.get(key), change)
        if (problem) repair(`${prefix}${key}: ${problem}`, () => restore(map, key, change))
        else accepted = true
      }
    }
    if (!accepted) {
      for (const [key, change] of stamps) {
        repair(`${prefix}${key}: nothing it stamps was changed`, () => restore(map, key, change))
      }
      return
    }
    if (map.get(FIELD.updatedBy) !== rights.userId) {
      repair(`${prefix}updatedBy must be you`, () => map.set(FIELD.updatedBy, rights.userId))
    }
    const at = map.get(FIELD.updatedAt)
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      repair(`${prefix}updatedAt must be a time`, () => map.set(FIELD.updatedAt, Date.now()))
    }
  }

  return { onTransaction: handler }
}

/**
 * Why a new value of an entry's geometry, class or attributes cannot be stored, or null. Only the
 * changed field is judged: an entry stored before these rules may still be re-classed.
 */
function fieldValueProblem(
  key: string,
  value: unknown,
  kind: unknown,
  image: ImageExtent,
): string | null {
  if (key === FIELD.geometry) {
    const parsed = Geometry.safeParse({ kind, geometry: value })
    if (!parsed.success) return parsed.error.issues[0]?.message ?? 'not a geometry of its kind'
    return geometryProblem(parsed.data, image)
  }
  if (key === FIELD.classId) {
    return AnnotationFields.shape.classId.safeParse(value).success ? null : 'not a class id'
  }
  if (key === FIELD.attributes) {
    const parsed = AnnotationFields.shape.attributes.safeParse(value)
    if (!parsed.success) return parsed.error.issues[0]?.message ?? 'not attributes'
    const names = Object.keys(parsed.data)
    if (names.length > ANNOTATION_LIMITS.maxAttributes) return 'too many attributes'
    if (names.some((name) => name.length > ANNOTATION_LIMITS.maxAttributeNameLength))
      return 'an attribute name is too long'
  }
  return null
}

type Repair = (reason: string, fix: (t: Y.Transaction) => void) => void
type KeyChange = { action: 'add' | 'update' | 'delete'; oldValue: unknown }
type YKeyChanges = Map<string, KeyChange>

/** Puts a key of a map back to its value before the change (or removes a key that was added). */
function restore(map: Y.Map<unknown>, key: string, change: KeyChange) {
  if (change.action === 'add' || !isPlain(change.oldValue) || change.oldValue === undefined)
    map.delete(key)
  else map.set(key, change.oldValue)
}

/** The annotation entry (and its id) a shared type belongs to, if any. */
function topEntry(type: AnyType, annotations: AnyType): { id: string; entry: AnyType } | null {
  let current: AnyType = type
  for (let depth = 0; depth < 64; depth++) {
    const item = current._item
    if (item === null) return null
    const parent = item.parent as AnyType
    if (parent === annotations)
      return item.parentSub ? { id: item.parentSub, entry: current } : null
    current = parent
  }
  return null
}
