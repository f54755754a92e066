// The pool a training job's worker scores with the new version: the project's images nobody has
// finished, read when the worker asks (not frozen at lease time: an image finished meanwhile
// needs no score, one uploaded meanwhile gets one). Pages follow image ids (keyset), so images
// finished or added between two pages never shift another image out of the walk.
import type { ImageDtype } from '../../../shared/schemas/images.ts'
import type { PoolPage } from '../../../shared/schemas/training.ts'
import type { Db } from '../db/database.ts'
import { FINISHED_SQL } from './ranking.ts'

const BYTES_PER_SAMPLE: Record<ImageDtype, number> = { uint8: 1, uint16: 2, float32: 4 }

export const poolUrl = (jobId: number, afterImageId: number) =>
  `/api/worker/jobs/${jobId}/pool?cursor=${afterImageId}`

/** Whether the project has an image to score. */
export function hasScoringPool(db: Db, projectId: number): boolean {
  return (
    db
      .prepare(
        `SELECT 1 FROM images WHERE project_id = ? AND status NOT IN ${FINISHED_SQL} LIMIT 1`,
      )
      .get(projectId) !== undefined
  )
}

/**
 * One page of the pool: images with an id above `cursor`, by id, raw samples by `urlOf(sha256)`.
 * `total` counts the pool as it is now.
 */
export function scoringPoolPage(
  db: Db,
  pool: { jobId: number; projectId: number; cursor: number; limit: number },
  urlOf: (sha256: string) => string,
): PoolPage {
  const rows = db
    .prepare(`SELECT id, name, width, height, channels, dtype, raw_key FROM images
      WHERE project_id = ? AND status NOT IN ${FINISHED_SQL} AND id > ? ORDER BY id LIMIT ?`)
    .all(pool.projectId, pool.cursor, pool.limit + 1) as {
    id: number
    name: string
    width: number
    height: number
    channels: number
    dtype: ImageDtype
    raw_key: string
  }[]
  const page = rows.slice(0, pool.limit)
  const total = db
    .prepare(`SELECT count(*) FROM images WHERE project_id = ? AND status NOT IN ${FINISHED_SQL}`)
    .pluck()
    .get(pool.projectId) as number
  const last = page.at(-1)
  return {
    items: page.map((row) => ({
      imageId: row.id,
      name: row.name,
      width: row.width,
      height: row.height,
      channels: row.channels,
      dtype: row.dtype,
      samples: {
        url: urlOf(row.raw_key),
        sha256: row.raw_key,
        bytes: row.width * row.height * row.channels * BYTES_PER_SAMPLE[row.dtype],
      },
    })),
    total,
    next: rows.length > pool.limit && last ? poolUrl(pool.jobId, last.id) : null,
  }
}

/**
 * Whether a blob is the raw samples of one of the project's images. Any status, not only the
 * pool's: an image finished between the page that listed it and its download must not fail the
 * worker's scoring (the worker holding a job of the project reads its finished images anyway).
 */
export function isProjectSample(db: Db, projectId: number, sha256: string): boolean {
  return (
    db
      .prepare('SELECT 1 FROM images WHERE project_id = ? AND raw_key = ? LIMIT 1')
      .get(projectId, sha256) !== undefined
  )
}
