// Datasets out and in against a real server: every format exported from a labelled project and
// imported into an empty one gives the same objects; filters, tokens, live documents, and bad
// input (unsafe archives, invalid geometry, DTDs) refused with the entry named and nothing kept.
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import yazl from 'yazl'
import {
  createAnnotation,
  listAnnotations,
  modelOrigin,
  userOrigin,
} from '../../shared/doc/index.ts'
import { rasterizeGeometry } from '../../shared/geometry/rasterize.ts'
import type { AnnotationRecord } from '../../shared/schemas/annotation.ts'
import { ImportOptions } from '../../shared/schemas/datasets.ts'
import { commitImport, openImportArchive, planImport } from '../src/imports/index.ts'
import { connect, synced, tokenFor } from './collabClients.ts'
import { handMadeZip, postImport, unzip } from './datasetArchives.ts'
import { ADMIN_PASSWORD, ApiClient, startTestServer, type TestServer } from './harness.ts'
import { labelledProject, syntheticImages } from './labelledProject.ts'
import { waitUntil } from './workerRun.ts'

let server: TestServer
let admin: ApiClient
let source: { projectId: number; classId: number; imageIds: number[] }
let token: string

/** Reads every image's annotations of a project through a collaboration socket. */
async function annotationsOf(projectId: number): Promise<Map<string, AnnotationRecord[]>> {
  const images = (await admin.request('GET', `/api/projects/${projectId}/images`)).body.images as {
    id: number
    name: string
    width: number
    height: number
  }[]
  const byName = new Map<string, AnnotationRecord[]>()
  for (const image of images) {
    const client = connect(server.url, image.id, token)
    try {
      await synced(client)
      byName.set(image.name, listAnnotations(client.doc, image).parsed)
    } finally {
      client.destroy()
    }
  }
  return byName
}

const newProject = async (name: string) =>
  (await admin.request('POST', '/api/projects', { name })).body.id as number

async function exportZip(projectId: number, query: string, client = admin) {
  const response = await client.raw('GET', `/api/projects/${projectId}/export?${query}`)
  expect(response.status, String(response.body)).toBe(200)
  expect(response.headers.get('content-type')).toContain('application/zip')
  return { bytes: response.body as Buffer, files: await unzip(response.body as Buffer) }
}

/** Pixels of an annotation in its image (polygons and masks), for comparing across formats. */
function pixelsOf(a: AnnotationRecord, width: number, height: number): number {
  const mask = rasterizeGeometry(a, width, height, { x: 0, y: 0 })
  return mask ? mask.reduce((n, v) => n + v, 0) : 0
}

beforeAll(async () => {
  server = await startTestServer()
  admin = server.admin
  source = await labelledProject(admin, await syntheticImages(3, 96), 'Export source')
  token = await tokenFor(server.url, 'admin', ADMIN_PASSWORD)
  const me = (await admin.request('GET', '/api/auth/me')).body.user.id as number
  // The first image also gets the shapes formats treat differently: a polygon with a hole, a
  // box, points, an object without a class, and a model suggestion nobody reviewed.
  const client = connect(server.url, source.imageIds[0], token)
  await synced(client)
  const origin = userOrigin(me)
  createAnnotation(
    client.doc,
    {
      kind: 'polygon',
      geometry: {
        rings: [
          [60, 60, 90, 60, 90, 90, 60, 90],
          [70, 70, 70, 80, 80, 80, 80, 70],
        ],
      },
      classId: source.classId,
    },
    origin,
  )
  createAnnotation(
    client.doc,
    { kind: 'box', geometry: { x: 2, y: 3, width: 10, height: 12 }, classId: source.classId },
    origin,
  )
  createAnnotation(
    client.doc,
    { kind: 'points', geometry: { points: [5, 5, 7, 9] }, classId: null },
    origin,
  )
  createAnnotation(
    client.doc,
    { kind: 'polygon', geometry: { rings: [[0, 80, 12, 80, 12, 96, 0, 96]] }, classId: null },
    origin,
  )
  createAnnotation(
    client.doc,
    {
      kind: 'polygon',
      geometry: { rings: [[30, 30, 40, 30, 40, 40]] },
      classId: source.classId,
      origin: { type: 'model', modelVersion: 'v0', score: 0.8 },
    },
    modelOrigin('v0'),
  )
  await waitUntil(
    async () =>
      (
        await admin.request(
          'GET',
          `/api/projects/${source.projectId}/export/preview?review=pending`,
        )
      ).body.annotations,
    (n) => n === 1,
    10_000,
    'the suggestion stored',
  )
  client.destroy()
}, 120_000)

