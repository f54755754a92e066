// Model versions on a real SQLite database and blob store: the shipped v0 registered once, a
// project's current version through promotions and rollbacks, the auto-promotion rule, names,
// and the checks on uploaded files (with models/v0's real files as the good case).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { EvaluationMetrics } from '../../../shared/schemas/training.ts'
import { FileBlobStore, sha256Hex } from '../blobs/BlobStore.ts'
import { type Db, openDatabase } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'
import {
  DEFAULT_MODELS_DIR,
  type ModelChangeListener,
  ModelVersions,
  type NewModelVersion,
} from './ModelVersions.ts'

const V0 = path.join(DEFAULT_MODELS_DIR, 'v0')
const v0File = (name: string) => fs.readFileSync(path.join(V0, name))
const v0Card = () => JSON.parse(v0File('card.json').toString('utf8'))

const folders: string[] = []
const databases: Db[] = []
afterEach(() => {
  for (const db of databases.splice(0)) if (db.open) db.close()
  for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
})

function temporaryFolder(prefix: string) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  folders.push(folder)
  return folder
}

type Change = Parameters<ModelChangeListener>[1] & { projectId: number }

/** A data folder (SQLite + blobs) with a user and two projects; open() reopens it. */
function dataFolder() {
  const root = temporaryFolder('tessera-versions-')
  const changes: Change[] = []
  const open = () => {
    const db = openDatabase(path.join(root, 'tessera.sqlite'))
    databases.push(db)
    const blobs = new FileBlobStore(path.join(root, 'blobs'))
    const versions = new ModelVersions(db, blobs, (projectId, change) =>
      changes.push({ projectId, ...change }),
    )
    return { db, blobs, versions }
  }
  const first = open()
  const userId = Number(
    first.db
      .prepare(
        "INSERT INTO users (username, display_name, password_hash) VALUES ('ana', 'Ana', 'x')",
      )
      .run().lastInsertRowid,
  )
  const project = (name: string) =>
    Number(first.db.prepare('INSERT INTO projects (name) VALUES (?)').run(name).lastInsertRowid)
  return {
    ...first,
    open,
    changes,
    userId,
    projectId: project('Nuclei Cells'),
    other: project('B'),
  }
}

/** A copy of models/v0 as another base folder, with a different encoder when `changeEncoder`. */
function copiedBase(name: string, options: { createdAt: string; changeEncoder: boolean }) {
  const root = temporaryFolder('tessera-models-')
  const dir = path.join(root, name)
  fs.cpSync(V0, dir, { recursive: true })
  const card = v0Card()
  card.createdAt = options.createdAt
  if (options.changeEncoder) {
    const encoder = Buffer.concat([v0File('encoder.onnx'), Buffer.from([0])])
    fs.writeFileSync(path.join(dir, 'encoder.onnx'), encoder)
    card.files.encoder = { path: 'encoder.onnx', bytes: encoder.length, sha256: sha256Hex(encoder) }
  }
  fs.writeFileSync(path.join(dir, 'card.json'), JSON.stringify(card, null, 2))
  return root
}

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

async function expectHttpError(promise: Promise<unknown>, status: number, message: RegExp) {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(HttpError)
  expect((error as HttpError).status).toBe(status)
  expect((error as HttpError).message).toMatch(message)
}

const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('base versions', () => {
  it('registers models/v0 once, with its files in the blob store, across restarts', async () => {
    const data = dataFolder()
    const added = await data.versions.registerBaseVersions(DEFAULT_MODELS_DIR)
    expect(added.map((v) => [v.name, v.projectId, v.state])).toEqual([['v0', null, 'current']])
    const v0 = added[0]!
    expect(Object.keys(v0.files).sort()).toEqual(['checkpoint', 'decoder', 'encoder', 'parity'])
    const card = v0Card()
    expect(v0.files.encoder).toEqual({
      sha256: card.files.encoder.sha256,
      bytes: card.files.encoder.bytes,
    })
    for (const file of Object.values(v0.files)) expect(await data.blobs.has(file.sha256)).toBe(true)
    expect(v0.cardJson).toBe(v0File('card.json').toString('utf8'))
    expect(v0.createdAt).toBe(new Date(card.createdAt).toISOString())

    data.db.close()
    const again = data.open()
    expect(await again.versions.registerBaseVersions(DEFAULT_MODELS_DIR)).toEqual([])
    const count = again.db.prepare('SELECT count(*) AS n FROM model_versions').get() as {
      n: number
    }
    expect(count.n).toBe(1)
  })

  it('starts every project on the base, with file URLs by version id', async () => {
    const data = dataFolder()
    const [v0] = await data.versions.registerBaseVersions(DEFAULT_MODELS_DIR)
    expect(data.versions.currentFor(data.projectId).id).toBe(v0!.id)
    const current = data.versions.currentModel(data.projectId)
    const base = `/api/projects/${data.projectId}/models/${v0!.id}/files`
    expect(current).toMatchObject({ versionId: v0!.id, version: 'v0' })
    expect(current.files).toEqual({
      encoder: `${base}/encoder`,
      decoder: `${base}/decoder`,
      parity: `${base}/parity`,
      checkpoint: `${base}/checkpoint`,
      card: `${base}/card`,
    })
    expect(current.card.input.channels).toBe(2)
  })

  it('says so when no base is registered', async () => {
    const data = dataFolder()
    expect(await data.versions.registerBaseVersions('/nonexistent/models')).toEqual([])
    expect(() => data.versions.currentFor(data.projectId)).toThrow(/no model version yet/)
  })

  it('registers a changed model under the same folder name as a new base, the newest current', async () => {
    const data = dataFolder()
    await data.versions.registerBaseVersions(DEFAULT_MODELS_DIR)
    const newer = copiedBase('v0', { createdAt: '2027-01-02T00:00:00+00:00', changeEncoder: true })
    const [added] = await data.versions.registerBaseVersions(newer)
    expect(added!.name).toMatch(/^v0-[0-9a-f]{8}$/)
    expect(data.versions.currentFor(data.projectId).id).toBe(added!.id)
    expect(await data.versions.registerBaseVersions(newer)).toEqual([])

    // An older card does not displace the newest base.
    const older = copiedBase('vOld', { createdAt: '2020-01-01T00:00:00Z', changeEncoder: false })
    await data.versions.registerBaseVersions(older)
    expect(data.versions.currentFor(data.projectId).id).toBe(added!.id)
  })

  it('refuses a folder whose file is not the one its card names', async () => {
    const data = dataFolder()
    const root = copiedBase('v9', { createdAt: '2027-01-02T00:00:00Z', changeEncoder: false })
    fs.appendFileSync(path.join(root, 'v9', 'decoder.onnx'), 'x')
    await expect(data.versions.registerBaseVersions(root)).rejects.toThrow(/decoder.onnx: sha256/)
    await expect(data.versions.whenRegistered()).rejects.toThrow(/decoder.onnx/)
  })
})

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

