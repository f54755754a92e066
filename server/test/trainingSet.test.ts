// Frozen training sets from the documents of a real server: stock y-websocket clients write the
// annotations, the set is frozen from live rooms and again, after a restart, from stored ones;
// labels are read back from the blob store and compared with shared/geometry's rasterisation.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  acceptSuggestion,
  annotationsOf,
  createAnnotation,
  listAnnotations,
  metaOf,
  reviewOf,
  SERVER_ORIGIN,
  setReviewDecision,
  setReviewState,
  updateAttributes,
  updateGeometry,
  userOrigin,
} from '../../shared/doc/index.ts'
import { decodeMaskRle, encodeMaskRle } from '../../shared/geometry/mask.ts'
import { rasterizePolygon } from '../../shared/geometry/rasterize.ts'
import type { AnnotationOrigin } from '../../shared/schemas/annotation.ts'
import type { ImageStatus } from '../../shared/schemas/images.ts'
import { DatasetPage } from '../../shared/schemas/training.ts'
import { readLabelBytes } from '../../shared/training/instanceLabels.ts'
import { parseConfig } from '../src/config.ts'
import { encodeDemoImage } from '../src/demo/seedDemoProject.ts'
import { type RunningServer, startServer } from '../src/server.ts'
import {
  datasetPage,
  type FrozenTrainingSet,
  freezeTrainingSet,
  jobBlobKeys,
  readTrainingSet,
  storeTrainingSet,
  trainingPreview,
} from '../src/training/trainingSet.ts'
import { type CollabClient, connect, eventually, synced, tokenFor } from './collabClients.ts'
import { ADMIN_PASSWORD, ApiClient } from './harness.ts'

const WIDTH = 40
const HEIGHT = 32
const USER = userOrigin(1) // the server stamps the connection's own user
const MODEL: AnnotationOrigin = { type: 'model', modelVersion: 'v0', score: 0.8 }

const holed = [
  [2, 2, 14, 2, 14, 14, 2, 14],
  [5, 5, 9, 5, 9, 9, 5, 9],
]
const square = (x: number, y: number, size = 5) => ({
  rings: [[x, y, x + size, y, x + size, y + size, x, y + size]],
})
const maskGeometry = encodeMaskRle({
  x: 20,
  y: 3,
  width: 4,
  height: 3,
  data: new Uint8Array([1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1]),
})

let dataDir: string
let server: RunningServer
let token: string
let projectId: number
let classes: { a: number; b: number }
/** Image ids by their part in the test. */
let images: { done: number; reviewed: number; inProgress: number; onlyBox: number }
/** The reviewed image's one polygon (it has no class). */
let reviewedPolygon: string
const clients = new Map<number, CollabClient>()

async function start(): Promise<RunningServer> {
  const running = await startServer(
    parseConfig({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      adminPassword: ADMIN_PASSWORD,
      demo: false,
      logLevel: 'silent',
    }),
  )
  await running.started
  return running
}

const db = () => server.tessera.context.db
const freeze = () =>
  freezeTrainingSet(
    { db: db(), blobs: server.tessera.context.blobs, collab: server.tessera.collab },
    projectId,
  )

async function open(imageId: number): Promise<Y.Doc> {
  const client = connect(server.url, imageId, token)
  clients.set(imageId, client)
  await synced(client)
  return client.doc
}

function closeClients() {
  for (const client of clients.values()) client.destroy()
  clients.clear()
}

/** Waits until the server's live document holds everything the image's client wrote. */
async function arrived(imageId: number) {
  const doc = clients.get(imageId)!.doc
  await eventually(
    () => {
      const live = server.tessera.collab.liveDoc(`image:${imageId}`)
      return live !== undefined && Y.equalSnapshots(Y.snapshot(live), Y.snapshot(doc))
    },
    10_000,
    `image ${imageId} on the server`,
  )
}

async function markStatus(imageId: number, status: ImageStatus) {
  setReviewState(clients.get(imageId)!.doc, { status }, USER)
  const statusOf = db().prepare('SELECT status FROM images WHERE id = ?').pluck()
  await eventually(() => statusOf.get(imageId) === status, 10_000, `image ${imageId} ${status}`)
}

/** Everything a document holds (a fresh Y.Doc's toJSON shows only the roots it has defined). */
const contents = (doc: Y.Doc) => ({
  annotations: annotationsOf(doc).toJSON(),
  review: reviewOf(doc).toJSON(),
  meta: metaOf(doc).toJSON(),
})

/** The pixels of a mask geometry in the whole image. */
function maskPixels(): Uint8Array {
  const part = decodeMaskRle(maskGeometry)
  const out = new Uint8Array(WIDTH * HEIGHT)
  for (let row = 0; row < part.height; row++)
    for (let col = 0; col < part.width; col++)
      out[(part.y + row) * WIDTH + part.x + col] = part.data[row * part.width + col]
  return out
}

