// The shipped base versions on a real SQLite database and blob store: models/v0 registered once
// across restarts, projects starting on the newest base, a changed model under a new name, and a
// folder whose files are not its card's refused.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { sha256Hex } from '../blobs/BlobStore.ts'
import { DEFAULT_MODELS_DIR } from './baseVersions.ts'
import {
  dataFolder,
  removeModelVersionFixtures,
  temporaryFolder,
  V0,
  v0Card,
  v0File,
} from './modelVersionFixtures.ts'

afterEach(removeModelVersionFixtures)

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
