// Which version's scores rank a project's images now, and an image's place in them. Reads only.
// The rule: the newest version of the project that has scores and is not retired (the current
// one or a candidate), so a candidate that is waiting for an owner ranks already, and a version
// rolled back from stops ranking; only when every scored version is retired, the newest of them.
import type { ImageScore, Strategy } from '../../../shared/schemas/activeLearning.ts'
import type { Db } from '../db/database.ts'

/** Statuses of images nobody needs to label any more: never scored, never handed out by Next. */
export const FINISHED_STATUSES = ['done', 'reviewed'] as const
export const FINISHED_SQL = `(${FINISHED_STATUSES.map((status) => `'${status}'`).join(', ')})`

export interface RankingVersion {
  id: number
  name: string
  strategy: Strategy
  /** Epoch milliseconds. */
  scoredAt: number
}

export function rankingVersion(db: Db, projectId: number): RankingVersion | null {
  const row = db
    .prepare(`SELECT v.id, v.name, s.strategy, s.scored_at AS scoredAt
      FROM version_scorings s JOIN model_versions v ON v.id = s.version_id
      WHERE s.project_id = ?
      ORDER BY v.state = 'retired', v.id DESC LIMIT 1`)
    .get(projectId) as RankingVersion | undefined
  return row ?? null
}

/** The image's score in the version's ranking, or null when that version did not score it. */
export function imageScore(db: Db, versionId: number | null, imageId: number): ImageScore | null {
  if (versionId === null) return null
  const row = db
    .prepare(
      'SELECT image_id AS imageId, score, rank FROM image_scores WHERE version_id = ? AND image_id = ?',
    )
    .get(versionId, imageId) as ImageScore | undefined
  return row ?? null
}

/** Every score of the version, best rank first. */
export function versionScores(db: Db, versionId: number): ImageScore[] {
  return db
    .prepare(
      'SELECT image_id AS imageId, score, rank FROM image_scores WHERE version_id = ? ORDER BY rank, image_id',
    )
    .all(versionId) as ImageScore[]
}
