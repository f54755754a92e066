// The Images tab's order and filters, and the lines on claims and scores.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ProjectRanking } from '../../../shared/schemas/activeLearning.ts'
import type { ImageInfo } from '../../../shared/schemas/images.ts'
import {
  defaultSort,
  describeClaim,
  describeRank,
  describeScoring,
  formatClock,
  formatScore,
  type ImageFilter,
  liveClaims,
  rankImages,
} from './imageRanking.ts'

const NOW = new Date(2026, 10, 29, 14, 0).getTime()
const at = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString()

const image = (id: number, name: string, status: ImageInfo['status'] = 'new') =>
  ({ id, name, status }) as ImageInfo

const images = [
  image(1, 'b.png'),
  image(2, 'a.png', 'done'),
  image(3, 'c.png'),
  image(4, 'img10.png', 'in_progress'),
  image(5, 'img9.png'),
]
const ranking: ProjectRanking = {
  version: { id: 7, name: 'v3' },
  strategy: 'diverse',
  scoredAt: at(-30),
  scores: [
    { imageId: 3, score: 0.9, rank: 1 },
    { imageId: 1, score: 0.5, rank: 2 },
    { imageId: 5, score: 0.1, rank: 3 },
  ],
  claims: [
    { imageId: 3, userId: 10, username: 'alice', expiresAt: at(32) },
    { imageId: 1, userId: 11, username: 'bob', expiresAt: at(-1) },
  ],
}
const ids = (rows: { image: ImageInfo }[]) => rows.map((r) => r.image.id)

describe('image ranking', () => {
  it('sorts by rank, unscored images after the ranked ones by name', () => {
    expect(ids(rankImages(images, ranking, 'rank', 'all', NOW))).toEqual([3, 1, 5, 2, 4])
    expect(ids(rankImages(images, ranking, 'name', 'all', NOW))).toEqual([2, 1, 3, 5, 4])
  })

  it('filters scored, unscored and not done images', () => {
    expect(ids(rankImages(images, ranking, 'rank', 'scored', NOW))).toEqual([3, 1, 5])
    expect(ids(rankImages(images, ranking, 'rank', 'unscored', NOW))).toEqual([2, 4])
    expect(ids(rankImages(images, ranking, 'rank', 'not-done', NOW))).toEqual([3, 1, 5, 4])
  })

  it('keeps live claims only', () => {
    const rows = rankImages(images, ranking, 'rank', 'all', NOW)
    expect(rows.find((r) => r.image.id === 3)?.claim?.username).toBe('alice')
    expect(rows.find((r) => r.image.id === 1)?.claim).toBeNull()
    expect(liveClaims(ranking.claims, NOW)).toHaveLength(1)
  })

  it('ranks first only when there are scores', () => {
    expect(defaultSort(ranking)).toBe('rank')
    expect(defaultSort({ ...ranking, scores: [] })).toBe('name')
    expect(defaultSort(null)).toBe('name')
  })

  it('keeps every image exactly once under any sort, and each filter a subset', () => {
    const filters: ImageFilter[] = ['all', 'scored', 'unscored', 'not-done']
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 50 }), { maxLength: 20 }),
        fc.constantFrom('rank' as const, 'name' as const),
        (scored, sort) => {
          const all = Array.from({ length: 50 }, (_, i) => image(i + 1, `im${i % 7}`))
          const r = {
            ...ranking,
            scores: scored.map((imageId, i) => ({ imageId, score: 1 / (i + 1), rank: i + 1 })),
          }
          const sorted = ids(rankImages(all, r, sort, 'all', NOW))
          expect([...sorted].sort((a, b) => a - b)).toEqual(all.map((i) => i.id))
          if (sort === 'rank') expect(sorted.slice(0, scored.length)).toEqual(scored)
          for (const f of filters)
            for (const id of ids(rankImages(all, r, sort, f, NOW))) expect(sorted).toContain(id)
        },
      ),
    )
  })

  it('says who holds an image until when, and where it ranks', () => {
    const [alice] = ranking.claims
    expect(describeClaim(alice!, 10, NOW)).toBe('Yours until 14:32')
    expect(describeClaim(alice!, 11, NOW)).toBe('Held by alice until 14:32')
    expect(formatClock(new Date(2026, 11, 3, 9, 5).toISOString(), NOW)).toBe('3 Dec 09:05')
    expect(describeRank(ranking.scores[0]!, ranking)).toBe(
      'Rank 1 of 3 · scored by v3, Uncertainty and diversity',
    )
    expect(describeScoring(ranking, NOW)).toBe('Scored by v3 (Uncertainty and diversity) at 13:30')
    expect(describeScoring({ ...ranking, version: null }, NOW)).toMatch(/^Not scored yet/)
  })

  it('writes scores with three significant digits', () => {
    expect(formatScore(0.5)).toBe('0.500')
    expect(formatScore(12.345)).toBe('12.3')
    expect(formatScore(0)).toBe('0.00')
    expect(formatScore(0.00012)).toBe('1.20e-4')
  })
})
