// Image upload and serving over real HTTP: formats and bit depths, exact 16-bit samples,
// multi-page TIFF, renditions and tiles, and bad uploads that must leave nothing behind.
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeTiff } from '../src/images/encodeTiff.ts'
import { type ApiClient, startTestServer, type TestServer } from './harness.ts'

let server: TestServer
let projectId: number

function form(files: { name: string; bytes: Uint8Array }[]) {
  const body = new FormData()
  for (const file of files)
    body.append('files', new Blob([file.bytes as Uint8Array<ArrayBuffer>]), file.name)
  return body
}

async function upload(
  client: ApiClient,
  project: number,
  files: { name: string; bytes: Uint8Array }[],
) {
  return client.request('POST', `/api/projects/${project}/images`, form(files))
}

const ramp16 = (width: number, height: number, channels = 1) =>
  Uint16Array.from({ length: width * height * channels }, (_, i) => (i * 7919) % 65536)

async function png8(width: number, height: number) {
  const pixels = Uint8Array.from({ length: width * height }, (_, i) => (i * 31) % 256)
  return sharp(pixels, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer()
}

async function storedState(s: TestServer, project: number) {
  const images = await s.admin.request('GET', `/api/projects/${project}/images`)
  return {
    rows: images.body.images.length as number,
    blobs: (await s.server.tessera.context.blobs.list()).length,
  }
}

beforeAll(async () => {
  server = await startTestServer({ maxImagePixels: 1_000_000, maxUploadBytes: 3_000_000 })
  projectId = (await server.admin.request('POST', '/api/projects', { name: 'Images' })).body.id
})
afterAll(() => server.close())

describe('uploading images', () => {
  it('accepts PNG, JPEG and TIFF of 8, 16 and 32 bits with 1 to 4 channels', async () => {
    const jpeg = await sharp({
      create: { width: 40, height: 30, channels: 3, background: '#336699' },
    })
      .jpeg()
      .toBuffer()
    const files = [
      { name: 'grey8.png', bytes: await png8(64, 48) },
      { name: 'photo.jpg', bytes: jpeg },
      {
        name: 'grey16.tif',
        bytes: encodeTiff([{ width: 32, height: 16, channels: 1, samples: ramp16(32, 16) }]),
      },
      {
        name: 'float.tif',
        bytes: encodeTiff([
          {
            width: 8,
            height: 8,
            channels: 1,
            samples: Float32Array.from({ length: 64 }, (_, i) => i / 4 - 3),
          },
        ]),
      },
      {
        name: 'two.tif',
        bytes: encodeTiff([{ width: 16, height: 16, channels: 2, samples: ramp16(16, 16, 2) }]),
      },
      {
        name: 'three.tif',
        bytes: encodeTiff([{ width: 16, height: 16, channels: 3, samples: ramp16(16, 16, 3) }]),
      },
      {
        name: 'four.tif',
        bytes: encodeTiff([{ width: 16, height: 16, channels: 4, samples: ramp16(16, 16, 4) }]),
      },
    ]
    const response = await upload(server.admin, projectId, files)
    expect(response.status).toBe(201)
    const summary = response.body.images.map((i: any) => [
      i.name,
      i.format,
      i.dtype,
      i.channels,
      i.width,
      i.height,
    ])
    expect(summary).toEqual([
      ['grey8.png', 'png', 'uint8', 1, 64, 48],
      ['photo.jpg', 'jpeg', 'uint8', 3, 40, 30],
      ['grey16.tif', 'tiff', 'uint16', 1, 32, 16],
      ['float.tif', 'tiff', 'float32', 1, 8, 8],
      ['two.tif', 'tiff', 'uint16', 2, 16, 16],
      ['three.tif', 'tiff', 'uint16', 3, 16, 16],
      ['four.tif', 'tiff', 'uint16', 4, 16, 16],
    ])
    const float = response.body.images[3]
    expect(float.stats[0]).toMatchObject({ min: -3, max: 12.75, mean: 4.875 })
    expect(float.stats[0].percentiles['50']).toBeCloseTo(4.875)
  })

  it('gives back the exact samples of a 16-bit TIFF, whole and as a region', async () => {
    const samples = ramp16(37, 21)
    const created = await upload(server.admin, projectId, [
      { name: 'exact.tif', bytes: encodeTiff([{ width: 37, height: 21, channels: 1, samples }]) },
    ])
    const image = created.body.images[0]
    const sorted = [...samples].sort((a, b) => a - b)
    expect(image.stats[0]).toMatchObject({ min: sorted[0], max: sorted.at(-1) })
    const base = `/api/projects/${projectId}/images/${image.id}/raw`
    const whole = await server.admin.request('GET', base)
    expect(whole.headers.get('x-tessera-dtype')).toBe('uint16')
    const back = new Uint16Array(
      whole.body.buffer,
      whole.body.byteOffset,
      whole.body.byteLength / 2,
    )
    expect([...back]).toEqual([...samples])
    const region = await server.admin.request('GET', `${base}?x=5&y=3&width=4&height=2`)
    expect(region.headers.get('x-tessera-width')).toBe('4')
    const part = new Uint16Array(region.body.buffer, region.body.byteOffset, 8)
    expect([...part]).toEqual([
      ...samples.subarray(3 * 37 + 5, 3 * 37 + 9),
      ...samples.subarray(4 * 37 + 5, 4 * 37 + 9),
    ])
    const outside = await server.admin.request('GET', `${base}?x=30&width=10`)
    expect(outside.status).toBe(400)
  })

  it('keeps both channels of two-channel 8-bit, 16-bit and float TIFFs exactly', async () => {
    const two = [
      Uint8Array.from({ length: 2 * 35 }, (_, i) => (i * 37) % 256),
      Uint16Array.from({ length: 2 * 35 }, (_, i) => (i * 7919) % 65536),
      Float32Array.from({ length: 2 * 35 }, (_, i) => Math.fround(i / 3 - 5)),
    ]
    const response = await upload(
      server.admin,
      projectId,
      two.map((samples, k) => ({
        name: `two-${k}.tif`,
        bytes: encodeTiff([{ width: 7, height: 5, channels: 2, samples }]),
      })),
    )
    expect(response.status).toBe(201)
    for (const [k, image] of response.body.images.entries()) {
      expect(image.channels).toBe(2)
      const raw = await server.admin.request(
        'GET',
        `/api/projects/${projectId}/images/${image.id}/raw`,
      )
      const bytes = new Uint8Array(two[k].buffer, two[k].byteOffset, two[k].byteLength)
      expect([...raw.body]).toEqual([...bytes])
    }
  })

  it('imports each page of a multi-page TIFF as its own image', async () => {
    const pages = [1, 2, 3].map((k) => ({
      width: 10,
      height: 6,
      channels: 1,
      samples: new Uint16Array(60).fill(k * 1000),
    }))
    const response = await upload(server.admin, projectId, [
      { name: 'stack.tif', bytes: encodeTiff(pages) },
    ])
    expect(response.body.images.map((i: any) => i.name)).toEqual([
      'stack.tif [page 1/3]',
      'stack.tif [page 2/3]',
      'stack.tif [page 3/3]',
    ])
    expect(response.body.images.map((i: any) => i.stats[0].max)).toEqual([1000, 2000, 3000])
  })

  it('returns the existing image for the same bytes uploaded again', async () => {
    const bytes = await png8(20, 20)
    const first = await upload(server.admin, projectId, [{ name: 'again.png', bytes }])
    const second = await upload(server.admin, projectId, [{ name: 'again-copy.png', bytes }])
    expect(second.status).toBe(201)
    expect(second.body.duplicates).toEqual(['again-copy.png'])
    expect(second.body.images[0].id).toBe(first.body.images[0].id)
  })
})

describe('renditions', () => {
  it('serves a PNG thumbnail no larger than 256 pixels and display tiles', async () => {
    const tiled = await startTestServer({ displayTileSize: 256 })
    try {
      const project = (await tiled.admin.request('POST', '/api/projects', { name: 'Tiles' })).body
        .id
      const samples = ramp16(600, 300)
      const created = await upload(tiled.admin, project, [
        {
          name: 'wide.tif',
          bytes: encodeTiff([{ width: 600, height: 300, channels: 1, samples }]),
        },
      ])
      const image = created.body.images[0]
      expect(image.tiles).toEqual({ tileSize: 256, columns: 3, rows: 2 })
      const base = `/api/projects/${project}/images/${image.id}`
      const thumbnail = await tiled.admin.request('GET', `${base}/thumbnail`)
      expect(thumbnail.headers.get('content-type')).toBe('image/png')
      const meta = await sharp(thumbnail.body).metadata()
      expect(Math.max(meta.width!, meta.height!)).toBe(256)
      const corner = await sharp(
        (await tiled.admin.request('GET', `${base}/display/2/1`)).body,
      ).metadata()
      expect([corner.width, corner.height]).toEqual([600 - 512, 300 - 256])
      expect((await tiled.admin.request('GET', `${base}/display/3/0`)).status).toBe(404)
    } finally {
      await tiled.close()
    }
  })
})

describe('bad uploads', () => {
  const truncatedPng = async () => {
    const bytes = await png8(64, 64)
    return bytes.subarray(0, Math.floor(bytes.length / 2))
  }
  const cases: [string, () => Promise<{ name: string; bytes: Uint8Array }>, number, RegExp][] = [
    [
      'an empty file',
      async () => ({ name: 'empty.png', bytes: new Uint8Array(0) }),
      400,
      /empty\.png is empty/,
    ],
    [
      'a truncated PNG',
      async () => ({ name: 'cut.png', bytes: await truncatedPng() }),
      422,
      /cut\.png .*truncated or corrupt/,
    ],
    [
      'a PNG named .tif',
      async () => ({ name: 'liar.tif', bytes: await png8(8, 8) }),
      415,
      /liar\.tif is a PNG file, but its name says TIFF/,
    ],
    [
      'a TIFF over the pixel limit',
      async () => ({
        name: 'huge.tif',
        bytes: encodeTiff([
          { width: 1200, height: 1000, channels: 1, samples: new Uint8Array(1_200_000) },
        ]),
      }),
      413,
      /huge\.tif has 1200×1000 = 1,200,000 pixels, more than this server's limit of 1,000,000/,
    ],
    [
      'a GIF',
      async () => ({
        name: 'anim.gif',
        bytes: Uint8Array.from(Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'binary')),
      }),
      415,
      /anim\.gif is a GIF file/,
    ],
    [
      'a text file',
      async () => ({ name: 'notes.txt', bytes: new TextEncoder().encode('hello') }),
      415,
      /notes\.txt is not a PNG, JPEG or TIFF/,
    ],
    [
      'a file over the byte limit',
      async () => ({ name: 'big.png', bytes: new Uint8Array(3_500_000).fill(7) }),
      413,
      /big\.png (is larger than|takes this upload beyond)/,
    ],
  ]

  for (const [what, make, status, message] of cases) {
    it(`refuses ${what} with ${status}, storing nothing`, async () => {
      const before = await storedState(server, projectId)
      const file = await make()
      // Together with a good file: the upload is all or nothing.
      const response = await upload(server.admin, projectId, [
        { name: 'fine.png', bytes: await png8(9, 9) },
        file,
      ])
      expect(response.status).toBe(status)
      expect(response.body.error).toMatch(message)
      expect(await storedState(server, projectId)).toEqual(before)
    })
  }

  it('refuses files that are each under the byte limit but over it together, storing nothing', async () => {
    const before = await storedState(server, projectId)
    const response = await upload(server.admin, projectId, [
      { name: 'first.png', bytes: new Uint8Array(2_000_000).fill(1) },
      { name: 'second.png', bytes: new Uint8Array(2_000_000).fill(2) },
    ])
    expect(response.status).toBe(413)
    expect(response.body.error).toMatch(/second\.png takes this upload beyond .* all its files/)
    expect(await storedState(server, projectId)).toEqual(before)
  })

  it('refuses an upload that is not multipart, and one without files', async () => {
    const notMultipart = await server.admin.request('POST', `/api/projects/${projectId}/images`, {
      files: [],
    })
    expect(notMultipart.status).toBe(415)
    const noFiles = await server.admin.request(
      'POST',
      `/api/projects/${projectId}/images`,
      new FormData(),
    )
    expect(noFiles.status).toBe(400)
  })
})

