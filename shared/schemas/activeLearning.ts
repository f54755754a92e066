// Active learning's wire shapes (ARCHITECTURE decision 8): the project's strategy and claim
// settings, the ranking a version's scores give the project's images, the Next call that claims
// the best-ranked free image, and how people answered a version's suggestions. The worker side
// (pool pages, the scores file) is in training.ts beside the rest of the worker protocol.
import { z } from 'zod'
import { ImageInfo } from './images.ts'

/**
 * How a new version ranks the images nobody has finished (trainer/tessera_trainer/strategies.py):
 * random; mean foreground entropy of the automatic head; entropy near predicted instance edges;
 * disagreement under flips and 90° rotations; uncertainty mixed with diversity (k-centre greedy on
 * pooled encoder features, so a batch is not ten copies of one hard field).
 */
export const Strategy = z.enum(['random', 'entropy', 'boundary', 'tta', 'diverse'])
export type Strategy = z.infer<typeof Strategy>

export const STRATEGY_LABELS: Record<Strategy, string> = {
  random: 'Random',
  entropy: 'Foreground entropy',
  boundary: 'Boundary uncertainty',
  tta: 'Test-time augmentation disagreement',
  diverse: 'Uncertainty and diversity',
}

export const ActiveLearningSettings = z.object({
  strategy: Strategy,
  /** How long Next holds an image for the annotator who got it. */
  claimMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60),
  /** Put the current version's automatic proposals on an image as suggestions when it opens. */
  preannotate: z.boolean(),
})
export type ActiveLearningSettings = z.infer<typeof ActiveLearningSettings>
export const DEFAULT_ACTIVE_LEARNING: ActiveLearningSettings = {
  strategy: 'diverse',
  claimMinutes: 30,
  preannotate: true,
}

/** An image's place in the ranking of the version that scored it. */
export const ImageScore = z.object({
  imageId: z.number().int(),
  /** Higher = more to learn from it (the strategy's own scale). */
  score: z.number(),
  /** 1 = label this first. */
  rank: z.number().int().positive(),
})
export type ImageScore = z.infer<typeof ImageScore>

export const ImageClaim = z.object({
  imageId: z.number().int(),
  userId: z.number().int(),
  username: z.string(),
  expiresAt: z.string(),
})
export type ImageClaim = z.infer<typeof ImageClaim>

/** GET /api/projects/:id/ranking: the newest scores, and who holds which image. */
export const ProjectRanking = z.object({
  /** The version whose scores these are (null: no version has scored this project yet). */
  version: z.object({ id: z.number().int(), name: z.string() }).nullable(),
  strategy: Strategy.nullable(),
  scoredAt: z.string().nullable(),
  scores: z.array(ImageScore),
  claims: z.array(ImageClaim),
})
export type ProjectRanking = z.infer<typeof ProjectRanking>

/** POST /api/projects/:id/next: the image to label now, claimed for the caller. */
export const NextImage = z.object({
  /** null when every image is done or claimed by someone else. */
  image: ImageInfo.nullable(),
  claim: ImageClaim.nullable(),
  score: ImageScore.nullable(),
  /** Why this image: 'ranked' by the scores, 'unscored' (no scores yet: oldest first), 'held' (your claim). */
  reason: z.enum(['ranked', 'unscored', 'held']).nullable(),
})
export type NextImage = z.infer<typeof NextImage>

/** How people answered a version's suggestions, and what its click masks cost (per version). */
export const SuggestionCounts = z.object({
  /** Accepted without a change. */
  accepted: z.number().int().nonnegative(),
  /** Accepted after a person changed the shape (or changed it, which accepts it). */
  edited: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  /** Masks made with the click tool from this version, and the clicks they took. */
  clickMasks: z.number().int().nonnegative(),
  clicks: z.number().int().nonnegative(),
})
export type SuggestionCounts = z.infer<typeof SuggestionCounts>
