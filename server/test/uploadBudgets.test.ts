// Uploads at and over the budgets on a real server with its default configuration: an image at the
// documented pixel limit is ingested and served while the server keeps answering; a decompression
// bomb, too many pages or too many decoded bytes are refused with 413 from the headers alone,
// storing nothing.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeTiff } from '../src/images/encodeTiff.ts'
import {
  ADMIN_PASSWORD,
  ApiClient,
  type ApiResponse,
  startTestServer,
  type TestServer,
} from './harness.ts'
import { type ServerProcess, startServerProcess } from './serverProcess.ts'

/**
 * A TIFF of constant deflate-compressed pages whose strips are all one stored strip, as in a
 * decompression bomb: kilobytes, however many pixels.
 */
function constantTiff(pageCount: number, side: number, bits: 8 | 16, value: number): Uint8Array {
  const samples = (bits === 8 ? new Uint8Array(side * side) : new Uint16Array(side * side)).fill(
    value,
  )
  const page = { width: side, height: side, channels: 1, samples }
  return encodeTiff(new Array(pageCount).fill(page), {
    compression: 'deflate',
    rowsPerStrip: (1 << 24) / (side * (bits / 8)),
  })
}

function form(files: { name: string; bytes: Uint8Array }[]) {
  const body = new FormData()
  for (const file of files)
    body.append('files', new Blob([file.bytes as Uint8Array<ArrayBuffer>]), file.name)
  return body
}

async function storedState(s: TestServer, project: number) {
  const images = await s.admin.request('GET', `/api/projects/${project}/images`)
  // The shipped base model's files are blobs too; they are not the upload's.
  const modelFiles = new Set(
    (
      s.server.tessera.context.db.prepare('SELECT files_json FROM model_versions').all() as {
        files_json: string
      }[]
    ).flatMap((row) =>
      Object.values(JSON.parse(row.files_json) as Record<string, { sha256: string }>).map(
        (file) => file.sha256,
      ),
    ),
  )
  return {
    rows: images.body.images.length as number,
    blobs: (await s.server.tessera.context.blobs.list()).filter((key) => !modelFiles.has(key))
      .length,
  }
}

const LIMIT_SIDE = 16384 // the documented default: maxImagePixels = 16384²