describe('image access', () => {
  it("hides another project's image and deletes blobs no other image uses", async () => {
    const other = (await server.admin.request('POST', '/api/projects', { name: 'Other' })).body.id
    const shared = await png8(30, 30)
    const mine = await upload(server.admin, projectId, [{ name: 'shared.png', bytes: shared }])
    const theirs = await upload(server.admin, other, [
      { name: 'shared.png', bytes: shared },
      { name: 'own.png', bytes: await png8(31, 31) },
    ])
    const theirId = theirs.body.images[1].id
    expect(
      (await server.admin.request('GET', `/api/projects/${projectId}/images/${theirId}`)).status,
    ).toBe(404)

    const blobsBefore = (await server.server.tessera.context.blobs.list()).length
    // The shared original stays (my project still uses it); the other image's own blobs go.
    expect(
      (
        await server.admin.request(
          'DELETE',
          `/api/projects/${other}/images/${theirs.body.images[0].id}`,
        )
      ).status,
    ).toBe(204)
    expect((await server.server.tessera.context.blobs.list()).length).toBe(blobsBefore)
    expect(
      (
        await server.admin.request(
          'GET',
          `/api/projects/${projectId}/images/${mine.body.images[0].id}/raw`,
        )
      ).status,
    ).toBe(200)
    expect(
      (await server.admin.request('DELETE', `/api/projects/${other}/images/${theirId}`)).status,
    ).toBe(204)
    expect((await server.server.tessera.context.blobs.list()).length).toBeLessThan(blobsBefore)
  })
})

