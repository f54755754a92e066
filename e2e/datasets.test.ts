// Datasets through the browser on a real server: a project with polygons is exported from its
// Import / export tab as COCO with the images (a native download whose progress bar fills from
// the live channel), the ZIP is imported into a second project through the same tab (dry run,
// then commit), and the second project then holds the same images and the very same vertices.
// A viewer exports but cannot import; a file that is no dataset is explained, not imported.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import yauzl from 'yauzl'
import { connect, synced, tokenFor } from '../server/test/collabClients.ts'
import {
  ADMIN_PASSWORD,
  type ApiClient,
  startTestServer,
  type TestServer,
} from '../server/test/harness.ts'
import { waitUntil } from '../server/test/workerRun.ts'
import { createAnnotation, userOrigin } from '../shared/doc/index.ts'
import { AppPages } from './fixtures/AppPages.ts'
import { type BrowserSession, openBrowser } from './fixtures/browser.ts'
import { DatasetPage } from './fixtures/DatasetPage.ts'

/** Vertices off the pixel grid, so any rounding on the way shows. */
const NUCLEUS_RING = [10.5, 8, 30.25, 8.75, 28, 30.5, 12.125, 26]
/** Per image file: its grey level and its polygons (class name, ring). */
const SEED = [
  {
    name: 'cells-1.png',
    grey: '#202020',
    polygons: [
      ['nucleus', NUCLEUS_RING],
      ['debris', [40, 30, 50, 31, 45, 40]],
    ],
  },
  {
    name: 'cells-2.png',
    grey: '#404040',
    polygons: [
      ['nucleus', [5, 5, 20, 5, 20, 20, 5, 20]],
      ['nucleus', [33.5, 10, 44, 12, 38, 21.5]],
    ],
  },
  { name: 'cells-3.png', grey: '#606060', polygons: [] },
] as const
const WIDTH = 64
const HEIGHT = 48

let server: TestServer
let session: BrowserSession | undefined
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-datasets-'))

beforeAll(async () => {
  server = await startTestServer()
})

afterAll(async () => {
  await session?.close()
  await server?.close()
  fs.rmSync(workDir, { recursive: true, force: true })
})

/** A project with classes nucleus and debris, three images and the SEED polygons, written by
 * the admin through the collaboration socket. */
async function seedSource(admin: ApiClient) {
  const projectId = (await admin.request('POST', '/api/projects', { name: 'Export source' })).body
    .id as number
  const classIds: Record<string, number> = {}
  for (const [name, color] of [
    ['nucleus', '#e6194b'],
    ['debris', '#3cb44b'],
  ])
    classIds[name] = (
      await admin.request('POST', `/api/projects/${projectId}/classes`, { name, color })
    ).body.id
  const form = new FormData()
  for (const image of SEED) {
    const png = await sharp({
      create: { width: WIDTH, height: HEIGHT, channels: 3, background: image.grey },
    })
      .toColourspace('b-w')
      .png()
      .toBuffer()
    form.append('files', new Blob([png as Uint8Array<ArrayBuffer>]), image.name)
  }
  const upload = await admin.request('POST', `/api/projects/${projectId}/images`, form)
  expect(upload.status).toBe(201)
  const imageIds = (upload.body.images as { id: number; name: string }[]).map((i) => i.id)
  const token = await tokenFor(admin.baseUrl, 'admin', ADMIN_PASSWORD)
  const origin = userOrigin((await admin.request('GET', '/api/auth/me')).body.user.id)
  for (const [index, image] of SEED.entries()) {
    if (image.polygons.length === 0) continue
    const client = connect(admin.baseUrl, imageIds[index]!, token)
    try {
      await synced(client)
      for (const [className, ring] of image.polygons)
        createAnnotation(
          client.doc,
          { kind: 'polygon', geometry: { rings: [[...ring]] }, classId: classIds[className]! },
          origin,
        )
      // Stored by the server once it has answered the writes back.
      await waitUntil(
        () => previewOf(admin, projectId, `&status=new,in_progress,done,reviewed`),
        (preview) => preview.annotations >= countPolygons(index + 1),
        20_000,
        `the polygons of ${image.name} on the server`,
      )
    } finally {
      client.destroy()
    }
  }
  return { projectId }
}

const countPolygons = (images: number) =>
  SEED.slice(0, images).reduce((sum, image) => sum + image.polygons.length, 0)

async function previewOf(admin: ApiClient, projectId: number, filters = '') {
  const response = await admin.request(
    'GET',
    `/api/projects/${projectId}/export/preview?format=coco${filters}`,
  )
  if (response.status !== 200) throw new Error(`preview: ${JSON.stringify(response.body)}`)
  return response.body as { images: number; annotations: number }
}

