// `npm run export -- --project ID --format F --out FILE [filters] [--images]`: a project as a
// dataset archive, from the data folder (TESSERA_DATA, read while the server runs or not), or
// with --url from a running server through the API with a personal token (TESSERA_TOKEN).
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { ExportQuery } from '../../../shared/schemas/datasets.ts'
import { FileBlobStore } from '../blobs/BlobStore.ts'
import { SqliteDocumentStore } from '../collab/SqliteDocumentStore.ts'
import { configFromEnv } from '../config.ts'
import { openDatabase } from '../db/database.ts'
import { exportDataset } from './datasetExport.ts'
import { ZipWriter } from './ZipWriter.ts'

const usage = `usage: npm run export -- --project ID --format coco|yolo-detect|yolo-segment|voc|masks|geojson --out FILE
  [--status new,in_progress,done,reviewed] [--review pending,accepted,rejected] [--origin human,model]
  [--classes ID,…,none] [--images] [--url http://127.0.0.1:8080 (with TESSERA_TOKEN)]`

class UsageError extends Error {}

async function main() {
  const { values } = parseArgs({
    options: {
      project: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      status: { type: 'string' },
      review: { type: 'string' },
      origin: { type: 'string' },
      classes: { type: 'string' },
      images: { type: 'boolean', default: false },
      url: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(usage)
    return
  }
  const projectId = Number(values.project)
  if (!Number.isInteger(projectId) || projectId <= 0)
    throw new UsageError('--project needs a project id')
  if (!values.out) throw new UsageError('--out needs a file name')
  const raw = {
    format: values.format,
    status: values.status,
    review: values.review,
    origin: values.origin,
    classes: values.classes,
    images: values.images ? 'true' : 'false',
  }
  const parsed = ExportQuery.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new UsageError(`--${String(issue?.path[0])}: ${issue?.message}`)
  }
  const started = Date.now()
  const out = fs.createWriteStream(values.out)
  if (values.url) {
    const token = process.env.TESSERA_TOKEN
    if (!token) throw new UsageError('--url needs a personal API token in TESSERA_TOKEN')
    const query = new URLSearchParams(
      Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === 'string'),
    )
    const response = await fetch(
      `${values.url.replace(/\/$/, '')}/api/projects/${projectId}/export?${query}`,
      {
        headers: { authorization: `Bearer ${token}` },
      },
    )
    if (!response.ok || !response.body) {
      const body = await response.text()
      throw new UsageError(`the server answered ${response.status}: ${body}`)
    }
    await pipeline(Readable.fromWeb(response.body as never), out)
    console.error(`wrote ${values.out} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return
  }
  const config = configFromEnv(process.env)
  const file = path.join(config.dataDir, 'tessera.sqlite')
  if (!fs.existsSync(file))
    throw new UsageError(`no Tessera data folder at ${config.dataDir} (set TESSERA_DATA)`)
  const db = openDatabase(file)
  try {
    const project = db.prepare('SELECT id, name FROM projects WHERE id = ?').get(projectId) as
      | { id: number; name: string }
      | undefined
    if (!project) throw new UsageError(`no project ${projectId} in ${config.dataDir}`)
    const store = new SqliteDocumentStore(db)
    const sources = {
      db,
      blobs: new FileBlobStore(path.join(config.dataDir, 'blobs')),
      collab: { readDocument: async (room: string) => store.load(room).doc },
    }
    const zip = new ZipWriter(out)
    const manifest = await exportDataset(sources, project, parsed.data, zip, (done, total) => {
      if (done === total || done % 500 === 0) process.stderr.write(`\r${done} of ${total} images`)
    })
    await zip.end()
    process.stderr.write('\n')
    console.log(
      JSON.stringify(
        { out: values.out, counts: manifest.counts, report: manifest.report },
        null,
        2,
      ),
    )
    console.error(`wrote ${values.out} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  } finally {
    db.close()
  }
}

main().catch((error) => {
  console.error(error instanceof UsageError ? `error: ${error.message}\n${usage}` : error)
  process.exit(error instanceof UsageError ? 2 : 1)
})
