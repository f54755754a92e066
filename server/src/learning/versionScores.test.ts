// The scores file a worker uploads: what checkScoresFile accepts (any permutation of ranks over
// distinct images of the right version) and refuses, and how storeVersionScores keeps only the
// project's images, once per version.
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { Db } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import { learningFixture } from './learningFixtures.ts'
import { checkScoresFile, storeVersionScores } from './versionScores.ts'

const open: Db[] = []
afterEach(() => {
  for (const db of open.splice(0)) db.close()
})

const file = (items: { imageId: number; score: number; rank: number }[], version = 'v3') =>
  JSON.stringify({ strategy: 'entropy', version, items, seconds: 2.5 })

describe('checkScoresFile', () => {
  it('accepts any ranking of distinct images with ranks 1..n', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { maxLength: 50 }),
        // JSON has no −0 (it writes 0): scores are generated without it.
        fc.infiniteStream(fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => v + 0)),
        fc.nat(),
        (imageIds, scores, seed) => {
          const ranks = imageIds.map((_, i) => i + 1)
          // A deterministic shuffle of the ranks.
          for (let i = ranks.length - 1; i > 0; i--) {
            const j = (seed + i * 7919) % (i + 1)
            ;[ranks[i], ranks[j]] = [ranks[j]!, ranks[i]!]
          }
          const stream = scores[Symbol.iterator]()
          const items = imageIds.map((imageId, i) => ({
            imageId,
            score: stream.next().value as number,
            rank: ranks[i]!,
          }))
          const checked = checkScoresFile(file(items), 'v3')
          expect(checked).toHaveProperty('file')
          expect('file' in checked && checked.file.items).toEqual(items)
        },
      ),
    )
  })

  it('refuses a file that is not JSON, fails the schema, is of another version or repeats', () => {
    const one = { imageId: 1, score: 0.5, rank: 1 }
    const cases: [string, RegExp][] = [
      ['{', /not JSON/],
      [JSON.stringify({ strategy: 'nope', version: 'v3', items: [], seconds: 1 }), /strategy/],
      [file([{ ...one, rank: 0 }]), /rank/],
      [file([one], 'v2'), /version v2, not v3/],
      [file([one, { ...one, rank: 2 }]), /image 1 is scored twice/],
      [file([one, { ...one, imageId: 2 }]), /rank 1 is given twice/],
      [file([one, { ...one, imageId: 2, rank: 3 }]), /rank 3 is past/],
    ]
    for (const [text, error] of cases) {
      const checked = checkScoresFile(text, 'v3')
      expect('error' in checked && checked.error, text).toMatch(error)
    }
  })
})

describe('storeVersionScores', () => {
  const errors: string[] = []
  const log: Logger = { error: (message) => errors.push(message), info() {}, debug() {} }

  function setup() {
    const fixture = learningFixture(3)
    open.push(fixture.db)
    const versionId = Number(
      fixture.db
        .prepare(`INSERT INTO model_versions (project_id, name, state, card_json, files_json)
          VALUES (?, 'v3', 'candidate', '{}', '{}')`)
        .run(fixture.projectId).lastInsertRowid,
    )
    return { ...fixture, versionId }
  }

  it("keeps the project's images only, counts the others, and stores once", () => {
    const { db, projectId, otherProjectId, images, versionId } = setup()
    const otherImage = db
      .prepare('SELECT id FROM images WHERE project_id = ?')
      .pluck()
      .get(otherProjectId) as number
    const items = [
      { imageId: images[2]!, score: 0.9, rank: 1 },
      { imageId: 12_345, score: 0.8, rank: 2 },
      { imageId: images[0]!, score: 0.5, rank: 3 },
      { imageId: otherImage, score: 0.1, rank: 4 },
    ]
    const scored = { strategy: 'entropy' as const, version: 'v3', items, seconds: 1 }
    const scoring = { projectId, versionId, file: scored, scoredAt: 42 }
    expect(storeVersionScores({ db, log }, scoring)).toEqual({ stored: 2, ignored: 2 })
    expect(db.prepare('SELECT * FROM version_scorings').all()).toEqual([
      {
        version_id: versionId,
        project_id: projectId,
        strategy: 'entropy',
        seconds: 1,
        scored_at: 42,
      },
    ])
    expect(db.prepare('SELECT image_id, rank FROM image_scores ORDER BY rank').all()).toEqual([
      { image_id: images[2], rank: 1 },
      { image_id: images[0], rank: 3 },
    ])
    expect(storeVersionScores({ db, log }, scoring)).toBeNull()
    expect(db.prepare('SELECT count(*) FROM image_scores').pluck().get()).toBe(2)
  })

  it('stores nothing when no image is the project’s, and logs instead of throwing', () => {
    const { db, projectId, images, versionId } = setup()
    const scored = {
      strategy: 'random' as const,
      version: 'v3',
      items: [{ imageId: 99_999, score: 1, rank: 1 }],
      seconds: 1,
    }
    expect(
      storeVersionScores({ db, log }, { projectId, versionId, file: scored, scoredAt: 1 }),
    ).toEqual({ stored: 0, ignored: 1 })
    expect(db.prepare('SELECT count(*) FROM version_scorings').pluck().get()).toBe(0)
    const before = errors.length
    // A version that does not exist breaks the foreign key: logged, nothing stored.
    const bad = { ...scored, items: [{ imageId: images[0]!, score: 1, rank: 1 }] }
    expect(
      storeVersionScores({ db, log }, { projectId, versionId: 777, file: bad, scoredAt: 1 }),
    ).toBeNull()
    expect(errors.length).toBe(before + 1)
    expect(db.prepare('SELECT count(*) FROM image_scores').pluck().get()).toBe(0)
  })
})