/**
 * The label image holds exactly the shapes: each shape's pixels one instance of its own (any
 * label: the order of annotations made within one millisecond is their random ids'), with the
 * shape's class, and nothing else.
 */
function expectInstances(
  labels: Uint16Array,
  instances: { label: number; classId: number }[],
  shapes: { pixels: Uint8Array; classId: number | null }[],
) {
  const seen = new Set<number>()
  for (const { pixels, classId } of shapes) {
    const values = new Set(labels.filter((_, i) => pixels[i] === 1))
    expect(values.size).toBe(1)
    const [label] = values
    expect(label).toBeGreaterThan(0)
    expect(seen.has(label)).toBe(false)
    seen.add(label)
    expect(instances.find((i) => i.label === label)?.classId ?? null).toBe(classId)
  }
  expect(new Set(labels)).toEqual(new Set([0, ...seen]))
  labels.forEach((value, i) => {
    expect(value === 0).toBe(shapes.every((s) => s.pixels[i] === 0))
  })
  expect(seen).toEqual(new Set(shapes.map((_, k) => k + 1)))
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-training-'))
  server = await start()
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  token = await tokenFor(server.url, 'admin', ADMIN_PASSWORD)
  projectId = (await admin.request('POST', '/api/projects', { name: 'Training' })).body.id
  const addClass = async (name: string, color: string) =>
    (await admin.request('POST', `/api/projects/${projectId}/classes`, { name, color })).body
      .id as number
  classes = { a: await addClass('nucleus', '#e6194b'), b: await addClass('mitotic', '#3cb44b') }
  const form = new FormData()
  for (const [k, name] of ['done', 'reviewed', 'progress', 'box'].entries()) {
    const spec = { seed: 40 + k, width: WIDTH, height: HEIGHT, channels: 1 as const, count: 3 }
    const bytes = await encodeDemoImage(`${name}.png`, { ...spec, radius: [3, 6] })
    form.append('files', new Blob([bytes as Uint8Array<ArrayBuffer>]), `${name}.png`)
  }
  const upload = await admin.request('POST', `/api/projects/${projectId}/images`, form)
  expect(upload.status).toBe(201)
  const ids = upload.body.images.map((i: { id: number }) => i.id) as number[]
  images = { done: ids[0], reviewed: ids[1], inProgress: ids[2], onlyBox: ids[3] }

  // Done: a polygon with a hole, a mask and an accepted suggestion are labels; a box, points,
  // a pending and a rejected suggestion are not.
  const done = await open(images.done)
  const add = (input: Parameters<typeof createAnnotation>[1]) => createAnnotation(done, input, USER)
  add({ kind: 'polygon', geometry: { rings: holed }, classId: classes.a })
  add({ kind: 'mask', geometry: maskGeometry, classId: classes.b })
  add({ kind: 'box', geometry: { x: 30, y: 20, width: 4, height: 4 }, classId: classes.a })
  add({ kind: 'points', geometry: { points: [35, 5] }, classId: classes.a })
  const suggest = (x: number) =>
    add({ kind: 'polygon', geometry: square(x, 20), classId: classes.a, origin: MODEL })
  acceptSuggestion(done, suggest(2), USER)
  suggest(10)
  setReviewDecision(done, suggest(18), 'rejected', USER)
  await markStatus(images.done, 'done')

  const reviewed = await open(images.reviewed)
  reviewedPolygon = createAnnotation(
    reviewed,
    { kind: 'polygon', geometry: square(10, 10), classId: null },
    USER,
  )
  await markStatus(images.reviewed, 'reviewed')

  const inProgress = await open(images.inProgress)
  createAnnotation(
    inProgress,
    { kind: 'polygon', geometry: square(1, 1), classId: classes.a },
    USER,
  )
  await markStatus(images.inProgress, 'in_progress')

  const onlyBox = await open(images.onlyBox)
  createAnnotation(
    onlyBox,
    { kind: 'box', geometry: { x: 1, y: 1, width: 5, height: 5 }, classId: classes.a },
    USER,
  )
  await markStatus(images.onlyBox, 'done')
  for (const imageId of clients.keys()) await arrived(imageId)
})

afterAll(async () => {
  closeClients()
  await server?.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
})