describe('an image at the documented pixel limit', () => {
  // A server process of its own: the health checks come from this process, which therefore
  // cannot be held up by what the server's event loop is doing.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-upload-'))
  let server: ServerProcess
  let client: ApiClient
  let project: number
  let upload: ApiResponse
  const healthMs: number[] = []

  beforeAll(async () => {
    server = await startServerProcess({
      TESSERA_DATA: dataDir,
      TESSERA_DEMO: 'false',
      TESSERA_ADMIN_PASSWORD: ADMIN_PASSWORD,
    })
    client = new ApiClient(server.url)
    await client.login('admin', ADMIN_PASSWORD)
    project = (await client.request('POST', '/api/projects', { name: 'Limit' })).body.id
    // 16384² 16-bit: 512 MiB of samples, decoded, measured and tiled while health is polled.
    const bytes = constantTiff(1, LIMIT_SIDE, 16, 1234)
    let uploading = true
    const uploaded = client
      .request('POST', `/api/projects/${project}/images`, form([{ name: 'limit.tif', bytes }]))
      .finally(() => {
        uploading = false
      })
    const deadline = Date.now() + 120_000
    for (let poll = 0; uploading && poll < 1000 && Date.now() < deadline; poll++) {
      const started = performance.now()
      const health = await fetch(`${server.url}/api/health`, {
        signal: AbortSignal.timeout(30_000),
      })
      // Counted since it was sent during the upload, even if the upload ended while it waited.
      healthMs.push(performance.now() - started)
      expect(health.status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    upload = await uploaded
  })
  afterAll(async () => {
    await server?.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it('keeps /api/health answering within a second while it is decoded', () => {
    // Decoding, statistics and tiles take seconds; on the event loop they held health for as long.
    expect(healthMs.length).toBeGreaterThanOrEqual(5)
    expect(Math.max(...healthMs)).toBeLessThan(1000)
  })

  it('is ingested, its display tiles and raw samples served', async () => {
    expect(upload.status).toBe(201)
    const image = upload.body.images[0]
    expect([image.width, image.height, image.dtype, image.channels]).toEqual([
      LIMIT_SIDE,
      LIMIT_SIDE,
      'uint16',
      1,
    ])
    expect(image.stats[0]).toMatchObject({ min: 1234, max: 1234, mean: 1234 })
    expect(image.tiles).toEqual({ tileSize: 2048, columns: 8, rows: 8 })
    const base = `/api/projects/${project}/images/${image.id}`
    const tile = await client.request('GET', `${base}/display/7/7`)
    expect(tile.status).toBe(200)
    expect(await sharp(tile.body).metadata()).toMatchObject({ width: 2048, height: 2048 })
    const corner = await client.request(
      'GET',
      `${base}/raw?x=${LIMIT_SIDE - 3}&y=${LIMIT_SIDE - 2}&width=3&height=2`,
    )
    expect(corner.status).toBe(200)
    expect([...new Uint16Array(corner.body.buffer, corner.body.byteOffset, 6)]).toEqual(
      new Array(6).fill(1234),
    )
  })
})

describe('upload budgets', () => {
  let server: TestServer
  let project: number
  const upload = (files: { name: string; bytes: Uint8Array }[]) =>
    server.admin.request('POST', `/api/projects/${project}/images`, form(files))
  const tinyPages = (count: number, first = 0) =>
    encodeTiff(
      Array.from({ length: count }, (_, k) => ({
        width: 4,
        height: 3,
        channels: 1,
        samples: new Uint8Array(12).fill(first + k),
      })),
    )

  beforeAll(async () => {
    server = await startTestServer()
    project = (await server.admin.request('POST', '/api/projects', { name: 'Budgets' })).body.id
  })
  afterAll(() => server?.close())

  it('refuses a four-page bomb of 16384² pages with 413 from its headers, storing nothing', async () => {
    const bomb = constantTiff(4, LIMIT_SIDE, 8, 0)
    expect(bomb.length).toBeLessThan(100_000)
    const before = await storedState(server, project)
    const response = await upload([
      { name: 'fine.tif', bytes: tinyPages(1) },
      { name: 'bomb.tif', bytes: bomb },
    ])
    expect(response.status).toBe(413)
    expect(response.body.error).toMatch(
      /more than 805,306,368 bytes of samples, this server's limit per upload \(bomb\.tif \(page 3 of 4\): 16384×16384, 1 × uint8/,
    )
    expect(await storedState(server, project)).toEqual(before)
  })

  it('refuses more pages than the page budget, over all files of an upload', async () => {
    const small = await startTestServer({ maxUploadPages: 3 })
    try {
      const own = (await small.admin.request('POST', '/api/projects', { name: 'Pages' })).body.id
      const send = (files: { name: string; bytes: Uint8Array }[]) =>
        small.admin.request('POST', `/api/projects/${own}/images`, form(files))
      const one = await send([{ name: 'stack.tif', bytes: tinyPages(4) }])
      expect(one.status).toBe(413)
      expect(one.body.error).toMatch(
        /stack\.tif has more than 3 pages; this server decodes at most 3 pages per upload/,
      )
      const two = await send([
        { name: 'a.tif', bytes: tinyPages(2) },
        { name: 'b.tif', bytes: tinyPages(2, 5) },
      ])
      expect(two.status).toBe(413)
      expect(two.body.error).toMatch(/b\.tif has 2 pages with the 2 before it/)
      expect(await storedState(small, own)).toEqual({ rows: 0, blobs: 0 })
      const enough = await send([{ name: 'three.tif', bytes: tinyPages(3) }])
      expect(enough.status).toBe(201)
      expect(enough.body.images).toHaveLength(3)
    } finally {
      await small.close()
    }
  })

  it('counts decoded bytes by channels and sample size, over every file', async () => {
    const small = await startTestServer({ maxUploadDecodedBytes: 10_000 })
    try {
      const own = (await small.admin.request('POST', '/api/projects', { name: 'Bytes' })).body.id
      const send = (files: { name: string; bytes: Uint8Array }[]) =>
        small.admin.request('POST', `/api/projects/${own}/images`, form(files))
      // 40×40 pixels: 1,600 bytes as 8-bit grey, 6,400 as 16-bit two channels.
      const grey8 = encodeTiff([
        { width: 40, height: 40, channels: 1, samples: new Uint8Array(1600) },
      ])
      const two16 = encodeTiff([
        { width: 40, height: 40, channels: 2, samples: new Uint16Array(3200).fill(9) },
      ])
      const over = await send([
        { name: 'grey.tif', bytes: grey8 },
        { name: 'two.tif', bytes: two16 },
        {
          name: 'again.tif',
          bytes: encodeTiff([
            { width: 40, height: 40, channels: 2, samples: new Uint16Array(3200).fill(7) },
          ]),
        },
      ])
      expect(over.status).toBe(413)
      expect(over.body.error).toMatch(/again\.tif: 40×40, 2 × uint16, brings it to 14,400\)/)
      expect(await storedState(small, own)).toEqual({ rows: 0, blobs: 0 })
      const within = await send([
        { name: 'grey.tif', bytes: grey8 },
        { name: 'two.tif', bytes: two16 },
      ])
      expect(within.status).toBe(201)
    } finally {
      await small.close()
    }
  })
})
