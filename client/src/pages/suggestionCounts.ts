// A version's suggestion counts as the model versions table shows them. Pure.
import type { SuggestionCounts } from '../../../shared/schemas/activeLearning.ts'

/** Clicks the click tool took per mask it made with the version; null before the first mask. */
export const clicksPerMask = (counts: SuggestionCounts): number | null =>
  counts.clickMasks === 0 ? null : counts.clicks / counts.clickMasks

/** Suggestions people answered, however they answered. */
export const answeredSuggestions = (counts: SuggestionCounts) =>
  counts.accepted + counts.edited + counts.rejected
