// Upload-to-ready time of images through the real server on loopback: from the start of the
// upload request to its 201 answer, when the original, raw samples, display tiles and
// thumbnail are stored and the row is committed.

import sharp from 'sharp'
import { generateNuclei } from '../server/src/demo/syntheticNuclei.ts'
import { encodeTiff } from '../server/src/images/encodeTiff.ts'
import { startTestServer } from '../server/test/harness.ts'
import { median, quantile, round } from './stats.ts'

const RUNS = 7

export async function run(): Promise<Record<string, number>> {
  const server = await startTestServer()
  try {
    const project = (await server.admin.request('POST', '/api/projects', { name: 'Bench' })).body.id
    const time = async (name: string, bytes: Uint8Array) => {
      const body = new FormData()
      body.append('files', new Blob([bytes as Uint8Array<ArrayBuffer>]), name)
      const started = performance.now()
      const response = await server.admin.request('POST', `/api/projects/${project}/images`, body)
      const elapsed = performance.now() - started
      if (response.status !== 201)
        throw new Error(`upload failed: ${JSON.stringify(response.body)}`)
      return elapsed
    }
    const tiff: number[] = []
    const png: number[] = []
    for (let run = 0; run < RUNS; run++) {
      // Different content every run, so deduplication never short-cuts the work.
      const big = generateNuclei({
        seed: 100 + run,
        width: 2048,
        height: 2048,
        channels: 1,
        count: 400,
        radius: [8, 18],
      })
      tiff.push(
        await time(
          `frame-${run}.tif`,
          encodeTiff([{ width: 2048, height: 2048, channels: 1, samples: big.pixels }]),
        ),
      )
      const small = generateNuclei({
        seed: 200 + run,
        width: 1024,
        height: 1024,
        channels: 1,
        count: 100,
        radius: [8, 18],
      })
      const eight = Uint8Array.from(small.pixels, (v) => v >> 8)
      const bytes = await sharp(eight, { raw: { width: 1024, height: 1024, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toBuffer()
      png.push(await time(`frame-${run}.png`, bytes))
    }
    return {
      ingest_tiff16_2048_ms_median: round(median(tiff)),
      ingest_tiff16_2048_ms_p95: round(quantile(tiff, 0.95)),
      ingest_png8_1024_ms_median: round(median(png)),
      ingest_png8_1024_ms_p95: round(quantile(png, 0.95)),
      ingest_runs: RUNS,
    }
  } finally {
    await server.close()
  }
}