afterAll(() => server?.close())

describe('export', () => {
  test('COCO: polygons, RLE for masks and holed polygons, boxes as bbox; the manifest counts what was converted or skipped', async () => {
    const { files } = await exportZip(source.projectId, 'format=coco')
    const manifest = JSON.parse(files.get('manifest.json')!.toString())
    const coco = JSON.parse(files.get('annotations/instances.json')!.toString())
    const source0 = (await annotationsOf(source.projectId)).get('synthetic-100.png')!
    const accepted = [...(await annotationsOf(source.projectId)).values()]
      .flat()
      .filter((a) => a.review === 'accepted')
    expect(manifest.counts.annotations).toBe(accepted.length)
    expect(manifest.counts.images).toBe(3)
    expect(source0.some((a) => a.review === 'pending')).toBe(true)
    // Points have no COCO form: skipped and counted, never silently.
    expect(coco.annotations).toHaveLength(accepted.length - 1)
    expect(
      Object.values(manifest.report.skipped).reduce((a: number, b) => a + (b as number), 0),
    ).toBe(1)
    expect(Object.keys(manifest.report.converted).join(' ')).toMatch(/hole/i)
    expect(coco.categories.map((c: { name: string }) => c.name)).toEqual([
      'nucleus',
      'unclassified',
    ])
    const box = coco.annotations.find((a: { bbox: number[] }) => a.bbox.join() === '2,3,10,12')
    expect(box).toBeDefined()
    const masks = coco.annotations.filter(
      (a: { segmentation: unknown }) =>
        typeof (a.segmentation as { counts?: unknown }).counts === 'string',
    )
    expect(masks.length).toBeGreaterThanOrEqual(source.imageIds.length)
    for (const image of coco.images) expect([image.width, image.height]).toEqual([96, 96])
  })

  test('filters by review decision, origin and class; a personal API token may export', async () => {
    const preview = async (q: string) =>
      (await admin.request('GET', `/api/projects/${source.projectId}/export/preview?${q}`)).body
    const all = await preview('review=pending,accepted,rejected')
    const accepted = await preview('')
    expect(all.annotations).toBe(accepted.annotations + 1)
    expect((await preview('review=pending,accepted&origin=model')).annotations).toBe(1)
    expect((await preview('classes=none')).annotations).toBe(2)
    expect((await preview('status=new')).images).toBe(0)
    const apiToken = (
      await admin.request('POST', '/api/auth/token', {
        username: 'admin',
        password: ADMIN_PASSWORD,
        name: 'export script',
      })
    ).body.token as string
    const withToken = ApiClient.withToken(server.url, apiToken)
    const { files } = await exportZip(source.projectId, 'format=geojson', withToken)
    expect([...files.keys()].filter((p) => p.startsWith('geojson/'))).toHaveLength(3)
    const stranger = new ApiClient(server.url)
    expect(
      (await stranger.raw('GET', `/api/projects/${source.projectId}/export?format=coco`)).status,
    ).toBe(401)
    expect(
      (await admin.request('GET', `/api/projects/${source.projectId}/export?format=tiff`)).status,
    ).toBe(400)
  })
})

