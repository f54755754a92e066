// Export of a large project through the real server: 10,000 images with 500,000 polygons (50
// nuclei-like polygons of 16–32 vertices per 512² image, synthetic, written straight into the
// document store), exported as COCO by GET /api/projects/:id/export and read to the end on
// loopback. Reports the wall time of the download and the server process's peak resident memory
// (VmHWM). Targets: ≤ 30 s and ≤ 500 MB.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as Y from 'yjs'
import { SqliteDocumentStore } from '../server/src/collab/SqliteDocumentStore.ts'
import { openDatabase } from '../server/src/db/database.ts'
import { ApiClient } from '../server/test/harness.ts'
import { startServerProcess } from '../server/test/serverProcess.ts'
import { createAnnotation, userOrigin } from '../shared/doc/index.ts'
import { createRandom } from '../shared/random/createRandom.ts'
import { round } from './stats.ts'

const IMAGES = Number(process.env.BENCH_EXPORT_IMAGES ?? 10_000)
const POLYGONS_PER_IMAGE = 50
const SIZE = 512
const PASSWORD = 'bench-admin-password'

/** Peak resident memory of a process so far, in MiB (Linux). */
function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1])
  return kb / 1024
}

function polygon(random: () => number): number[] {
  const cx = 20 + random() * (SIZE - 40)
  const cy = 20 + random() * (SIZE - 40)
  const radius = 6 + random() * 12
  const vertices = 16 + Math.floor(random() * 17)
  const ring: number[] = []
  for (let k = 0; k < vertices; k++) {
    const angle = (2 * Math.PI * k) / vertices
    const r = radius * (0.8 + 0.4 * random())
    ring.push(
      Math.round((cx + r * Math.cos(angle)) * 100) / 100,
      Math.round((cy + r * Math.sin(angle)) * 100) / 100,
    )
  }
  return ring
}

/** Writes the images' rows and documents straight into the data folder. */
function writeProject(dataDir: string, projectId: number, classId: number, userId: number) {
  const db = openDatabase(path.join(dataDir, 'tessera.sqlite'))
  const store = new SqliteDocumentStore(db)
  const random = createRandom(17)
  const insert =
    db.prepare(`INSERT INTO images (project_id, name, sha256, format, bytes, width, height,
    channels, dtype, stats_json, raw_key, display_key, thumbnail_key, status)
    VALUES (?, ?, ?, 'png', 1000, ?, ?, 1, 'uint8', '[]', ?, ?, ?, 'done')`)
  const origin = userOrigin(userId)
  const batch = 500
  for (let start = 0; start < IMAGES; start += batch) {
    db.transaction(() => {
      for (let i = start; i < Math.min(IMAGES, start + batch); i++) {
        const key = i.toString(16).padStart(64, '0')
        const id = Number(
          insert.run(projectId, `image-${i}.png`, key, SIZE, SIZE, key, key, key).lastInsertRowid,
        )
        const doc = new Y.Doc()
        doc.transact(() => {
          for (let p = 0; p < POLYGONS_PER_IMAGE; p++)
            createAnnotation(
              doc,
              { kind: 'polygon', geometry: { rings: [polygon(random)] }, classId },
              origin,
            )
        }, origin)
        store.append(`image:${id}`, Y.encodeStateAsUpdate(doc))
        doc.destroy()
      }
    })()
  }
  db.close()
}

export async function run(): Promise<Record<string, number>> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-export-'))
  const server = await startServerProcess({
    TESSERA_DATA: dataDir,
    TESSERA_ADMIN_PASSWORD: PASSWORD,
    TESSERA_DEMO: 'false',
  })
  try {
    const admin = new ApiClient(server.url)
    await admin.login('admin', PASSWORD)
    const projectId = (await admin.request('POST', '/api/projects', { name: 'Export bench' })).body
      .id
    const classId = (
      await admin.request('POST', `/api/projects/${projectId}/classes`, {
        name: 'nucleus',
        color: '#e6194b',
      })
    ).body.id
    const me = (await admin.request('GET', '/api/auth/me')).body.user.id
    const writing = performance.now()
    writeProject(dataDir, projectId, classId, me)
    console.log(
      `wrote ${IMAGES} images × ${POLYGONS_PER_IMAGE} polygons in ${((performance.now() - writing) / 1000).toFixed(1)} s`,
    )
    const rssBefore = peakRssMb(server.child.pid!)
    // The keep-alive socket of the requests above has timed out while the store was written: a
    // request that finds it closed makes the client drop it, so the timed one starts fresh.
    await admin.request('GET', '/api/health').catch(() => undefined)
    await admin.request('GET', '/api/health')

    const started = performance.now()
    let bytes = 0
    try {
      const response = await fetch(`${server.url}/api/projects/${projectId}/export?format=coco`, {
        headers: { cookie: admin.cookieHeader() },
      })
      if (!response.ok || !response.body) throw new Error(`export failed: ${response.status}`)
      const reader = response.body.getReader()
      for (let read = await reader.read(); !read.done; read = await reader.read())
        bytes += read.value.byteLength
    } catch (error) {
      throw new Error(`the export broke off after ${bytes} bytes:\n${server.output()}`, {
        cause: error,
      })
    }
    const seconds = (performance.now() - started) / 1000
    const peak = peakRssMb(server.child.pid!)
    console.log(
      `exported ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s; server peak RSS ${peak.toFixed(0)} MB (${rssBefore.toFixed(0)} MB before)`,
    )
    return {
      images: IMAGES,
      polygons: IMAGES * POLYGONS_PER_IMAGE,
      export_coco_10k_s: round(seconds, 2),
      export_peak_rss_mb: round(peak, 0),
      server_peak_rss_before_mb: round(rssBefore, 0),
      archive_mb: round(bytes / 1e6, 1),
      polygons_per_s: round((IMAGES * POLYGONS_PER_IMAGE) / seconds, 0),
    }
  } finally {
    await server.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
