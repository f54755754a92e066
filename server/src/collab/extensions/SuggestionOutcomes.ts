// Records what people did with each version's suggestions (suggestion_outcomes): accepted
// unchanged, edited, rejected, and the clicks each click-tool mask took. A change is judged after
// the guard has repaired it, so a refused edit counts as nothing; the server's own writes never
// count. It only writes rows: the version list reads them (models/modelVersionInfo.ts).
import * as Y from 'yjs'
import { annotationsOf, FIELD, isAutomaticSuggestion } from '../../../../shared/doc/index.ts'
import { AnnotationOrigin, ReviewDecision } from '../../../../shared/schemas/annotation.ts'
import type { Db } from '../../db/database.ts'
import type { Logger } from '../../logger.ts'
import type {
  CollabConnection,
  CollabExtension,
  CollabRoom,
  OnChangePayload,
  RoomPayload,
} from '../hooks.ts'

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
 * What a connection's transaction decided about a suggestion, from its state before and after
 * (after the guard's repair; null when it is gone). Only a pending suggestion is accepted, edited
 * or rejected, deleted or not; a reviewer who changes a decision on the review field changes it.
 */
export function decisionOf(
  before: SuggestionState,
  after: SuggestionState | null,
): Decision | null {
  if (before.review === 'pending') {
    if (after === null || after.review === 'rejected') return 'rejected'
    if (!sameGeometry(before.geometry, after.geometry)) return 'edited'
    return after.review === 'accepted' ? 'accepted' : null
  }
  if (after !== null && after.review !== before.review && after.review !== 'pending')
    return after.review
  return null
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
       AND outcome IN ('accepted', 'edited', 'rejected') AND outcome <> ?`,
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
    for (const id of touched.ids) {
      const entry = annotations.get(id)
      const before = state.suggestions.get(id)
      const after = suggestionState(entry)
      if (after) state.suggestions.set(id, after)
      else state.suggestions.delete(id)
      if (!connection) continue
      const decision = before ? decisionOf(before, after) : null
      if (before && decision) this.decide(room, connection, id, before.modelVersion, decision)
      const mask = touched.added.has(id) ? clickMask(entry) : null
      if (mask) {
        const { modelVersion, clicks } = mask
        this.guarded(room, () =>
          this.insertRow(room, connection, id, modelVersion, 'clicked', clicks),
        )
      }
    }
  }

  /** One decision per suggestion: it replaces an earlier one, but accepting keeps an edit's. */
  private decide(
    room: CollabRoom,
    connection: CollabConnection,
    id: string,
    modelVersion: string,
    decision: Decision,
  ) {
    this.guarded(room, () =>
      this.db.transaction(() => {
        if (decision === 'accepted' && this.wasEdited.get(room.imageId, id)) return
        this.clearDecisions.run(room.imageId, id, decision)
        this.insertRow(room, connection, id, modelVersion, decision, null)
      })(),
    )
  }

  private insertRow(
    room: CollabRoom,
    connection: CollabConnection,
    id: string,
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
      connection.access.principal.userId,
      Date.now(),
    )
  }

  /** A row that cannot be written (the project deleted meanwhile) never breaks an edit. */
  private guarded(room: CollabRoom, write: () => void) {
    try {
      write()
    } catch (error) {
      this.log.error(`collab ${room.name}: a suggestion outcome was not recorded`, error)
    }
  }
}