describe('round trips: export with images, import into an empty project', () => {
  test.each([
    ['coco', 'coco'],
    ['geojson', 'geojson'],
    ['masks', 'masks'],
    ['yolo-segment', 'yolo'],
    ['voc', 'voc'],
  ] as const)('%s', async (exportFormat, importFormat) => {
    const { bytes, files } = await exportZip(source.projectId, `format=${exportFormat}&images=true`)
    const manifest = JSON.parse(files.get('manifest.json')!.toString())
    const target = await newProject(`Import ${exportFormat}`)
    const dry = await postImport(admin, target, bytes, 'export.zip', { dryRun: true })
    expect(dry.status, JSON.stringify(dry.body)).toBe(200)
    expect(dry.body.format).toBe(importFormat)
    expect(dry.body.problems).toEqual([])
    expect(dry.body.matched.map((m: { matchedBy: string }) => m.matchedBy)).toEqual([
      'new',
      'new',
      'new',
    ])
    expect(
      dry.body.classes.map((c: { name: string; action: string }) => [c.name, c.action]),
    ).toContainEqual(['nucleus', 'create'])
    // A dry run changes nothing.
    expect((await admin.request('GET', `/api/projects/${target}/images`)).body.images).toHaveLength(
      0,
    )

    const commit = await postImport(admin, target, bytes, 'export.zip', { dryRun: false })
    expect(commit.status, JSON.stringify(commit.body)).toBe(200)
    expect(commit.body.committed).toBe(true)
    expect(commit.body.counts.newImages).toBe(3)
    const before = await annotationsOf(source.projectId)
    const after = await annotationsOf(target)
    const skipped = Object.values(manifest.report.skipped as Record<string, number>).reduce(
      (a, b) => a + b,
      0,
    )
    const exported = manifest.counts.annotations - skipped
    expect([...after.values()].flat()).toHaveLength(commit.body.counts.annotations)
    if (exportFormat !== 'masks') expect(commit.body.counts.annotations).toBe(exported)
    // The masks of the labelled images come back with exactly their pixels (label images and
    // COCO RLE are pixel-exact; GeoJSON and YOLO outlines rasterise to the same pixels).
    const name = 'synthetic-101.png'
    const pixels = (list: AnnotationRecord[]) =>
      list.map((a) => pixelsOf(a, 96, 96)).sort((x, y) => x - y)
    if (exportFormat === 'voc') expect(after.get(name)!.every((a) => a.kind === 'box')).toBe(true)
    else expect(pixels(after.get(name)!)).toEqual(pixels(before.get(name)!))
  })

  test('COCO into the same project matches its images by name and keeps polygon vertices exactly', async () => {
    const target = await newProject('Same images')
    const { bytes } = await exportZip(source.projectId, 'format=coco&images=true')
    await postImport(admin, target, bytes, 'a.zip', { dryRun: false })
    // Annotations only, no images: matched by file name to the images imported just now.
    const { bytes: again } = await exportZip(source.projectId, 'format=coco')
    const dry = await postImport(admin, target, again, 'b.zip', { dryRun: true })
    expect(dry.body.matched.map((m: { matchedBy: string }) => m.matchedBy)).toEqual([
      'name',
      'name',
      'name',
    ])
    const coco1 = JSON.parse(
      (await unzip((await exportZip(source.projectId, 'format=coco')).bytes))
        .get('annotations/instances.json')!
        .toString(),
    )
    const coco2 = JSON.parse(
      (await unzip((await exportZip(target, 'format=coco')).bytes))
        .get('annotations/instances.json')!
        .toString(),
    )
    const polygons = (c: { annotations: { segmentation: unknown }[] }) =>
      c.annotations
        .filter((a) => Array.isArray(a.segmentation) && (a.segmentation as unknown[]).length > 0)
        .map((a) => JSON.stringify(a.segmentation))
        .sort()
    expect(polygons(coco2)).toEqual(polygons(coco1))
  })
})

