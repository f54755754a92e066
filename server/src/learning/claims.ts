// Next's claims: the best-ranked image nobody has finished or holds, given to one annotator for a
// while. Every decision runs in one IMMEDIATE SQLite transaction, so two callers (in this process
// or another one on the same database) never get the same image; image_claims' primary key is
// the last guard. A claim ends when its time runs out, when it is released, or when the image is
// marked done or reviewed (endClaim, called where the image index writes the status).
import type { ImageClaim, NextImage } from '../../../shared/schemas/activeLearning.ts'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'
import { getImageRow, toImageInfo } from '../images/index.ts'
import { FINISHED_SQL, imageScore, rankingVersion } from './ranking.ts'

const MINUTE_MS = 60_000

export interface NextRequest {
  projectId: number
  userId: number
  claimMinutes: number
  /** Epoch milliseconds. */
  now: number
}

const NOTHING_FREE: NextImage = { image: null, claim: null, score: null, reason: null }

/**
 * The image the caller should label now, claimed for `claimMinutes`: the caller's own live claim
 * again (renewed), else the best-ranked free image of the ranking version (rankingVersion), then
 * images it did not score, oldest first. Nothing free: all nulls.
 */
export function claimNext(db: Db, request: NextRequest): NextImage {
  const { projectId, userId, now } = request
  const expiresAt = now + request.claimMinutes * MINUTE_MS
  return db
    .transaction((): NextImage => {
      dropEndedClaims(db, projectId, now)
      const held = db
        .prepare(`SELECT image_id FROM image_claims WHERE project_id = ? AND user_id = ?
          ORDER BY claimed_at, image_id LIMIT 1`)
        .pluck()
        .get(projectId, userId) as number | undefined
      const version = rankingVersion(db, projectId)
      if (held !== undefined) {
        db.prepare('UPDATE image_claims SET expires_at = ? WHERE image_id = ?').run(expiresAt, held)
        return nextImage(db, projectId, held, userId, expiresAt, version?.id ?? null, 'held')
      }
      const free = db
        .prepare(`SELECT i.id FROM images i
          LEFT JOIN image_scores s ON s.version_id = ? AND s.image_id = i.id
          WHERE i.project_id = ? AND i.status NOT IN ${FINISHED_SQL}
            AND NOT EXISTS (SELECT 1 FROM image_claims c WHERE c.image_id = i.id)
          ORDER BY s.rank IS NULL, s.rank, i.created_at, i.id LIMIT 1`)
        .pluck()
        .get(version?.id ?? null, projectId) as number | undefined
      if (free === undefined) return NOTHING_FREE
      db.prepare(`INSERT INTO image_claims (image_id, project_id, user_id, claimed_at, expires_at)
        VALUES (?, ?, ?, ?, ?)`).run(free, projectId, userId, now, expiresAt)
      return nextImage(db, projectId, free, userId, expiresAt, version?.id ?? null, null)
    })
    .immediate()
}

function nextImage(
  db: Db,
  projectId: number,
  imageId: number,
  userId: number,
  expiresAt: number,
  versionId: number | null,
  held: 'held' | null,
): NextImage {
  const score = imageScore(db, versionId, imageId)
  return {
    image: toImageInfo(getImageRow(db, projectId, imageId)),
    claim: { imageId, userId, username: usernameOf(db, userId), expiresAt: iso(expiresAt) },
    score,
    reason: held ?? (score ? 'ranked' : 'unscored'),
  }
}

/** Claims whose time ran out, or whose image was finished meanwhile. */
function dropEndedClaims(db: Db, projectId: number, now: number): void {
  db.prepare(`DELETE FROM image_claims WHERE project_id = ? AND (expires_at <= ?
      OR image_id IN (SELECT id FROM images WHERE project_id = ? AND status IN ${FINISHED_SQL}))`).run(
    projectId,
    now,
    projectId,
  )
}

/** The project's live claims (not expired, image not finished), oldest first. */
export function liveClaims(db: Db, projectId: number, now: number): ImageClaim[] {
  const rows = db
    .prepare(`SELECT c.image_id AS imageId, c.user_id AS userId, u.username, c.expires_at AS expires
      FROM image_claims c JOIN users u ON u.id = c.user_id JOIN images i ON i.id = c.image_id
      WHERE c.project_id = ? AND c.expires_at > ? AND i.status NOT IN ${FINISHED_SQL}
      ORDER BY c.claimed_at, c.image_id`)
    .all(projectId, now) as { imageId: number; userId: number; username: string; expires: number }[]
  return rows.map(({ expires, ...claim }) => ({ ...claim, expiresAt: iso(expires) }))
}

/**
 * Ends the claim on an image before its time: the holder's own, or anyone's when
 * `mayReleaseOthers` (an owner). Releasing an image nobody holds changes nothing.
 */
export function releaseClaim(
  db: Db,
  release: { projectId: number; imageId: number; userId: number; mayReleaseOthers: boolean },
  now: number,
): void {
  db.transaction(() => {
    getImageRow(db, release.projectId, release.imageId)
    const claim = db
      .prepare('SELECT user_id, expires_at FROM image_claims WHERE image_id = ?')
      .get(release.imageId) as { user_id: number; expires_at: number } | undefined
    if (!claim) return
    const live = claim.expires_at > now
    if (live && claim.user_id !== release.userId && !release.mayReleaseOthers)
      throw new HttpError(
        403,
        'Another annotator holds this image; only they or an owner can release it',
      )
    db.prepare('DELETE FROM image_claims WHERE image_id = ?').run(release.imageId)
  }).immediate()
}

/** The image was marked done or reviewed: whoever held it is finished with it. */
export function endClaim(db: Db, imageId: number): void {
  db.prepare('DELETE FROM image_claims WHERE image_id = ?').run(imageId)
}

function usernameOf(db: Db, userId: number): string {
  return (db.prepare('SELECT username FROM users WHERE id = ?').pluck().get(userId) as string) ?? ''
}

const iso = (ms: number) => new Date(ms).toISOString()
