// Project model versions on a real SQLite database and blob store: names, candidates from jobs,
// the current version through promotions and rollbacks, listeners told after commit, the
// auto-promotion rule, the version list and file reads.
import { afterEach, describe, expect, it } from 'vitest'
import type { EvaluationMetrics } from '../../../shared/schemas/training.ts'
import { sha256Hex } from '../blobs/BlobStore.ts'
import { DEFAULT_MODELS_DIR } from './baseVersions.ts'
import type { NewModelVersion } from './ModelVersions.ts'
import {
  dataFolder,
  expectHttpError,
  removeModelVersionFixtures,
  v0Card,
  v0File,
} from './modelVersionFixtures.ts'

afterEach(removeModelVersionFixtures)

const metrics = (auto_ap50: number, noc85: number): EvaluationMetrics => ({
  n_images: 4,
  n_objects: 40,
  auto_ap50,
  noc85,
})

/** What a training job of `projectId` hands over: v0's files under a new card. */
function jobResult(projectId: number, jobId: number, parentId: number): NewModelVersion {
  const card = { ...v0Card(), version: `job${jobId}`, parentVersion: 'v0' }
  const file = (name: string) => {
    const bytes = v0File(name)
    return { sha256: sha256Hex(bytes), bytes: bytes.length }
  }
  return {
    projectId,
    jobId,
    parentId,
    card: JSON.stringify(card),
    files: {
      encoder: file('encoder.onnx'),
      decoder: file('decoder.onnx'),
      checkpoint: file('checkpoint.pt'),
      card: { sha256: 'f'.repeat(64), bytes: 1 },
    },
    metrics: { validation: metrics(0.8, 2), baseValidation: metrics(0.7, 3) },
    trainingSet: { images: 12, objects: 340, hash: 'abc' },
    triggeredBy: null,
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('project versions', () => {
  async function registered() {
    const data = dataFolder()
    const [v0] = await data.versions.registerBaseVersions(DEFAULT_MODELS_DIR)
    return { ...data, v0: v0! }
  }

  it('names versions v1, v2, … per project', async () => {
    const data = await registered()
    expect(data.versions.nextName(data.projectId)).toBe('v1')
    data.versions.createFromJob(jobResult(data.projectId, 1, data.v0.id))
    data.versions.createFromJob({ ...jobResult(data.projectId, 2, data.v0.id), name: 'v7' })
    expect(data.versions.nextName(data.projectId)).toBe('v8')
    expect(data.versions.nextName(data.other)).toBe('v1')
  })

  it('adds a job result as a candidate once per job', async () => {
    const data = await registered()
    const input = jobResult(data.projectId, 5, data.v0.id)
    const v1 = data.versions.createFromJob(input)
    expect(v1).toMatchObject({
      name: 'v1',
      projectId: data.projectId,
      parentId: data.v0.id,
      state: 'candidate',
      jobId: 5,
      trainingImages: 12,
      trainingObjects: 340,
      trainingSetHash: 'abc',
    })
    expect(Object.keys(v1.files).sort()).toEqual(['checkpoint', 'decoder', 'encoder'])
    expect(data.versions.createFromJob(input).id).toBe(v1.id)
    expect(data.versions.currentFor(data.projectId).id).toBe(data.v0.id)
    expect(data.changes).toEqual([
      { projectId: data.projectId, reason: 'candidate', version: { id: v1.id, name: 'v1' } },
    ])
    expect(() =>
      data.versions.createFromJob({ ...jobResult(data.projectId, 6, data.v0.id), name: 'v1' }),
    ).toThrow(/has a model version v1 already/)
    expect(() =>
      data.versions.createFromJob({ ...jobResult(data.projectId, 7, data.v0.id), card: '{}' }),
    ).toThrow(/Invalid model card: format/)
  })

  it('promotes, retires the version it replaces and rolls back step by step', async () => {
    const data = await registered()
    const { versions, projectId } = data
    const v1 = versions.createFromJob(jobResult(projectId, 1, data.v0.id))
    const v2 = versions.createFromJob(jobResult(projectId, 2, v1.id))
    const state = (id: number) => versions.get(id)!.state
    const pinned = () =>
      (
        data.db.prepare('SELECT model_version_id FROM projects WHERE id = ?').get(projectId) as {
          model_version_id: number | null
        }
      ).model_version_id

    expect(versions.promote(projectId, v1.id, 'promoted', data.userId).id).toBe(v1.id)
    expect([state(v1.id), state(v2.id), pinned()]).toEqual(['current', 'candidate', v1.id])
    versions.promote(projectId, v2.id, 'automatic', null)
    expect([state(v1.id), state(v2.id)]).toEqual(['retired', 'current'])
    expect(versions.currentFor(data.other).id).toBe(data.v0.id)

    expect(versions.rollback(projectId, data.userId).id).toBe(v1.id)
    expect([state(v1.id), state(v2.id)]).toEqual(['current', 'retired'])
    expect(versions.rollback(projectId, data.userId).id).toBe(data.v0.id)
    expect([state(v1.id), pinned()]).toEqual(['retired', null])
    expect(state(data.v0.id)).toBe('current')
    expect(() => versions.rollback(projectId, data.userId)).toThrow(
      expect.objectContaining({ status: 409 }),
    )

    const reasons = data.db
      .prepare('SELECT reason FROM model_promotions WHERE project_id = ? ORDER BY id')
      .all(projectId)
      .map((row) => (row as { reason: string }).reason)
    expect(reasons).toEqual(['promoted', 'automatic', 'rolled-back', 'rolled-back'])
    expect(data.changes.slice(2).map((c) => [c.reason, c.version.name])).toEqual([
      ['promoted', 'v1'],
      ['promoted', 'v2'],
      ['rolled-back', 'v1'],
      ['rolled-back', 'v0'],
    ])
  })

  it('promoting the current version changes nothing; another project’s version is not found', async () => {
    const data = await registered()
    const theirs = data.versions.createFromJob(jobResult(data.other, 1, data.v0.id))
    data.versions.promote(data.projectId, data.v0.id, 'promoted', data.userId)
    expect(data.db.prepare('SELECT count(*) AS n FROM model_promotions').get()).toEqual({ n: 0 })
    expect(() => data.versions.promote(data.projectId, theirs.id, 'promoted', null)).toThrow(
      expect.objectContaining({ status: 404 }),
    )
    expect(data.versions.visibleTo(data.projectId, theirs.id)).toBeNull()
    expect(data.versions.visibleTo(data.projectId, data.v0.id)?.id).toBe(data.v0.id)
  })

  it('tells listeners only once the surrounding transaction committed', async () => {
    const data = await registered()
    data.db.transaction(() => {
      const v1 = data.versions.createFromJob(jobResult(data.projectId, 1, data.v0.id))
      data.versions.promote(data.projectId, v1.id, 'automatic', null)
      expect(data.changes).toEqual([])
    })()
    await settle()
    expect(data.changes.map((c) => c.reason)).toEqual(['candidate', 'promoted'])

    expect(() =>
      data.db.transaction(() => {
        data.versions.createFromJob(jobResult(data.projectId, 2, data.v0.id))
        throw new Error('completion failed')
      })(),
    ).toThrow('completion failed')
    await settle()
    expect(data.changes).toHaveLength(2)
    expect(data.versions.nextName(data.projectId)).toBe('v2')
  })

  it('auto-promotes only a version not worse than the base, while the base is still current', async () => {
    const data = await registered()
    const { versions, projectId } = data
    const judge = (validation: EvaluationMetrics, base = data.v0.id) =>
      versions.shouldAutoPromote(projectId, base, { validation, baseValidation: metrics(0.7, 3) })
    expect(judge(metrics(0.7, 3))).toBe(true)
    expect(judge(metrics(0.9, 2.5))).toBe(true)
    expect(judge(metrics(0.69, 2))).toBe(false)
    expect(judge(metrics(0.9, 3.1))).toBe(false)
    const v1 = versions.createFromJob(jobResult(projectId, 1, data.v0.id))
    versions.promote(projectId, v1.id, 'promoted', data.userId)
    // The job trained from v0, but someone promoted v1 meanwhile: an owner decides.
    expect(judge(metrics(0.9, 1))).toBe(false)
    expect(judge(metrics(0.9, 1), v1.id)).toBe(true)
  })

  it('lists the base and the project’s versions, newest first', async () => {
    const data = await registered()
    const v1 = data.versions.createFromJob({
      ...jobResult(data.projectId, 1, data.v0.id),
      triggeredBy: data.userId,
    })
    data.versions.createFromJob(jobResult(data.other, 2, data.v0.id))
    data.versions.promote(data.projectId, v1.id, 'promoted', data.userId)
    const list = data.versions.list(data.projectId)
    expect(list.currentId).toBe(v1.id)
    expect(list.versions.map((v) => [v.name, v.isCurrent, v.state])).toEqual([
      ['v1', true, 'current'],
      ['v0', false, 'current'],
    ])
    const [info] = list.versions
    expect(info).toMatchObject({
      parent: { id: data.v0.id, name: 'v0' },
      triggeredBy: { userId: data.userId, username: 'ana' },
      trainingSet: { images: 12, objects: 340, hash: 'abc' },
      jobId: 1,
    })
    expect(info!.files.encoder!.url).toBe(
      `/api/projects/${data.projectId}/models/${v1.id}/files/encoder`,
    )
    expect(info!.files.card!.sha256).toBe(sha256Hex(Buffer.from(v1.cardJson)))
    expect(list.versions.map((v) => v.polarity)).toEqual(['bright', 'bright'])
  })

  it('says which versions read dark objects (inverted input), from their cards', async () => {
    const data = await registered()
    const card = { ...v0Card(), version: 'job1', parentVersion: 'v0' }
    const dark = { ...card, input: { ...card.input, polarity: 'dark' } }
    data.versions.createFromJob({
      ...jobResult(data.projectId, 1, data.v0.id),
      card: JSON.stringify(dark),
    })
    const list = data.versions.list(data.projectId)
    expect(list.versions.map((v) => [v.name, v.polarity])).toEqual([
      ['v1', 'dark'],
      ['v0', 'bright'],
    ])
  })

  it('reads a version’s files for the projects that may see it', async () => {
    const data = await registered()
    const encoder = await data.versions.readFile(data.projectId, data.v0.id, 'encoder')
    expect(encoder.bytes.equals(v0File('encoder.onnx'))).toBe(true)
    expect(encoder.sha256).toBe(v0Card().files.encoder.sha256)
    expect(encoder.fileName).toBe('nuclei-cells-v0-encoder.onnx')
    const card = await data.versions.readFile(data.projectId, data.v0.id, 'card')
    expect(card.bytes.equals(v0File('card.json'))).toBe(true)
    const theirs = data.versions.createFromJob(jobResult(data.other, 1, data.v0.id))
    await expectHttpError(
      data.versions.readFile(data.projectId, theirs.id, 'encoder'),
      404,
      /no model version/,
    )
    await expectHttpError(
      data.versions.readFile(data.other, theirs.id, 'parity'),
      404,
      /has no parity/,
    )
    await expectHttpError(
      data.versions.readFile(data.other, theirs.id, 'weights'),
      404,
      /not weights/,
    )
  })
})
