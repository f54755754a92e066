// The project's ranking as pages show it: images sorted by rank or name and filtered by score
// or status, who holds which image until when, and the lines that say which version scored
// them. Pure; the ranking comes from GET /api/projects/:id/ranking.
import {
  type ImageClaim,
  type ImageScore,
  type ProjectRanking,
  STRATEGY_LABELS,
} from '../../../shared/schemas/activeLearning.ts'
import type { ImageInfo } from '../../../shared/schemas/images.ts'

export const IMAGE_SORTS = { rank: 'Rank', name: 'Name' } as const
export type ImageSort = keyof typeof IMAGE_SORTS
export const IMAGE_FILTERS = {
  all: 'All images',
  scored: 'Scored',
  unscored: 'Not scored',
  'not-done': 'Not done',
} as const
export type ImageFilter = keyof typeof IMAGE_FILTERS

export interface RankedImage {
  image: ImageInfo
  score: ImageScore | null
  /** Who holds the image, while the claim lasts. */
  claim: ImageClaim | null
}

/** Claims whose time is not over at `now` (a fetched list ages on the page). */
export const liveClaims = (claims: readonly ImageClaim[], now: number) =>
  claims.filter((c) => Date.parse(c.expiresAt) > now)

/** Rank first when there are scores, else by name. */
export const defaultSort = (ranking: ProjectRanking | null): ImageSort =>
  ranking && ranking.scores.length > 0 ? 'rank' : 'name'

const byName = (a: RankedImage, b: RankedImage) =>
  a.image.name.localeCompare(b.image.name, undefined, { numeric: true }) || a.image.id - b.image.id

export function rankImages(
  images: readonly ImageInfo[],
  ranking: ProjectRanking | null,
  sort: ImageSort,
  filter: ImageFilter,
  now: number,
): RankedImage[] {
  const scores = new Map((ranking?.scores ?? []).map((s) => [s.imageId, s]))
  const claims = new Map(liveClaims(ranking?.claims ?? [], now).map((c) => [c.imageId, c]))
  const rows = images
    .map((image) => ({
      image,
      score: scores.get(image.id) ?? null,
      claim: claims.get(image.id) ?? null,
    }))
    .filter(
      (row) =>
        filter === 'all' ||
        (filter === 'scored' && row.score !== null) ||
        (filter === 'unscored' && row.score === null) ||
        (filter === 'not-done' &&
          (row.image.status === 'new' || row.image.status === 'in_progress')),
    )
  if (sort === 'name') return rows.sort(byName)
  // Unscored images after the ranked ones, by name.
  return rows.sort((a, b) => {
    if (a.score && b.score) return a.score.rank - b.score.rank || byName(a, b)
    if (a.score || b.score) return a.score ? -1 : 1
    return byName(a, b)
  })
}

const pad = (n: number) => String(n).padStart(2, '0')

/** '14:32' today; '3 Dec 14:32' on another day (local time). */
export function formatClock(iso: string, now: number): string {
  const at = new Date(iso)
  const today = new Date(now)
  const clock = `${pad(at.getHours())}:${pad(at.getMinutes())}`
  if (at.toDateString() === today.toDateString()) return clock
  return `${at.getDate()} ${at.toLocaleString('en', { month: 'short' })} ${clock}`
}

/** 'Yours until 14:32' or 'Held by alice until 14:32'. */
export function describeClaim(claim: ImageClaim, userId: number, now: number): string {
  const until = formatClock(claim.expiresAt, now)
  return claim.userId === userId
    ? `Yours until ${until}`
    : `Held by ${claim.username} until ${until}`
}

/** 'Rank 1 of 37 · scored by v3, Uncertainty and diversity'. */
export function describeRank(score: ImageScore, ranking: ProjectRanking): string {
  const by = ranking.version
    ? ` · scored by ${ranking.version.name}${ranking.strategy ? `, ${STRATEGY_LABELS[ranking.strategy]}` : ''}`
    : ''
  return `Rank ${score.rank} of ${ranking.scores.length}${by}`
}

/** 'Scored by v3 (Uncertainty and diversity) at 3 Dec 14:32', or why there are no scores. */
export function describeScoring(ranking: ProjectRanking, now: number): string {
  if (!ranking.version) return 'Not scored yet: the next trained version ranks the images.'
  const strategy = ranking.strategy ? ` (${STRATEGY_LABELS[ranking.strategy]})` : ''
  const at = ranking.scoredAt ? ` at ${formatClock(ranking.scoredAt, now)}` : ''
  return `Scored by ${ranking.version.name}${strategy}${at}`
}

/** A score as the grid shows it: three significant digits, whatever the strategy's scale. */
export const formatScore = (score: number) =>
  Math.abs(score) >= 1000 || (score !== 0 && Math.abs(score) < 0.001)
    ? score.toExponential(2)
    : score.toPrecision(3)
