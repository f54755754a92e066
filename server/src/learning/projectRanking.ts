// GET /api/projects/:id/ranking's body: the ranking version's scores (ranking.ts says which
// version), its strategy and time, and who holds which image now.
import type { ProjectRanking } from '../../../shared/schemas/activeLearning.ts'
import type { Db } from '../db/database.ts'
import { liveClaims } from './claims.ts'
import { rankingVersion, versionScores } from './ranking.ts'

export function projectRanking(db: Db, projectId: number, now: number): ProjectRanking {
  const version = rankingVersion(db, projectId)
  return {
    version: version ? { id: version.id, name: version.name } : null,
    strategy: version?.strategy ?? null,
    scoredAt: version ? new Date(version.scoredAt).toISOString() : null,
    scores: version ? versionScores(db, version.id) : [],
    claims: liveClaims(db, projectId, now),
  }
}