/** The entries of a ZIP, by path. */
async function readZip(bytes: Buffer): Promise<Map<string, Buffer>> {
  const zip = await yauzl.fromBufferPromise(bytes, { lazyEntries: true })
  const entries = new Map<string, Buffer>()
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject)
    zip.on('end', resolve)
    zip.on('entry', async (entry: yauzl.Entry) => {
      try {
        if (!entry.fileName.endsWith('/')) {
          const chunks: Buffer[] = []
          for await (const chunk of await zip.openReadStreamPromise(entry))
            chunks.push(chunk as Buffer)
          entries.set(entry.fileName, Buffer.concat(chunks))
        }
        zip.readEntry()
      } catch (error) {
        reject(error)
      }
    })
    zip.readEntry()
  })
  return entries
}

interface CocoDataset {
  images: { id: number; file_name: string; width: number; height: number }[]
  categories: { id: number; name: string }[]
  annotations: { image_id: number; category_id: number; segmentation: unknown }[]
}

/** The COCO JSON of an archive, and its polygons per image file as sorted
 * `class: segmentation` strings. */
async function cocoOf(bytes: Buffer) {
  const entries = await readZip(bytes)
  const jsonPaths = [...entries.keys()].filter((p) => p.endsWith('.json') && p !== 'manifest.json')
  expect(jsonPaths).toHaveLength(1)
  const coco = JSON.parse(entries.get(jsonPaths[0]!)!.toString('utf8')) as CocoDataset
  const fileOf = new Map(coco.images.map((i) => [i.id, path.basename(i.file_name)]))
  const classOf = new Map(coco.categories.map((c) => [c.id, c.name]))
  const polygons: Record<string, string[]> = {}
  for (const image of coco.images) polygons[path.basename(image.file_name)] = []
  for (const a of coco.annotations)
    polygons[fileOf.get(a.image_id)!]!.push(
      `${classOf.get(a.category_id)}: ${JSON.stringify(a.segmentation)}`,
    )
  for (const list of Object.values(polygons)) list.sort()
  return { entries, coco, polygons }
}

