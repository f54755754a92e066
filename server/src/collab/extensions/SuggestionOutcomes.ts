// Records what people did with each version's suggestions (suggestion_outcomes): accepted
// unchanged, edited, rejected, and the clicks each click-tool mask took. A change is judged after
// the guard has repaired it, so a refused edit counts as nothing; the server's own writes never
// count. It only writes rows: the version list reads them (models/modelVersionInfo.ts).
import * as Y from 'yjs'
import { annotationsOf, FIELD, isAutomaticSuggestion } from '../../../../shared/doc/index.ts'
import { AnnotationOrigin, ReviewDecision } from '../../../../shared/schemas/annotation.ts'
import type { Db } from '../../db/database.ts'
import type { Logger } from '../../logger.ts'
import type { CollabExtension, CollabRoom, OnChangePayload, RoomPayload } from '../hooks.ts'

/** What became of one automatic suggestion; the latest decision replaces an earlier one. */
type Decision = 'accepted' | 'edited' | 'rejected'

/** An automatic suggestion as it stood after the last transaction. */
interface SuggestionState {
  modelVersion: string
  review: ReviewDecision
  /** The stored value itself: any write replaces it with another object. */
  geometry: unknown
}

/** The entries one transaction touched, collected while its observers run. */
interface Touched {
  ids: Set<string>
  /** Entries added (or replaced whole) under their id. */
  added: Set<string>
}

/** Who wrote an outcome, on which image's entry. */
interface OutcomeRow {
  room: CollabRoom
  userId: number
  id: string
}

interface RoomState {
  suggestions: Map<string, SuggestionState>
  touched: WeakMap<Y.Transaction, Touched>
}

function suggestionState(entry: unknown): SuggestionState | null {
  if (!(entry instanceof Y.Map)) return null
  const origin = AnnotationOrigin.safeParse(entry.get(FIELD.origin))
  const review = ReviewDecision.safeParse(entry.get(FIELD.review))
  if (!origin.success || !review.success || !isAutomaticSuggestion(origin.data)) return null
  return {
    modelVersion: origin.data.modelVersion,
    review: review.data,
    geometry: entry.get(FIELD.geometry),
  }
}

/** The click count of a click-tool mask, with the version that made it; null for anything else. */
function clickMask(entry: unknown): { modelVersion: string; clicks: number } | null {
  if (!(entry instanceof Y.Map)) return null
  const origin = AnnotationOrigin.safeParse(entry.get(FIELD.origin))
  if (!origin.success || origin.data.type !== 'model' || origin.data.clicks === undefined)
    return null
  return { modelVersion: origin.data.modelVersion, clicks: origin.data.clicks }
}

const sameGeometry = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b)

/**
 * What a connection's transaction did to an automatic suggestion, from its state before and after
 * (after the guard's repair; undefined before when it did not exist, null after when it is gone).
 * Only a pending suggestion is accepted, edited or rejected (deleting it rejects it); a reviewer
 * may change a decision on the review field, and one that goes back to pending (an undo, or a
 * rejected suggestion brought back) is withdrawn.
 */
export function decisionOf(
  before: SuggestionState | undefined,
  after: SuggestionState | null,
): Decision | 'withdrawn' | null {
  if (before === undefined) return after?.review === 'pending' ? 'withdrawn' : null
  if (before.review === 'pending') {
    if (after === null || after.review === 'rejected') return 'rejected'
    if (!sameGeometry(before.geometry, after.geometry)) return 'edited'
    return after.review === 'accepted' ? 'accepted' : null
  }
  if (after === null || after.review === before.review) return null
  return after.review === 'pending' ? 'withdrawn' : after.review
}

