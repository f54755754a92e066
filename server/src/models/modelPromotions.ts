// How a project's current model version moves: each move written to projects, model_versions'
// states and the model_promotions log, the log replayed for rollbacks, and the rule for an
// automatic move. Synchronous SQL only; ModelVersions decides when to move and tells listeners.
import type { EvaluationMetrics } from '../../../shared/schemas/training.ts'
import type { Db } from '../db/database.ts'
import type { ModelVersionRow } from './modelVersionRow.ts'

export type PromotionReason = 'promoted' | 'rolled-back' | 'automatic'

/**
 * Makes `version` the project's current one: the project's own current version is retired and
 * the move is logged.
 */
export function recordPromotion(
  db: Db,
  projectId: number,
  version: ModelVersionRow,
  move: { reason: PromotionReason; byUser: number | null; defaultBaseId: number | undefined },
): void {
  // NULL follows the default base (a newer shipped base then applies); an older base is named.
  const followsDefaultBase = version.projectId === null && version.id === move.defaultBaseId
  db.prepare('UPDATE projects SET model_version_id = ? WHERE id = ?').run(
    followsDefaultBase ? null : version.id,
    projectId,
  )
  db.prepare(
    "UPDATE model_versions SET state = 'retired' WHERE project_id = ? AND state = 'current' AND id != ?",
  ).run(projectId, version.id)
  if (version.projectId !== null)
    db.prepare("UPDATE model_versions SET state = 'current' WHERE id = ?").run(version.id)
  db.prepare(
    'INSERT INTO model_promotions (project_id, version_id, reason, by_user) VALUES (?, ?, ?, ?)',
  ).run(projectId, version.id, move.reason, move.byUser)
}

/**
 * The version a rollback returns to. The promotions replay as a stack of the versions that were
 * current, the default base at the bottom (null): a promotion pushes, a rollback pops. The target
 * is the newest entry below the present version that still exists (`resolve` gives null for one
 * that does not), so rolling back twice goes back twice.
 */
export function rollbackTarget(
  db: Db,
  projectId: number,
  currentId: number,
  resolve: (versionId: number | null) => ModelVersionRow | null,
): ModelVersionRow | null {
  const promotions = db
    .prepare('SELECT version_id, reason FROM model_promotions WHERE project_id = ? ORDER BY id')
    .all(projectId) as { version_id: number; reason: PromotionReason }[]
  const stack: (number | null)[] = [null]
  for (const promotion of promotions) {
    if (promotion.reason !== 'rolled-back') stack.push(promotion.version_id)
    else if (stack.length > 1) stack.pop()
  }
  while (stack.length > 0) {
    const version = resolve(stack.pop()!)
    if (version && version.id !== currentId) return version
  }
  return null
}

/**
 * Whether a job's result is not worse than its base on the same validation images: automatic
 * AP50 at least the base's and clicks to reach IoU 0.85 (NoC85) at most the base's.
 */
export function isNotWorse(metrics: {
  validation: EvaluationMetrics
  baseValidation: EvaluationMetrics
}): boolean {
  const { validation, baseValidation } = metrics
  return (
    validation.auto_ap50 >= baseValidation.auto_ap50 && validation.noc85 <= baseValidation.noc85
  )
}
