// Next's claims on a real (in-memory) SQLite database: rank order, unscored images after scored
// ones, the caller's own claim again, other people's claims and finished images skipped, expiry,
// release, and a model-based property: a random run of Next calls, finishes and releases never
// gives an image to two people and always hands out the best free image.
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'
import { claimNext, endClaim, liveClaims, releaseClaim } from './claims.ts'
import { learningFixture } from './learningFixtures.ts'
import { projectRanking } from './projectRanking.ts'
import { rankingVersion } from './ranking.ts'

const MINUTE = 60_000
const NOW = Date.UTC(2026, 5, 1)
const open: Db[] = []
afterEach(() => {
  for (const db of open.splice(0)) db.close()
})

function fixture(images: number, users = 3) {
  const made = learningFixture(images, users)
  open.push(made.db)
  const next = (userIndex: number, now = NOW, claimMinutes = 10) =>
    claimNext(made.db, {
      projectId: made.projectId,
      userId: made.users[userIndex]!,
      claimMinutes,
      now,
    })
  return { ...made, next }
}

describe('claimNext', () => {
  it('hands out unscored images oldest first when nothing is scored', () => {
    const { next, images, users } = fixture(3)
    const first = next(0)
    expect(first).toMatchObject({
      image: { id: images[0] },
      claim: { imageId: images[0], userId: users[0], username: 'user0' },
      score: null,
      reason: 'unscored',
    })
    expect(first.claim?.expiresAt).toBe(new Date(NOW + 10 * MINUTE).toISOString())
    expect(next(1).image?.id).toBe(images[1])
  })

  it('follows the ranking, then the unscored images, skipping finished and held ones', () => {
    const { next, images, scoredVersion, setStatus } = fixture(6)
    scoredVersion([images[5]!, images[2]!, images[4]!, images[3]!])
    setStatus(images[2]!, 'done')
    setStatus(images[3]!, 'reviewed')
    setStatus(images[4]!, 'in_progress')
    const got = [next(0), next(1), next(2)]
    expect(got.map((n) => n.image?.id)).toEqual([images[5], images[4], images[0]])
    expect(got.map((n) => n.reason)).toEqual(['ranked', 'ranked', 'unscored'])
    expect(got[0]?.score).toMatchObject({ imageId: images[5], rank: 1 })
  })

  it("gives the caller's own claim again, renewed, and nothing when all is taken", () => {
    const { next, images, db, projectId } = fixture(2)
    const first = next(0, NOW)
    const again = next(0, NOW + 5 * MINUTE)
    expect(again).toMatchObject({ image: { id: first.image?.id }, reason: 'held' })
    expect(again.claim?.expiresAt).toBe(new Date(NOW + 15 * MINUTE).toISOString())
    expect(next(1).image?.id).toBe(images[1])
    expect(next(2)).toEqual({ image: null, claim: null, score: null, reason: null })
    expect(liveClaims(db, projectId, NOW).map((claim) => claim.imageId)).toEqual(images)
  })

  it('lets a claim run out, and ends it when the image is finished', () => {
    const { next, images, setStatus, db } = fixture(2)
    next(0, NOW)
    next(1, NOW)
    // user0's claim ran out: the image is free for user2.
    expect(next(2, NOW + 10 * MINUTE).image?.id).toBe(images[0])
    // user1 finished theirs: their Next moves on (nothing left here).
    setStatus(images[1]!, 'done')
    endClaim(db, images[1]!)
    expect(next(1, NOW + 10 * MINUTE).image).toBeNull()
  })

  it('drops the claim of an image finished without endClaim (a stale claim never blocks)', () => {
    const { next, images, setStatus } = fixture(2)
    next(0)
    setStatus(images[0]!, 'done')
    expect(next(0)).toMatchObject({ image: { id: images[1] }, reason: 'unscored' })
  })
})