describe('freezeTrainingSet', () => {
  it('freezes the done and reviewed images: stored samples, rasterised labels, what it skipped', async () => {
    const set = await freeze()
    expect(set.items.map((i) => i.imageId)).toEqual([images.done, images.reviewed])
    const { blobs } = server.tessera.context
    for (const item of set.items) {
      const row = db().prepare('SELECT raw_key FROM images WHERE id = ?').get(item.imageId) as {
        raw_key: string
      }
      expect(item).toMatchObject({
        width: WIDTH,
        height: HEIGHT,
        channels: 1,
        dtype: 'uint16',
        samplesKey: row.raw_key,
        samplesBytes: WIDTH * HEIGHT * 2,
        labelsBytes: WIDTH * HEIGHT * 2,
      })
      expect((await blobs.get(item.samplesKey)).length).toBe(item.samplesBytes)
      expect((await blobs.get(item.labelsKey)).length).toBe(item.labelsBytes)
      expect(item.documentHash).toMatch(/^[0-9a-f]{64}$/)
    }
    const [done, reviewed] = set.items
    expectInstances(readLabelBytes(await blobs.get(done.labelsKey)), done.instances, [
      { pixels: rasterizePolygon(holed, WIDTH, HEIGHT), classId: classes.a },
      { pixels: maskPixels(), classId: classes.b },
      { pixels: rasterizePolygon(square(2, 20).rings, WIDTH, HEIGHT), classId: classes.a },
    ])
    // The hole stays background.
    expect(readLabelBytes(await blobs.get(done.labelsKey))[7 * WIDTH + 7]).toBe(0)
    const reviewedLabels = readLabelBytes(await blobs.get(reviewed.labelsKey))
    expectInstances(reviewedLabels, reviewed.instances, [
      { pixels: rasterizePolygon(square(10, 10).rings, WIDTH, HEIGHT), classId: null },
    ])
    expect(reviewed.instances).toEqual([]) // an instance without a class is not listed
    expect(set.summary).toEqual({
      images: 2,
      objects: 4,
      skipped: { box: 2, points: 1, emptyImages: 1 },
      suggestionsLeftOut: 2,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    })
  })

  it('gives the same data the same hash, and another hash once a label changes', async () => {
    const first = await freeze()
    expect(await freeze()).toEqual(first)
    const reviewed = clients.get(images.reviewed)!.doc
    // An edit that changes no label: a new document, the same set.
    updateAttributes(reviewed, reviewedPolygon, { note: 'round' }, USER)
    await arrived(images.reviewed)
    const attributes = await freeze()
    expect(attributes.summary.hash).toBe(first.summary.hash)
    expect(attributes.items[1].labelsKey).toBe(first.items[1].labelsKey)
    expect(attributes.items[1].documentHash).not.toBe(first.items[1].documentHash)
    updateGeometry(reviewed, reviewedPolygon, square(12, 12), USER)
    await arrived(images.reviewed)
    const moved = await freeze()
    expect(moved.summary.hash).not.toBe(first.summary.hash)
    expect(moved.items[1].labelsKey).not.toBe(first.items[1].labelsKey)
    expect(moved.items[0]).toEqual(first.items[0])
  })
})

describe('CollabServer.readDocument', () => {
  it('reads a loaded room as a copy that the caller may change', async () => {
    const room = `image:${images.done}`
    const live = server.tessera.collab.liveDoc(room)!
    const copy = await server.tessera.collab.readDocument(room)
    expect(copy).not.toBe(live)
    expect(contents(copy)).toEqual(contents(live))
    expect(Y.encodeStateVector(copy)).toEqual(Y.encodeStateVector(live))
    const before = listAnnotations(live).parsed.length
    createAnnotation(
      copy,
      { kind: 'polygon', geometry: square(30, 5), classId: null },
      SERVER_ORIGIN,
    )
    expect(listAnnotations(copy).parsed).toHaveLength(before + 1)
    expect(listAnnotations(live).parsed).toHaveLength(before)
    copy.destroy()
  })

  it('reads an unloaded room from the store, equal to the loaded room', async () => {
    const ids = Object.values(images)
    const read = async () => {
      const docs = await Promise.all(
        ids.map((id) => server.tessera.collab.readDocument(`image:${id}`)),
      )
      const states = docs.map((doc) => ({
        contents: contents(doc),
        stateVector: Y.encodeStateVector(doc),
      }))
      for (const doc of docs) doc.destroy()
      return states
    }
    const loaded = await read()
    expect(Object.keys(loaded[0].contents.annotations)).toHaveLength(7)
    expect(loaded[0].contents.review).toMatchObject({ status: 'done' })
    const frozenLoaded: FrozenTrainingSet = await freeze()
    closeClients()
    await server.close()
    server = await start()
    for (const id of ids) expect(server.tessera.collab.liveDoc(`image:${id}`)).toBeUndefined()
    expect(await read()).toEqual(loaded)
    expect(await freeze()).toEqual(frozenLoaded)
    // Loaded again by a client: the same document once more.
    await open(images.done)
    expect(server.tessera.collab.liveDoc(`image:${images.done}`)).toBeDefined()
    expect(await read()).toEqual(loaded)
    // A room with nothing stored reads as an empty document.
    const empty = await server.tessera.collab.readDocument('image:999999')
    expect(listAnnotations(empty).parsed).toEqual([])
  })
})