describe('uploaded files', () => {
  const MAX = 64 * 1024 * 1024

  async function registered() {
    const data = dataFolder()
    await data.versions.registerBaseVersions(DEFAULT_MODELS_DIR)
    return data.versions
  }

  it("accepts models/v0's real files", async () => {
    const versions = await registered()
    for (const [name, file] of [
      ['encoder', 'encoder.onnx'],
      ['decoder', 'decoder.onnx'],
      ['card', 'card.json'],
      ['checkpoint', 'checkpoint.pt'],
      ['parity', 'parity.json'],
    ] as const) {
      await versions.validateUpload(name, v0File(file), MAX)
    }
  })

  it('refuses what a file of that name cannot be', async () => {
    const versions = await registered()
    await expectHttpError(
      versions.validateUpload('encoder', Buffer.from('not a model'), MAX),
      400,
      /encoder is not an ONNX model/,
    )
    await expectHttpError(
      versions.validateUpload('decoder', v0File('decoder.onnx'), 1000),
      413,
      /at most 1000/,
    )
    await expectHttpError(
      versions.validateUpload('decoder', v0File('encoder.onnx'), MAX),
      400,
      /decoder's inputs are image; v0's card lists clicks, features, previousMask/,
    )
    const card = v0Card()
    delete card.input.channels
    await expectHttpError(
      versions.validateUpload('card', Buffer.from(JSON.stringify(card)), MAX),
      400,
      /input\.channels/,
    )
    await expectHttpError(versions.validateUpload('card', Buffer.from('{'), MAX), 400, /not JSON/)
    await expectHttpError(
      versions.validateUpload('checkpoint', v0File('encoder.onnx'), MAX),
      400,
      /PyTorch zip checkpoint/,
    )
    await expectHttpError(versions.validateUpload('parity', Buffer.from('nan'), MAX), 400, /JSON/)
    await expectHttpError(
      versions.validateUpload('weights', Buffer.from('x'), MAX),
      400,
      /not weights/,
    )
  })

  it('checks that a finished version’s card names its files and tensors', async () => {
    const versions = await registered()
    const card = v0Card()
    const files = Object.fromEntries(
      Object.entries(card.files as Record<string, { sha256: string; bytes: number }>).map(
        ([name, file]) => [name, { sha256: file.sha256, bytes: file.bytes }],
      ),
    )
    await versions.validateVersionFiles(card, {
      ...files,
      card: { sha256: 'f'.repeat(64), bytes: 1 },
    })

    const { parity: _parity, ...withoutParity } = files
    await expectHttpError(
      versions.validateVersionFiles(card, withoutParity),
      400,
      /lists a parity file that was not uploaded/,
    )
    await expectHttpError(
      versions.validateVersionFiles(card, { ...files, decoder: files.encoder! }),
      400,
      /card's decoder .* is not the uploaded file/,
    )
    const renamed = v0Card()
    renamed.decoder.outputs[0].name = 'mask'
    await expectHttpError(
      versions.validateVersionFiles(renamed, files),
      400,
      /decoder's outputs are coarse; the card lists mask/,
    )
    const channels = v0Card()
    channels.input.channels = 3
    await expectHttpError(
      versions.validateVersionFiles(channels, files),
      400,
      /encoder takes 2 channels; the card's input.channels is 3/,
    )
  })
})