export class SuggestionOutcomes implements CollabExtension {
  private readonly rooms = new WeakMap<CollabRoom, RoomState>()
  private readonly wasEdited
  private readonly clearDecisions
  private readonly insert

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {
    this.wasEdited = db.prepare(
      `SELECT 1 FROM suggestion_outcomes WHERE image_id = ? AND annotation_id = ? AND outcome = 'edited'`,
    )
    this.clearDecisions = db.prepare(
      `DELETE FROM suggestion_outcomes WHERE image_id = ? AND annotation_id = ?
       AND outcome IN (?, ?)`,
    )
    this.insert = db.prepare(
      `INSERT INTO suggestion_outcomes
         (project_id, image_id, annotation_id, model_version, outcome, clicks, user_id, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (image_id, annotation_id, outcome) DO NOTHING`,
    )
  }

  afterLoadDocument({ room }: RoomPayload) {
    const annotations = annotationsOf(room.doc)
    const state: RoomState = { suggestions: new Map(), touched: new WeakMap() }
    for (const [id, entry] of annotations) {
      const suggestion = suggestionState(entry)
      if (suggestion) state.suggestions.set(id, suggestion)
    }
    // Observers run before any afterTransaction hook: only which entries changed is kept here;
    // they are judged in onChange, once the guard has repaired the transaction.
    annotations.observeDeep((events, transaction) => {
      const touched = state.touched.get(transaction) ?? { ids: new Set(), added: new Set() }
      for (const event of events) {
        if (event.target === annotations) {
          for (const [id, change] of event.changes.keys) {
            touched.ids.add(id)
            if (change.action !== 'delete') touched.added.add(id)
          }
        } else if (typeof event.path[0] === 'string') touched.ids.add(event.path[0])
      }
      state.touched.set(transaction, touched)
    })
    this.rooms.set(room, state)
  }

  onChange({ room, transaction, connection }: OnChangePayload) {
    const state = this.rooms.get(room)
    const touched = state?.touched.get(transaction)
    if (!state || !touched) return
    state.touched.delete(transaction)
    const annotations = annotationsOf(room.doc)
    const writes: (() => void)[] = []
    for (const id of touched.ids) {
      const entry = annotations.get(id)
      const before = state.suggestions.get(id)
      const after = suggestionState(entry)
      if (after) state.suggestions.set(id, after)
      else state.suggestions.delete(id)
      if (!connection) continue
      const row = { room, userId: connection.access.principal.userId, id }
      const decision = decisionOf(before, after)
      const modelVersion = before?.modelVersion ?? after?.modelVersion
      if (decision && modelVersion !== undefined)
        writes.push(() => this.decide(row, modelVersion, decision))
      const mask = touched.added.has(id) ? clickMask(entry) : null
      if (mask) writes.push(() => this.insertRow(row, mask.modelVersion, 'clicked', mask.clicks))
    }
    if (writes.length === 0) return
    try {
      this.db.transaction(() => {
        for (const write of writes) write()
      })()
    } catch (error) {
      // A row that cannot be written (the project deleted meanwhile) never breaks an edit.
      this.log.error(`collab ${room.name}: suggestion outcomes were not recorded`, error)
    }
  }

  /**
   * One decision per suggestion: the latest replaces an earlier one, except that accepting keeps
   * an edit's; a withdrawn acceptance or rejection is removed (an edit stays).
   */
  private decide(row: OutcomeRow, modelVersion: string, decision: Decision | 'withdrawn') {
    const { room, id } = row
    if (decision === 'withdrawn') {
      this.clearDecisions.run(room.imageId, id, 'accepted', 'rejected')
      return
    }
    if (decision === 'accepted' && this.wasEdited.get(room.imageId, id)) return
    const others = (['accepted', 'edited', 'rejected'] as const).filter((d) => d !== decision)
    this.clearDecisions.run(room.imageId, id, ...others)
    this.insertRow(row, modelVersion, decision, null)
  }

  private insertRow(
    { room, userId, id }: OutcomeRow,
    modelVersion: string,
    outcome: Decision | 'clicked',
    clicks: number | null,
  ) {
    this.insert.run(
      room.projectId,
      room.imageId,
      id,
      modelVersion,
      outcome,
      clicks,
      userId,
      Date.now(),
    )
  }
}
