import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateNuclei, type SyntheticImage } from '../../demo/syntheticNuclei.ts'
import { SHIPPED_MODEL_DIR } from '../../models/loadModel.ts'
import type { FrameAnalysis, FrameAnalyzer, FrameInput, FrameSamples } from './FrameAnalyzer.ts'
import { createFrameAnalyzerPool } from './FrameAnalyzerPool.ts'
import { readModelFolder } from './readModelFolder.ts'

/** The shipped v0 under a version id of our choosing, counting its loads. */
function shippedModel(versionId: number) {
  const model = {
    versionId,
    loads: 0,
    load: async () => {
      model.loads++
      return readModelFolder(SHIPPED_MODEL_DIR, versionId, `v0-as-${versionId}`)
    },
  }
  return model
}

const frameOf = (image: SyntheticImage, samples: FrameSamples = image.pixels.slice()) =>
  ({
    width: image.spec.width,
    height: image.spec.height,
    channels: image.spec.channels,
    dtype: (
      {
        Uint8Array: 'uint8',
        Uint16Array: 'uint16',
        Uint32Array: 'uint32',
        Float32Array: 'float32',
      } as const
    )[samples.constructor.name as 'Uint8Array'],
    samples,
  }) satisfies FrameInput

/** For each true nucleus, the detected object whose centroid is nearest (and how far). */
function matchNuclei(image: SyntheticImage, analysis: FrameAnalysis) {
  const trueArea = new Map<number, number>()
  for (const l of image.labels) if (l) trueArea.set(l, (trueArea.get(l) ?? 0) + 1)
  return image.nuclei.map((n) => {
    let best = { distance: Infinity, area: 0 }
    for (const o of analysis.objects) {
      const distance = Math.hypot(o.centroid.x - n.cx, o.centroid.y - n.cy)
      if (distance < best.distance) best = { distance, area: o.area }
    }
    return { ...best, trueArea: trueArea.get(n.label) ?? 0 }
  })
}

/** Mean raw sample per channel over the pixels labelled `id`. */
function rawMeans(analysis: FrameAnalysis, channels: number, id: number) {
  const sums = new Array<number>(channels).fill(0)
  let count = 0
  analysis.labels.forEach((l, i) => {
    if (l !== id) return
    count++
    for (let c = 0; c < channels; c++) sums[c] += analysis.samples[i * channels + c]
  })
  return sums.map((s) => s / count)
}

function expectFindsNuclei(image: SyntheticImage, analysis: FrameAnalysis) {
  const n = image.nuclei.length
  expect(analysis.objects.length).toBeGreaterThanOrEqual(Math.floor(n * 0.85))
  expect(analysis.objects.length).toBeLessThanOrEqual(Math.ceil(n * 1.15))
  const matches = matchNuclei(image, analysis)
  const good = matches.filter(
    (m) => m.distance < 2.5 && Math.abs(m.area - m.trueArea) < 0.35 * m.trueArea,
  )
  expect(good.length).toBeGreaterThanOrEqual(Math.floor(n * 0.85))
}

