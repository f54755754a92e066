// Fixtures for the active-learning unit tests: an in-memory database with users, a project and
// images inserted as rows (no blobs, no documents), model versions and their scores. Test code
// only.
import { type Db, openDatabase } from '../db/database.ts'

export interface LearningFixture {
  db: Db
  projectId: number
  otherProjectId: number
  users: number[]
  /** The project's images, oldest first. */
  images: number[]
  setStatus(imageId: number, status: string): void
  /** A model version of the project with the given scores (by image, rank = position + 1). */
  scoredVersion(ranked: number[], state?: 'candidate' | 'current' | 'retired'): number
}

export function learningFixture(imageCount: number, userCount = 3): LearningFixture {
  const db = openDatabase(':memory:')
  const insertUser = db.prepare(
    "INSERT INTO users (username, display_name, password_hash) VALUES (?, ?, 'x')",
  )
  const users = Array.from({ length: userCount }, (_, i) =>
    Number(insertUser.run(`user${i}`, `User ${i}`).lastInsertRowid),
  )
  const project = (name: string) =>
    Number(db.prepare('INSERT INTO projects (name) VALUES (?)').run(name).lastInsertRowid)
  const projectId = project('Scored')
  const otherProjectId = project('Other')
  const insertImage = db.prepare(`INSERT INTO images (project_id, name, sha256, format, bytes,
      width, height, channels, dtype, stats_json, raw_key, display_key, thumbnail_key, created_at)
    VALUES (?, ?, ?, 'png', 1, 8, 8, 1, 'uint8', '[]', ?, 'd', 't', ?)`)
  const image = (project: number, i: number) =>
    Number(
      insertImage.run(
        project,
        `image-${i}.png`,
        `${project}-${i}`,
        `raw-${project}-${i}`,
        new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      ).lastInsertRowid,
    )
  const images = Array.from({ length: imageCount }, (_, i) => image(projectId, i))
  image(otherProjectId, 0)
  let versions = 0
  return {
    db,
    projectId,
    otherProjectId,
    users,
    images,
    setStatus: (imageId, status) => {
      db.prepare('UPDATE images SET status = ? WHERE id = ?').run(status, imageId)
    },
    scoredVersion: (ranked, state = 'candidate') => {
      versions++
      const versionId = Number(
        db
          .prepare(`INSERT INTO model_versions (project_id, name, state, card_json, files_json)
            VALUES (?, ?, ?, '{}', '{}')`)
          .run(projectId, `v${versions}`, state).lastInsertRowid,
      )
      db.prepare(
        "INSERT INTO version_scorings (version_id, project_id, strategy, seconds, scored_at) VALUES (?, ?, 'entropy', 1, ?)",
      ).run(versionId, projectId, 1_000 * versions)
      const insert = db.prepare(
        'INSERT INTO image_scores (version_id, image_id, score, rank) VALUES (?, ?, ?, ?)',
      )
      for (const [i, imageId] of ranked.entries())
        insert.run(versionId, imageId, 1 - i / ranked.length, i + 1)
      return versionId
    },
  }
}
