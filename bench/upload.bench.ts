// The heaviest uploads the default budgets allow, each to a fresh server process of its own: its
// peak resident memory (VmHWM, every thread) and how long /api/health took meanwhile (a check
// every 50 ms from this process). And a four-page 16384² bomb, refused from its headers.
import { randomFillSync } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { encodeTiff, type TiffSamples } from '../server/src/images/encodeTiff.ts'
import { ADMIN_PASSWORD, ApiClient } from '../server/test/harness.ts'
import { startServerProcess } from '../server/test/serverProcess.ts'
import { median, round } from './stats.ts'

const MIB = 1024 * 1024

interface Case {
  name: string
  /** The TIFF to upload, and the status the server must answer with. */
  make(): Uint8Array
  status: number
}

/**
 * One page of noise: a band of random rows repeated down the page. The file stays small (the
 * repeats are one stored strip) while decoding, statistics and PNG tiles see no constant runs
 * (the band is taller than deflate's window).
 */
function noisePage(side: number, channels: number, dtype: 'uint8' | 'uint16' | 'float32') {
  const array = { uint8: Uint8Array, uint16: Uint16Array, float32: Float32Array }[dtype]
  const samples: TiffSamples = new array(side * side * channels)
  const bandRows = 64
  const band = samples.subarray(0, side * bandRows * channels)
  if (dtype === 'float32') {
    for (let i = 0; i < band.length; i++) band[i] = Math.random() * 1000 - 200
  } else {
    randomFillSync(band)
    // Microscopy cameras give 12 bits; the statistics' histogram still spans thousands of values.
    if (dtype === 'uint16') for (let i = 0; i < band.length; i++) band[i] &= 0x0fff
  }
  for (let row = bandRows; row < side; row += bandRows) {
    samples.set(
      band.subarray(0, Math.min(bandRows, side - row) * side * channels),
      row * side * channels,
    )
  }
  return encodeTiff([{ width: side, height: side, channels, samples }], {
    compression: 'deflate',
    rowsPerStrip: bandRows,
  })
}

const budget = 768 * MIB // TESSERA_MAX_UPLOAD_DECODED_BYTES's default
const CASES: Case[] = [
  // 768 MiB of samples and as much again of RGB display image: the heaviest the budget allows.
  { name: 'rgb8_16384', make: () => noisePage(16384, 3, 'uint8'), status: 201 },
  { name: 'grey16_16384', make: () => noisePage(16384, 1, 'uint16'), status: 201 },
  // Two float channels (each decoded alone), as many pixels as the budget allows: 10033².
  {
    name: 'float32x2_10033',
    make: () => noisePage(Math.floor(Math.sqrt(budget / 8)), 2, 'float32'),
    status: 201,
  },
  {
    name: 'bomb_4x16384',
    make: () => {
      const page = { width: 16384, height: 16384, channels: 1, samples: new Uint8Array(16384 ** 2) }
      return encodeTiff([page, page, page, page], { compression: 'deflate', rowsPerStrip: 1024 })
    },
    status: 413,
  },
]

/** Peak resident memory of a process so far, MiB (Linux). */
function peakRss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(status.match(/VmHWM:\s+(\d+) kB/)![1]) / 1024
}

async function measure(testCase: Case): Promise<Record<string, number>> {
  const bytes = testCase.make()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-upload-'))
  const server = await startServerProcess({
    TESSERA_DATA: dataDir,
    TESSERA_DEMO: 'false',
    TESSERA_ADMIN_PASSWORD: ADMIN_PASSWORD,
  })
  try {
    const client = new ApiClient(server.url)
    await client.login('admin', ADMIN_PASSWORD)
    const project = (await client.request('POST', '/api/projects', { name: 'Bench' })).body.id
    const pid = server.child.pid!
    const before = peakRss(pid)
    const body = new FormData()
    body.append('files', new Blob([bytes as Uint8Array<ArrayBuffer>]), `${testCase.name}.tif`)
    const started = performance.now()
    let uploading = true
    const uploaded = client.request('POST', `/api/projects/${project}/images`, body).finally(() => {
      uploading = false
    })
    const health: number[] = []
    for (let poll = 0; uploading && poll < 20_000; poll++) {
      const sent = performance.now()
      await fetch(`${server.url}/api/health`)
      health.push(performance.now() - sent)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const response = await uploaded
    const seconds = (performance.now() - started) / 1000
    if (response.status !== testCase.status) {
      throw new Error(`${testCase.name}: ${response.status} ${JSON.stringify(response.body)}`)
    }
    const peak = peakRss(pid)
    console.log(
      `  ${testCase.name}: ${(bytes.length / MIB).toFixed(1)} MiB file, ${response.status} in ${seconds.toFixed(1)} s, peak RSS ${peak.toFixed(0)} MiB (${before.toFixed(0)} before)`,
    )
    return {
      [`${testCase.name}_file_mib`]: round(bytes.length / MIB, 2),
      [`${testCase.name}_upload_s`]: round(seconds, 1),
      [`${testCase.name}_rss_before_mib`]: round(before, 0),
      [`${testCase.name}_peak_rss_mib`]: round(peak, 0),
      [`${testCase.name}_health_checks`]: health.length,
      [`${testCase.name}_health_ms_median`]: round(median(health), 1),
      [`${testCase.name}_health_ms_max`]: round(Math.max(...health), 1),
    }
  } finally {
    await server.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

export async function run(): Promise<Record<string, number>> {
  const only = process.env.BENCH_UPLOAD_CASES?.split(',')
  const results: Record<string, number> = {}
  for (const testCase of CASES.filter((c) => !only || only.includes(c.name))) {
    Object.assign(results, await measure(testCase))
  }
  const peaks = Object.entries(results).filter(([key]) => key.endsWith('_peak_rss_mib'))
  results.worst_peak_rss_mib = Math.max(...peaks.map(([, value]) => value))
  return results
}