describe('releaseClaim', () => {
  it('lets the holder or an owner release, refuses anyone else while the claim lives', () => {
    const { next, images, db, projectId, users } = fixture(2)
    next(0)
    const release = (userIndex: number, owner: boolean, now = NOW) =>
      releaseClaim(
        db,
        { projectId, imageId: images[0]!, userId: users[userIndex]!, mayReleaseOthers: owner },
        now,
      )
    expect(() => release(1, false)).toThrow(HttpError)
    release(0, false)
    expect(liveClaims(db, projectId, NOW)).toEqual([])
    next(0)
    release(2, true)
    expect(liveClaims(db, projectId, NOW)).toEqual([])
    next(0)
    // Expired: anyone may clear it.
    release(1, false, NOW + 11 * MINUTE)
    expect(liveClaims(db, projectId, NOW)).toEqual([])
  })

  it('says not found for an image of another project', () => {
    const { db, projectId, users } = fixture(1)
    expect(() =>
      releaseClaim(db, { projectId, imageId: 999, userId: users[0]!, mayReleaseOthers: true }, NOW),
    ).toThrow(/not found/i)
  })
})

describe('the ranking version', () => {
  it('is the newest scored version that is not retired, else the newest retired one', () => {
    const { db, projectId, images, scoredVersion } = fixture(3)
    expect(rankingVersion(db, projectId)).toBeNull()
    const v1 = scoredVersion([images[0]!], 'retired')
    expect(rankingVersion(db, projectId)?.id).toBe(v1)
    const v2 = scoredVersion([images[1]!], 'current')
    scoredVersion([images[2]!], 'retired')
    expect(rankingVersion(db, projectId)?.id).toBe(v2)
    const ranking = projectRanking(db, projectId, NOW)
    expect(ranking).toMatchObject({
      version: { id: v2, name: 'v2' },
      strategy: 'entropy',
      scores: [{ imageId: images[1], rank: 1 }],
      claims: [],
    })
  })
})

type Step =
  | { kind: 'next'; user: number }
  | { kind: 'finish'; image: number }
  | { kind: 'release'; user: number }

describe('a random run of Next calls (model-based)', () => {
  it('never gives an image to two people and always gives the best free image', () => {
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('next'), user: fc.nat(3) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('finish'), image: fc.nat(11) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('release'), user: fc.nat(3) }) },
    ) as fc.Arbitrary<Step>
    fc.assert(
      fc.property(
        fc.shuffledSubarray([...Array(12).keys()]),
        fc.array(step, { maxLength: 40 }),
        (ranked, steps) => {
          const { db, next, images, users, projectId, scoredVersion, setStatus } = fixture(12, 4)
          try {
            if (ranked.length > 0) scoredVersion(ranked.map((i) => images[i]!))
            const rankOf = (i: number) => {
              const at = ranked.indexOf(i)
              return at < 0 ? ranked.length + i : at
            }
            const holder = new Map<number, number>()
            const finished = new Set<number>()
            for (const s of steps) {
              if (s.kind === 'finish') {
                finished.add(s.image)
                holder.delete(s.image)
                setStatus(images[s.image]!, 'done')
                endClaim(db, images[s.image]!)
              } else if (s.kind === 'release') {
                for (const [image, user] of holder) {
                  if (user !== s.user) continue
                  holder.delete(image)
                  releaseClaim(
                    db,
                    {
                      projectId,
                      imageId: images[image]!,
                      userId: users[user]!,
                      mayReleaseOthers: false,
                    },
                    NOW,
                  )
                }
              } else {
                const got = next(s.user)
                const gotIndex = got.image ? images.indexOf(got.image.id) : null
                const held = [...holder].find(([, user]) => user === s.user)?.[0]
                const free = [...images.keys()]
                  .filter((i) => !finished.has(i) && !holder.has(i))
                  .sort((a, b) => rankOf(a) - rankOf(b))
                const expected = held ?? free[0] ?? null
                expect(gotIndex).toBe(expected)
                if (expected !== null) holder.set(expected, s.user)
              }
              const claims = liveClaims(db, projectId, NOW)
              expect(new Set(claims.map((c) => c.imageId)).size).toBe(claims.length)
              expect(claims.length).toBe(holder.size)
            }
          } finally {
            db.close()
            open.splice(open.indexOf(db), 1)
          }
        },
      ),
      { numRuns: 100 },
    )
  })
})