describe('deleting a project', () => {
  it('removes its images and every blob no other project uses', async () => {
    const s = await startTestServer()
    try {
      const keep = (await s.admin.request('POST', '/api/projects', { name: 'Keep' })).body.id
      const drop = (await s.admin.request('POST', '/api/projects', { name: 'Drop' })).body.id
      const shared = await png8(12, 12)
      await upload(s.admin, keep, [{ name: 'shared.png', bytes: shared }])
      const blobsKept = (await s.server.tessera.context.blobs.list()).length
      await upload(s.admin, drop, [
        { name: 'shared.png', bytes: shared },
        { name: 'only-here.png', bytes: await png8(13, 13) },
      ])
      expect((await s.server.tessera.context.blobs.list()).length).toBeGreaterThan(blobsKept)
      expect((await s.admin.request('DELETE', `/api/projects/${drop}`)).status).toBe(204)
      expect((await s.server.tessera.context.blobs.list()).length).toBe(blobsKept)
      const kept = await s.admin.request('GET', `/api/projects/${keep}/images`)
      const raw = await s.admin.request(
        'GET',
        `/api/projects/${keep}/images/${kept.body.images[0].id}/raw`,
      )
      expect(raw.status).toBe(200)
    } finally {
      await s.close()
    }
  })
})