describe('dataset export and import in the browser', () => {
  it('exports a project as COCO with images and imports it into another, vertices intact', async () => {
    const { admin } = server
    const source = await seedSource(admin)
    const sourcePreview = await previewOf(admin, source.projectId)
    expect(sourcePreview).toEqual({ images: SEED.length, annotations: countPolygons(SEED.length) })

    session = await openBrowser(server.url)
    const { page } = session
    await new AppPages(page).login('admin', ADMIN_PASSWORD)

    // Export: the tab's preview agrees with the API; the download fills its progress bar.
    const datasets = new DatasetPage(page)
    await datasets.open(source.projectId)
    await page.getByTestId('project.tab.data').filter({ hasText: 'Import / export' }).waitFor()
    expect(await datasets.chooseExport('coco', true)).toEqual(sourcePreview)
    const archive = path.join(workDir, 'source-coco.zip')
    const suggested = await datasets.download(archive)
    expect(suggested).toMatch(/\.zip$/)
    expect(await datasets.waitForExportDone()).toBe(`Done: ${SEED.length} images exported`)
    const samples = await datasets.progressSamples()
    const last = samples[samples.length - 1]!
    expect(last.finished).toBe(true)
    expect(last.value).toBe(last.max)

    const exported = await cocoOf(fs.readFileSync(archive))
    expect(exported.coco.images).toHaveLength(SEED.length)
    expect(exported.polygons['cells-1.png']).toContain(`nucleus: ${JSON.stringify([NUCLEUS_RING])}`)
    const imageFiles = [...exported.entries.keys()].filter((p) => p.endsWith('.png'))
    expect(imageFiles.map((p) => path.basename(p)).sort()).toEqual(SEED.map((i) => i.name))

    // A second project, with a nucleus class of its own and no images.
    const targetId = (await admin.request('POST', '/api/projects', { name: 'Import target' })).body
      .id as number
    const targetNucleus = (
      await admin.request('POST', `/api/projects/${targetId}/classes`, {
        name: 'nucleus',
        color: '#4363d8',
      })
    ).body.id as number

    // Import, dry run: every image is new from the archive; nucleus exists, debris is created.
    await datasets.open(targetId)
    const report = await datasets.check(archive)
    expect(await report.getAttribute('data-format')).toBe('coco')
    expect(await datasets.problems()).toEqual([])
    expect(await datasets.matchedImages()).toEqual({ new: SEED.length })
    const classes = await datasets.classes()
    expect(classes.map(({ name, action }) => ({ name, action }))).toEqual(
      expect.arrayContaining([
        { name: 'nucleus', action: 'existing' },
        { name: 'debris', action: 'create' },
      ]),
    )
    expect(classes.find((c) => c.name === 'nucleus')?.choice).toMatch(/^nucleus/)
    await datasets.waitForSummary(/\b1 new class\b/)
    // A class's choice feeds the class map and checks again: no class, then back to a new one.
    await datasets.mapClass('debris', 'No class')
    await datasets.waitForSummary(/\b0 new classes\b/)
    await datasets.mapClass('debris', /^New class/)
    await datasets.waitForSummary(/\b1 new class\b/)
    expect(await page.getByTestId('import.report.unmatched').count()).toBe(0)
    expect(
      (await admin.request('GET', `/api/projects/${targetId}/images`)).body.images,
    ).toHaveLength(0)

    // Commit.
    const result = await datasets.commit()
    expect(result).toMatch(
      new RegExp(
        `^Imported ${countPolygons(SEED.length)} annotations into \\d+ images? \\(${SEED.length} new images, 1 new class\\)$`,
      ),
    )

    // The second project now holds what the first exported.
    expect(await previewOf(admin, targetId)).toEqual(sourcePreview)
    const targetClasses = (await admin.request('GET', `/api/projects/${targetId}/classes`)).body
      .classes as { id: number; name: string }[]
    expect(targetClasses.map((c) => c.name).sort()).toEqual(['debris', 'nucleus'])
    expect(targetClasses.find((c) => c.name === 'nucleus')?.id).toBe(targetNucleus)
    const targetImages = (await admin.request('GET', `/api/projects/${targetId}/images`)).body
      .images as { name: string; width: number; height: number }[]
    expect(targetImages.map((i) => i.name).sort()).toEqual(SEED.map((i) => i.name))
    expect(targetImages.every((i) => i.width === WIDTH && i.height === HEIGHT)).toBe(true)

    // Exported again (with the page's session), every polygon has the very same vertices.
    const again = await page.request.get(`/api/projects/${targetId}/export?format=coco`)
    expect(again.status()).toBe(200)
    const reexported = await cocoOf(await again.body())
    expect(reexported.polygons).toEqual(exported.polygons)
    expect(reexported.polygons['cells-1.png']).toContain(
      `nucleus: ${JSON.stringify([NUCLEUS_RING])}`,
    )
  }, 180_000)

  it('lets a viewer export but not import', async () => {
    const { admin } = server
    const projectId = (await admin.request('POST', '/api/projects', { name: 'Viewed' })).body
      .id as number
    await admin.request('POST', '/api/users', { username: 'vera', password: 'vera-password' })
    await admin.request('POST', `/api/projects/${projectId}/members`, {
      username: 'vera',
      role: 'viewer',
    })
    const viewer = await openBrowser(server.url)
    try {
      await new AppPages(viewer.page).login('vera', 'vera-password')
      const datasets = new DatasetPage(viewer.page)
      await datasets.open(projectId)
      expect(await datasets.preview()).toEqual({ images: 0, annotations: 0 })
      await viewer.page.getByTestId('import.viewer').waitFor()
      expect(await viewer.page.getByTestId('import.file').count()).toBe(0)
    } finally {
      await viewer.close()
    }
  })

  it('shows why a file cannot be imported and keeps Import disabled', async () => {
    const { admin } = server
    const projectId = (await admin.request('POST', '/api/projects', { name: 'Refused' })).body
      .id as number
    const notAZip = path.join(workDir, 'notes.zip')
    fs.writeFileSync(notAZip, 'these are notes, not an archive')
    const browser = await openBrowser(server.url)
    try {
      await new AppPages(browser.page).login('admin', ADMIN_PASSWORD)
      const datasets = new DatasetPage(browser.page)
      await datasets.open(projectId)
      await browser.page.getByTestId('import.file').setInputFiles(notAZip)
      await browser.page.getByTestId('import.check').click()
      await datasets.waitUntilIdle()
      const error = browser.page.getByTestId('import.error')
      await error.waitFor()
      expect((await error.textContent())?.length).toBeGreaterThan(0)
      expect(await browser.page.getByTestId('import.report').count()).toBe(0)
      expect(await browser.page.getByTestId('import.commit').isDisabled()).toBe(true)
    } finally {
      await browser.close()
    }
  })
})
