// The scores a worker uploads with a new version (the 'scores' file, ScoresFile): checked before
// the version is registered and stored in version_scorings + image_scores inside the job's
// completion transaction. A bad file never fails a version: it is refused here and the version
// simply has no scores.
import {
  type ScoresFile,
  ScoresFile as ScoresFileSchema,
} from '../../../shared/schemas/training.ts'
import type { BlobStore } from '../blobs/BlobStore.ts'
import type { Db } from '../db/database.ts'
import type { Logger } from '../logger.ts'

export type CheckedScores = { file: ScoresFile } | { error: string }

/**
 * Parses a scores file and checks it belongs to `versionName`: valid JSON under the schema, each
 * image once, and ranks that are exactly 1..n (each once; rank 1 = label first). Pure.
 */
export function checkScoresFile(text: string, versionName: string): CheckedScores {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return { error: `not JSON (${(error as Error).message})` }
  }
  const parsed = ScoresFileSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { error: `${issue?.path.join('.') || 'file'}: ${issue?.message ?? 'invalid'}` }
  }
  const file = parsed.data
  if (file.version !== versionName)
    return { error: `it scores version ${file.version}, not ${versionName}` }
  const images = new Set<number>()
  const ranks = new Set<number>()
  for (const item of file.items) {
    if (images.has(item.imageId)) return { error: `image ${item.imageId} is scored twice` }
    if (ranks.has(item.rank)) return { error: `rank ${item.rank} is given twice` }
    if (item.rank > file.items.length)
      return { error: `rank ${item.rank} is past the ${file.items.length} images scored` }
    images.add(item.imageId)
    ranks.add(item.rank)
  }
  return { file }
}

export interface StoredScores {
  /** Scores stored (images of the project). */
  stored: number
  /** Scores of images the project does not have (never had, or deleted since): left out. */
  ignored: number
}

/** The uploaded scores file from the blob store, checked; null (and logged) when it is bad. */
export async function readScoresFile(
  { blobs, log }: { blobs: BlobStore; log: Logger },
  what: string,
  sha256: string,
  versionName: string,
): Promise<ScoresFile | null> {
  let checked: CheckedScores
  try {
    checked = checkScoresFile((await blobs.get(sha256)).toString('utf8'), versionName)
  } catch (error) {
    checked = { error: (error as Error).message }
  }
  if ('file' in checked) return checked.file
  log.error(`${what}: scores file refused, version ${versionName} gets no scores: ${checked.error}`)
  return null
}

export interface VersionScoring {
  projectId: number
  versionId: number
  file: ScoresFile
  /** Epoch milliseconds. */
  scoredAt: number
}

/**
 * Stores a checked file as the version's scores: only the project's images, each with its score
 * and the file's rank. Synchronous and in one transaction (a savepoint inside the completion's);
 * a version that has scores already keeps them (a completion commits once, but this stays
 * idempotent), and a file with no image of the project stores nothing. Never throws: a failure
 * is logged and leaves the version without scores (null), as does a version scored already.
 */
export function storeVersionScores(
  { db, log }: { db: Db; log: Logger },
  scoring: VersionScoring,
): StoredScores | null {
  try {
    return insertVersionScores(db, scoring)
  } catch (error) {
    log.error(`version ${scoring.versionId}: scores not stored: ${(error as Error).message}`)
    return null
  }
}

function insertVersionScores(db: Db, scoring: VersionScoring): StoredScores | null {
  return db.transaction(() => {
    const exists = db
      .prepare('SELECT 1 FROM version_scorings WHERE version_id = ?')
      .get(scoring.versionId)
    if (exists) return null
    const projectImages = new Set(
      db
        .prepare('SELECT id FROM images WHERE project_id = ?')
        .pluck()
        .all(scoring.projectId) as number[],
    )
    const kept = scoring.file.items.filter((item) => projectImages.has(item.imageId))
    const ignored = scoring.file.items.length - kept.length
    if (kept.length === 0) return { stored: 0, ignored }
    db.prepare(
      'INSERT INTO version_scorings (version_id, project_id, strategy, seconds, scored_at) VALUES (?, ?, ?, ?, ?)',
    ).run(
      scoring.versionId,
      scoring.projectId,
      scoring.file.strategy,
      scoring.file.seconds,
      scoring.scoredAt,
    )
    const insert = db.prepare(
      'INSERT INTO image_scores (version_id, image_id, score, rank) VALUES (?, ?, ?, ?)',
    )
    for (const item of kept) insert.run(scoring.versionId, item.imageId, item.score, item.rank)
    return { stored: kept.length, ignored }
  })()
}