describe('FrameAnalyzerPool', () => {
  let pool: FrameAnalyzer
  const v1 = shippedModel(1)
  const nuclei = generateNuclei({
    seed: 7,
    width: 256,
    height: 256,
    channels: 1,
    count: 24,
    radius: [7, 12],
  })

  beforeAll(() => {
    pool = createFrameAnalyzerPool({ workers: 1, threadsPerWorker: 1 })
  })
  afterAll(() => pool.close())

  it('finds synthetic nuclei in a 16-bit frame: count, centroids, areas, raw intensities', async () => {
    expect(pool.size).toBe(1)
    expect(pool.idleWorkers).toBe(1)
    const input = frameOf(nuclei)
    const pending = pool.analyze(input, v1)
    expect(pool.idleWorkers).toBe(0)
    const analysis = await pending
    expect(pool.idleWorkers).toBe(1)
    expectFindsNuclei(nuclei, analysis)
    expect(analysis.labels).toHaveLength(256 * 256)
    expect(analysis.inferenceMs).toBeGreaterThan(0)
    analysis.objects.forEach((o, k) => {
      expect(o.id).toBe(k + 1)
      expect(o.score).toBeGreaterThan(0.5)
      expect(o.score).toBeLessThanOrEqual(1)
      expect(analysis.labels.filter((l) => l === o.id).length).toBe(o.area)
      expect(o.bbox.x).toBeLessThanOrEqual(o.centroid.x)
      expect(o.bbox.x + o.bbox.width).toBeGreaterThanOrEqual(o.centroid.x)
      expect(o.meanIntensity).toHaveLength(1)
      expect(o.meanIntensity[0]).toBeCloseTo(rawMeans(analysis, 1, o.id)[0], 6)
    })
  })

  it('moves the samples to the worker and hands them back', async () => {
    const input = frameOf(nuclei)
    const sent = input.samples
    const analysis = await pool.analyze(input, v1)
    expect(sent.byteLength).toBe(0) // transferred, not copied
    expect(analysis.samples).toBeInstanceOf(Uint16Array)
    expect(analysis.samples).toEqual(nuclei.pixels)
    // A view into Node's shared Buffer pool cannot be transferred: it is sent as a copy.
    const pooled = Buffer.from(Array.from({ length: 32 * 32 }, (_, i) => (i * 37) % 256))
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length)
    const view = new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.length)
    const small = await pool.analyze(
      { width: 32, height: 32, channels: 1, dtype: 'uint8', samples: view },
      v1,
    )
    expect(small.samples).toEqual(Uint8Array.from(pooled))
    expect(small.labels).toHaveLength(32 * 32)
  })

  it('works on frames larger than the tile size (1000×700)', async () => {
    const large = generateNuclei({
      seed: 11,
      width: 1000,
      height: 700,
      channels: 1,
      count: 90,
      radius: [7, 12],
    })
    const analysis = await pool.analyze(frameOf(large), v1)
    expect(analysis.labels).toHaveLength(1000 * 700)
    expectFindsNuclei(large, analysis)
    // Objects from every tile, those across tile borders (x ≈ 470, 490; y ≈ 220) included once.
    expect(analysis.objects.some((o) => o.centroid.x > 900 && o.centroid.y > 600)).toBe(true)
    const ids = new Set(analysis.labels)
    expect(ids.size).toBe(analysis.objects.length + 1)
    for (const o of analysis.objects.filter((_, k) => k % 9 === 0))
      expect(o.meanIntensity[0]).toBeCloseTo(rawMeans(analysis, 1, o.id)[0], 6)
  }, 60_000)

  it('takes uint8, uint32 (small and large values) and float32 frames', async () => {
    const reference = await pool.analyze(frameOf(nuclei), v1)
    const n = reference.objects.length
    const variants: FrameSamples[] = [
      Uint8Array.from(nuclei.pixels, (v) => Math.round(v / 257)),
      Uint32Array.from(nuclei.pixels),
      Uint32Array.from(nuclei.pixels, (v) => v * 1000), // above 2^24: the exact sorting path
      Float32Array.from(nuclei.pixels, (v) => v / 65535),
    ]
    for (const samples of variants) {
      const kept = samples.slice()
      const analysis = await pool.analyze(frameOf(nuclei, samples), v1)
      expect(analysis.samples).toEqual(kept)
      expect(Math.abs(analysis.objects.length - n)).toBeLessThanOrEqual(Math.max(1, n * 0.1))
      const o = analysis.objects[0]
      expect(o.meanIntensity[0]).toBeCloseTo(rawMeans(analysis, 1, o.id)[0], 3)
    }
  }, 30_000)

  it('gives one mean intensity per channel of a 3-channel frame', async () => {
    const twoChannel = generateNuclei({
      seed: 3,
      width: 192,
      height: 160,
      channels: 2,
      count: 12,
      radius: [7, 11],
    })
    const area = 192 * 160
    const samples = new Uint16Array(area * 3)
    for (let i = 0; i < area; i++) {
      samples[3 * i] = twoChannel.pixels[2 * i]
      samples[3 * i + 1] = twoChannel.pixels[2 * i + 1]
      samples[3 * i + 2] = (i * 7) % 1000
    }
    const analysis = await pool.analyze(
      { width: 192, height: 160, channels: 3, dtype: 'uint16', samples },
      v1,
    )
    expect(analysis.objects.length).toBeGreaterThan(8)
    for (const o of analysis.objects) {
      expect(o.meanIntensity).toHaveLength(3)
      const means = rawMeans(analysis, 3, o.id)
      for (const [c, m] of o.meanIntensity.entries()) expect(m).toBeCloseTo(means[c], 6)
    }
  })

  it('runs two model versions side by side and loads each only when the worker lacks it', async () => {
    const a = shippedModel(101)
    const b = shippedModel(102)
    const c = shippedModel(103)
    const run = async (model: typeof a) => (await pool.analyze(frameOf(nuclei), model)).objects
    const first = await run(a)
    expect(await run(b)).toEqual(first) // the same model under two ids gives the same objects
    await run(a)
    await run(b)
    expect([a.loads, b.loads]).toEqual([1, 1])
    // A third version releases the least recently used (a); a is then loaded again.
    await run(c)
    await run(b)
    await run(a)
    expect([a.loads, b.loads, c.loads]).toEqual([2, 1, 1])
  }, 30_000)

  it('queues frames when every worker is busy', async () => {
    const frames = Array.from({ length: 4 }, () => pool.analyze(frameOf(nuclei), v1))
    expect(pool.idleWorkers).toBe(0)
    const results = await Promise.all(frames)
    expect(new Set(results.map((r) => r.objects.length)).size).toBe(1)
    expect(pool.idleWorkers).toBe(1)
  })

  it('rejects a frame that cannot be analysed and goes on with the next', async () => {
    const wrongSize = { ...frameOf(nuclei), width: 255 }
    await expect(pool.analyze(wrongSize, v1)).rejects.toThrow(/needs 65280 samples/)
    const wrongType = { ...frameOf(nuclei), dtype: 'float32' as const }
    await expect(pool.analyze(wrongType, v1)).rejects.toThrow(/Float32Array/)
    const failing = { versionId: 201, load: () => Promise.reject(new Error('blob missing')) }
    await expect(pool.analyze(frameOf(nuclei), failing)).rejects.toThrow('blob missing')
    // A card the worker cannot parse fails in the worker, for that frame only.
    const broken = {
      versionId: 202,
      load: async () => ({ ...(await readModelFolder(SHIPPED_MODEL_DIR, 202)), cardJson: '{}' }),
    }
    await expect(pool.analyze(frameOf(nuclei), broken)).rejects.toThrow()
    const analysis = await pool.analyze(frameOf(nuclei), v1)
    expect(analysis.objects.length).toBeGreaterThan(10)
  })

  it('gives up on a tiled frame that runs past the time limit; the worker goes on', async () => {
    const limited = createFrameAnalyzerPool({
      workers: 1,
      threadsPerWorker: 1,
      frameTimeoutMs: 500,
    })
    try {
      const big = new Uint16Array(3072 * 3072).map((_, i) => (i * 2654435761) % 4096)
      const input = { width: 3072, height: 3072, channels: 1, dtype: 'uint16' as const }
      await expect(limited.analyze({ ...input, samples: big }, v1)).rejects.toThrow(
        /longer than 500 ms/,
      )
      const analysis = await limited.analyze(frameOf(nuclei), v1)
      expect(analysis.objects.length).toBeGreaterThan(10)
      expect(limited.idleWorkers).toBe(1)
    } finally {
      await limited.close()
    }
  }, 30_000)

  it('rejects the frame of a worker that crashed and starts a new worker for the next', async () => {
    const crashing = createFrameAnalyzerPool({
      workers: 1,
      threadsPerWorker: 1,
      workerModule: new URL('./crashingFrameWorker.ts', import.meta.url),
    })
    try {
      const model = shippedModel(301)
      expect((await crashing.analyze(frameOf(nuclei), model)).objects.length).toBeGreaterThan(10)
      const width = 13 // crashingFrameWorker.ts ends its thread on frames this wide
      const doomed = { width, height: 20, channels: 1, dtype: 'uint16' as const }
      const crashed = crashing.analyze({ ...doomed, samples: new Uint16Array(width * 20) }, model)
      const next = crashing.analyze(frameOf(nuclei), model)
      await expect(crashed).rejects.toThrow(/Frame worker stopped/)
      expect((await next).objects.length).toBeGreaterThan(10)
      expect(model.loads).toBe(2) // the new worker needed the version again
    } finally {
      await crashing.close()
    }
  }, 30_000)

  it('rejects waiting frames on close, and every frame after', async () => {
    const closing = createFrameAnalyzerPool({ workers: 1, threadsPerWorker: 1 })
    const frames = [closing.analyze(frameOf(nuclei), v1), closing.analyze(frameOf(nuclei), v1)]
    const settled = Promise.allSettled(frames)
    await closing.close()
    for (const outcome of await settled) {
      expect(outcome.status).toBe('rejected')
      expect(String((outcome as PromiseRejectedResult).reason)).toMatch(/closed/)
    }
    await expect(closing.analyze(frameOf(nuclei), v1)).rejects.toThrow(/closed/)
  })
})