describe('stored training sets', () => {
  const insertJob = (state: string) =>
    Number(
      db()
        .prepare(`INSERT INTO jobs (project_id, kind, state, payload_json, max_attempts,
            created_at, updated_at) VALUES (?, 'train', ?, '{}', 3, 0, 0)`)
        .run(projectId, state).lastInsertRowid,
    )
  const insertVersion = (name: string, jobId: number | null) =>
    Number(
      db()
        .prepare(`INSERT INTO model_versions (project_id, name, state, card_json, files_json,
            job_id) VALUES (?, ?, 'current', '{}', '{}', ?)`)
        .run(jobId === null ? null : projectId, name, jobId).lastInsertRowid,
    )

  it('stores a set in the job transaction and serves it page by page', async () => {
    const set = await freeze()
    const jobId = insertJob('succeeded')
    db().transaction(() => storeTrainingSet(db(), jobId, set))()
    expect(readTrainingSet(db(), jobId)).toEqual(set)
    expect(readTrainingSet(db(), jobId + 1000)).toBeNull()
    const urlOf = (sha256: string) => `/api/worker/jobs/${jobId}/blobs/${sha256}`
    const first = DatasetPage.parse(datasetPage(db(), jobId, 0, 1, urlOf))
    expect(first.total).toBe(2)
    expect(first.next).toBe(`/api/worker/jobs/${jobId}/dataset?cursor=1`)
    expect(first.classes).toEqual([
      { id: classes.a, name: 'nucleus' },
      { id: classes.b, name: 'mitotic' },
    ])
    const [item] = first.items
    expect(item).toEqual({
      imageId: images.done,
      name: 'done.png',
      width: WIDTH,
      height: HEIGHT,
      channels: 1,
      dtype: 'uint16',
      samples: {
        url: urlOf(set.items[0].samplesKey),
        sha256: set.items[0].samplesKey,
        bytes: WIDTH * HEIGHT * 2,
      },
      labels: {
        url: urlOf(set.items[0].labelsKey),
        sha256: set.items[0].labelsKey,
        bytes: WIDTH * HEIGHT * 2,
      },
      instances: set.items[0].instances,
      documentHash: set.items[0].documentHash,
    })
    const second = DatasetPage.parse(datasetPage(db(), jobId, 1, 1, urlOf))
    expect(second.items.map((i) => i.imageId)).toEqual([images.reviewed])
    expect(second.next).toBeNull()
    expect(datasetPage(db(), jobId, 0, 100, urlOf)?.items).toHaveLength(2)
    expect(datasetPage(db(), jobId + 1000, 0, 1, urlOf)).toBeNull()
    expect(jobBlobKeys(db(), jobId)).toEqual(
      new Set(set.items.flatMap((i) => [i.samplesKey, i.labelsKey])),
    )
    expect(jobBlobKeys(db(), jobId + 1000)).toEqual(new Set())
  })

  it('previews what Train would train on', async () => {
    const base = insertVersion(`base-${Date.now()}`, null)
    // Estimated objects: every annotation but pending suggestions (boxes and points included).
    expect(trainingPreview(db(), projectId, { id: base, name: 'v0' })).toEqual({
      images: 3,
      objects: 8,
      newSinceCurrent: 3,
      currentVersion: { id: base, name: 'v0' },
      activeJob: null,
    })
    const job = insertJob('queued')
    db().transaction(() => storeTrainingSet(db(), job, frozenFromDone()))()
    const trained = insertVersion('v1', job)
    // v1 was trained on the done image only: the reviewed one and the one with a box are new.
    expect(trainingPreview(db(), projectId, { id: trained, name: 'v1' })).toMatchObject({
      newSinceCurrent: 2,
      activeJob: job,
    })
    db().prepare("UPDATE jobs SET state = 'succeeded' WHERE id = ?").run(job)
    expect(trainingPreview(db(), projectId, { id: trained, name: 'v1' }).activeJob).toBeNull()
    expect(
      trainingPreview(db(), projectId, { id: trained, name: 'v1', jobId: null }).newSinceCurrent,
    ).toBe(3)
  })
})

/** A set that holds only the done image (as if the reviewed one was done later). */
function frozenFromDone(): FrozenTrainingSet {
  const item = {
    imageId: images.done,
    name: 'done.png',
    width: WIDTH,
    height: HEIGHT,
    channels: 1,
    dtype: 'uint16' as const,
    samplesKey: 'a'.repeat(64),
    samplesBytes: 1,
    labelsKey: 'b'.repeat(64),
    labelsBytes: 1,
    instances: [],
    documentHash: 'c'.repeat(64),
  }
  return {
    summary: { images: 1, objects: 0, skipped: {}, suggestionsLeftOut: 0, hash: 'd'.repeat(64) },
    items: [item],
  }
}
