// Active learning (ARCHITECTURE decision 8): per-version image scores uploaded by the training
// worker, the project's ranking, and Next's time-limited claims. Other folders use this surface.
export {
  readActiveLearningSettings,
  saveActiveLearningSettings,
} from './activeLearningSettings.ts'
export { claimNext, endClaim, liveClaims, releaseClaim } from './claims.ts'
export { projectRanking } from './projectRanking.ts'
export { FINISHED_STATUSES, rankingVersion } from './ranking.ts'
export { registerLearningRoutes } from './routes.ts'
export {
  hasScoringPool,
  isProjectSample,
  poolUrl,
  scoringPoolPage,
} from './scoringPool.ts'
export {
  type CheckedScores,
  checkScoresFile,
  readScoresFile,
  type StoredScores,
  storeVersionScores,
} from './versionScores.ts'