describe('import', () => {
  test('writes into a document someone has open (live) and as suggestions when asked', async () => {
    const target = await newProject('Live import')
    const { bytes } = await exportZip(source.projectId, 'format=geojson&images=true')
    await postImport(admin, target, bytes, 'g.zip', { dryRun: false })
    const images = (await admin.request('GET', `/api/projects/${target}/images`)).body.images as {
      id: number
      name: string
    }[]
    const open = connect(server.url, images[0].id, token)
    await synced(open)
    const before = listAnnotations(open.doc).parsed.length
    const { bytes: annotationsOnly } = await exportZip(source.projectId, 'format=geojson')
    const result = await postImport(admin, target, annotationsOnly, 'g.zip', {
      dryRun: false,
      as: 'suggestions',
    })
    expect(result.status, JSON.stringify(result.body)).toBe(200)
    await waitUntil(
      async () => listAnnotations(open.doc).parsed.length,
      (n) => n === 2 * before,
      10_000,
      'the open editor sees the import',
    )
    const suggestions = listAnnotations(open.doc).parsed.filter((a) => a.origin.type === 'model')
    expect(suggestions).toHaveLength(before)
    expect(suggestions.every((a) => a.review === 'pending' && a.author === null)).toBe(true)
    open.destroy()
  })

  test('label images as Cellpose and napari users keep them (masks/<image>_masks.png) come in with their images', async () => {
    const [file] = await syntheticImages(1, 64, 300)
    const labels = Uint8Array.from(file.labels)
    const mask = await sharp(labels, { raw: { width: 64, height: 64, channels: 1 } })
      .png()
      .toBuffer()
    const archive = await zipOf({ 'images/cells.png': file.bytes, 'masks/cells_masks.png': mask })
    const target = await newProject('Cellpose masks')
    const result = await postImport(admin, target, archive, 'cellpose.zip', { dryRun: false })
    expect(result.status, JSON.stringify(result.body)).toBe(200)
    expect(result.body.format).toBe('masks')
    expect(result.body.counts.newImages).toBe(1)
    const objects = new Set(labels).size - 1
    const imported = (await annotationsOf(target)).get('cells.png')!
    expect(imported).toHaveLength(objects)
    const pixels = imported.reduce((n, a) => n + pixelsOf(a, 64, 64), 0)
    expect(pixels).toBe(labels.filter((v) => v > 0).length)
  })

  test('unknown classes can be mapped to an existing class or to none; an annotator cannot create classes', async () => {
    const target = await newProject('Mapped classes')
    const cell = (
      await admin.request('POST', `/api/projects/${target}/classes`, {
        name: 'cell',
        color: '#00ff00',
      })
    ).body.id
    const { bytes } = await exportZip(source.projectId, 'format=coco&images=true')
    const result = await postImport(admin, target, bytes, 'm.zip', {
      dryRun: false,
      classMap: { nucleus: { action: 'map', classId: cell }, unclassified: { action: 'none' } },
    })
    expect(result.status, JSON.stringify(result.body)).toBe(200)
    expect(result.body.counts.newClasses).toBe(0)
    const classes = (await admin.request('GET', `/api/projects/${target}/classes`)).body.classes
    expect(classes.map((c: { name: string }) => c.name)).toEqual(['cell'])
    const all = [...(await annotationsOf(target)).values()].flat()
    expect(new Set(all.map((a) => a.classId))).toEqual(new Set([cell, null]))

    await admin.request('POST', '/api/users', {
      username: 'annotator1',
      password: 'annotator-password',
    })
    await admin.request('POST', `/api/projects/${target}/members`, {
      username: 'annotator1',
      role: 'annotator',
    })
    const annotator = new ApiClient(server.url)
    await annotator.login('annotator1', 'annotator-password')
    const refused = await postImport(annotator, target, bytes, 'm.zip', { dryRun: false })
    expect(refused.status).toBe(422)
    expect(JSON.stringify(refused.body.details.problems)).toMatch(
      /only the project's owner can create/,
    )
  })
})

describe('all or nothing', () => {
  /** Commits an archive through a collaboration server whose second write fails. */
  async function failingCommit(target: number, bytes: Buffer) {
    const { context, collab } = server.server.tessera
    const archiveFile = path.join(server.dataDir, 'failing.zip')
    fs.writeFileSync(archiveFile, bytes)
    const archive = await openImportArchive(archiveFile, 'failing.zip')
    const options = ImportOptions.parse({ dryRun: false })
    const me = (await admin.request('GET', '/api/auth/me')).body.user.id
    try {
      const plan = await planImport(context, target, 'owner', archive, options)
      expect(plan.report.problems).toEqual([])
      let writes = 0
      const failing: Pick<typeof collab, 'transact'> = {
        transact: (...args) => {
          if (++writes === 2) throw new Error('disk full')
          collab.transact(...args)
        },
      }
      await expect(
        commitImport(context, failing, target, me, archive, plan, options),
      ).rejects.toThrow('disk full')
    } finally {
      archive.close()
    }
  }

  test('a write that fails on the second image takes back the new images and classes', async () => {
    const target = await newProject('Failing commit')
    const { bytes } = await exportZip(source.projectId, 'format=coco&images=true')
    await failingCommit(target, bytes)
    expect((await admin.request('GET', `/api/projects/${target}/images`)).body.images).toEqual([])
    expect((await admin.request('GET', `/api/projects/${target}/classes`)).body.classes).toEqual([])
    // The same archive imports cleanly afterwards.
    const again = await postImport(admin, target, bytes, 'again.zip', { dryRun: false })
    expect(again.status).toBe(200)
    expect(again.body.counts.newImages).toBe(3)
  })

  test('… and the annotations it wrote into existing images', async () => {
    const target = await newProject('Failing commit, existing images')
    const { bytes } = await exportZip(source.projectId, 'format=coco&images=true')
    await postImport(admin, target, bytes, 'first.zip', { dryRun: false })
    const before = [...(await annotationsOf(target)).values()].map((list) => list.length)
    expect(before.some((n) => n > 0)).toBe(true)
    const { bytes: annotationsOnly } = await exportZip(source.projectId, 'format=coco')
    await failingCommit(target, annotationsOnly)
    expect([...(await annotationsOf(target)).values()].map((list) => list.length)).toEqual(before)
  })
})

describe('bad input: a clear error naming the entry, nothing imported', () => {
  let target: number
  let baseline: number[]
  /** The target's annotation count per image, after checking it still has its three images. */
  const unchanged = async () => {
    expect((await admin.request('GET', `/api/projects/${target}/images`)).body.images).toHaveLength(
      3,
    )
    return [...(await annotationsOf(target)).values()].map((list) => list.length)
  }
  beforeAll(async () => {
    target = await newProject('Bad input')
    const { bytes } = await exportZip(source.projectId, 'format=coco&images=true')
    await postImport(admin, target, bytes, 'ok.zip', { dryRun: false })
    baseline = await unchanged()
  })

  const coco = (
    annotations: unknown[],
    images = [{ id: 1, file_name: 'synthetic-100.png', width: 96, height: 96 }],
  ) =>
    Buffer.from(JSON.stringify({ images, categories: [{ id: 1, name: 'nucleus' }], annotations }))

  test.each([
    [
      'an entry that leaves its folder',
      handMadeZip([{ name: '../../evil.json', data: coco([]) }]),
      /"\.\.\/\.\.\/evil\.json" leaves the archive's folder/,
    ],
    [
      'an absolute entry',
      handMadeZip([{ name: '/etc/evil.json', data: coco([]) }]),
      /"\/etc\/evil\.json" is an absolute path/,
    ],
    [
      'a zip bomb',
      handMadeZip([
        {
          name: 'annotations/instances.json',
          data: Buffer.alloc(50 * 1024 * 1024, 32),
          deflate: true,
        },
      ]),
      /"annotations\/instances\.json" expands \d+ times/,
    ],
    [
      'not JSON',
      handMadeZip([{ name: 'annotations/instances.json', data: Buffer.from('{"annotations": [') }]),
      /annotations\/instances\.json is not valid JSON/,
    ],
  ])('%s is refused with 400', async (_what, archive, message) => {
    const response = await postImport(admin, target, archive, 'bad.zip', { dryRun: false })
    expect(response.status).toBe(400)
    expect(response.body.error).toMatch(message)
    expect(await unchanged()).toEqual(baseline)
  })

  test.each([
    [
      'a dangling image id',
      coco([
        {
          id: 1,
          image_id: 7,
          category_id: 1,
          segmentation: [[1, 1, 5, 1, 5, 5]],
          bbox: [1, 1, 4, 4],
          area: 8,
          iscrowd: 0,
        },
      ]),
      /annotations\[0\]/,
    ],
    [
      'duplicate annotation ids',
      coco([
        {
          id: 1,
          image_id: 1,
          category_id: 1,
          segmentation: [[1, 1, 5, 1, 5, 5]],
          bbox: [1, 1, 4, 4],
          area: 8,
          iscrowd: 0,
        },
        {
          id: 1,
          image_id: 1,
          category_id: 1,
          segmentation: [[1, 1, 5, 1, 5, 5]],
          bbox: [1, 1, 4, 4],
          area: 8,
          iscrowd: 0,
        },
      ]),
      /annotations\[1\]/,
    ],
    [
      'coordinates far outside the image',
      coco([
        {
          id: 1,
          image_id: 1,
          category_id: 1,
          segmentation: [[1, 1, 5000, 1, 5, 5]],
          bbox: [1, 1, 4, 4],
          area: 8,
          iscrowd: 0,
        },
      ]),
      /outside the image/,
    ],
  ])('%s is a problem of the dry run and the commit is refused', async (_what, json, source) => {
    const dry = await postImport(admin, target, json, 'instances.json', { dryRun: true })
    expect(dry.status, JSON.stringify(dry.body)).toBe(200)
    expect(
      dry.body.problems
        .map((p: { source: string; message: string }) => `${p.source}: ${p.message}`)
        .join('\n'),
    ).toMatch(source)
    const commit = await postImport(admin, target, json, 'instances.json', { dryRun: false })
    expect(commit.status).toBe(422)
    expect(commit.body.error).toMatch(/nothing was imported/)
    expect(await unchanged()).toEqual(baseline)
  })

  test('NaN in a YOLO label and an XML DTD are problems named by file and line', async () => {
    const yolo = await zipOf({
      'data.yaml': 'names:\n  0: nucleus\n',
      'labels/synthetic-100.txt': '0 0.5 0.5 nan 0.1\n',
    })
    const dryYolo = await postImport(admin, target, yolo, 'y.zip', { dryRun: true })
    expect(JSON.stringify(dryYolo.body.problems)).toMatch(/labels\/synthetic-100\.txt/)
    const xml = `<?xml version="1.0"?><!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><annotation><filename>synthetic-100.png</filename><size><width>96</width><height>96</height><depth>1</depth></size><object><name>&xxe;</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>`
    const voc = await zipOf({ 'Annotations/synthetic-100.xml': xml })
    const dryVoc = await postImport(admin, target, voc, 'v.zip', { dryRun: true })
    expect(JSON.stringify(dryVoc.body.problems)).toMatch(/Annotations\/synthetic-100\.xml/)
    expect(JSON.stringify(dryVoc.body)).not.toMatch(/root:/)
    expect((await postImport(admin, target, voc, 'v.zip', { dryRun: false })).status).toBe(422)
    expect(await unchanged()).toEqual(baseline)
  })

  test('an upload over the size limit is refused with 413', async () => {
    const small = await startTestServer({ maxUploadBytes: 64 * 1024 })
    try {
      const project = (await small.admin.request('POST', '/api/projects', { name: 'Small' })).body
        .id
      const big = Buffer.from(
        JSON.stringify({ images: [], annotations: [], pad: 'x'.repeat(200 * 1024) }),
      )
      const response = await postImport(small.admin, project, big, 'big.json', { dryRun: true })
      expect(response.status).toBe(413)
      expect(response.body.error).toMatch(/big\.json is larger than/)
    } finally {
      await small.close()
    }
  })
})

function zipOf(files: Record<string, string | Uint8Array>): Promise<Buffer> {
  const zip = new yazl.ZipFile()
  for (const [name, data] of Object.entries(files)) zip.addBuffer(Buffer.from(data), name)
  zip.end()
  const chunks: Buffer[] = []
  return new Promise((resolve) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c))
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)))
  })
}
