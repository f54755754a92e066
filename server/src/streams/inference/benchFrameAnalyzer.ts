// Measures the frame analyzer pool on this machine: sustained throughput with every worker kept
// busy, one frame's latency on an idle pool, and arrival → result at a steady rate, for 16-bit synthetic frames of 256² and 512²,
// under each worker/thread split; and renderFramePng's time. Medians of several runs, as JSON.
// `npx tsx server/src/streams/inference/benchFrameAnalyzer.ts [runs]`
import { generateNuclei } from '../../demo/syntheticNuclei.ts'
import { SHIPPED_MODEL_DIR } from '../../models/loadModel.ts'
import { createFrameAnalyzerPool } from './FrameAnalyzerPool.ts'
import { readModelFolder } from './readModelFolder.ts'
import { renderFramePng } from './renderFrame.ts'

const runs = Number(process.argv[2] ?? 3)
const model = { versionId: 1, load: () => readModelFolder(SHIPPED_MODEL_DIR, 1) }
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]

function framesOf(side: number) {
  return Array.from({ length: 4 }, (_, k) => {
    const image = generateNuclei({
      seed: 100 + k,
      width: side,
      height: side,
      channels: 1,
      count: Math.round((side * side) / 2500),
      radius: [7, 13],
    })
    return { image, labels: Uint32Array.from(image.labels) }
  })
}

const splits = [
  { workers: 1, threadsPerWorker: 2 },
  { workers: 2, threadsPerWorker: 1 },
]
const results: Record<string, unknown> = {}
for (const side of [256, 512]) {
  const frames = framesOf(side)
  const input = (k: number) => ({
    width: side,
    height: side,
    channels: 1,
    dtype: 'uint16' as const,
    samples: frames[k % frames.length].image.pixels.slice(),
  })
  for (const split of splits) {
    const rssBefore = process.memoryUsage().rss
    const pool = createFrameAnalyzerPool(split)
    // Warm: every worker started, the model loaded and run once.
    await Promise.all(
      Array.from({ length: split.workers }, (_, k) => pool.analyze(input(k), model)),
    )
    const fps: number[] = []
    const count = side === 256 ? 60 : 20
    for (let run = 0; run < runs; run++) {
      const started = performance.now()
      let sent = 0
      await new Promise<void>((resolve, reject) => {
        let done = 0
        const feed = () => {
          while (sent < count && pool.idleWorkers > 0) {
            pool.analyze(input(sent++), model).then(() => {
              if (++done === count) resolve()
              else feed()
            }, reject)
          }
        }
        feed()
      })
      fps.push(count / ((performance.now() - started) / 1000))
    }
    const latency: number[] = []
    const inference: number[] = []
    for (let k = 0; k < (side === 256 ? 30 : 15) * runs; k++) {
      const started = performance.now()
      const analysis = await pool.analyze(input(k), model)
      latency.push(performance.now() - started)
      inference.push(analysis.inferenceMs)
    }
    // Frames arriving at a steady rate the pool keeps up with (256²: the 15 fps):
    // arrival → result, queueing in the pool included.
    const rate = side === 256 ? 15 : 4
    const paced: number[] = []
    await Promise.all(
      Array.from(
        { length: rate * 6 * runs },
        (_, k) =>
          new Promise<void>((resolve, reject) => {
            setTimeout(
              () => {
                const arrived = performance.now()
                pool.analyze(input(k), model).then(() => {
                  paced.push(performance.now() - arrived)
                  resolve()
                }, reject)
              },
              (k * 1000) / rate,
            )
          }),
      ),
    )
    const rssMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20
    await pool.close()
    results[`${side}_w${split.workers}_t${split.threadsPerWorker}`] = {
      fps: Number(median(fps).toFixed(1)),
      fpsRuns: fps.map((f) => Number(f.toFixed(1))),
      latencyMsP50: Number(median(latency).toFixed(1)),
      latencyMsP99: Number(quantile(latency, 0.99).toFixed(1)),
      inferenceMsP50: Number(median(inference).toFixed(1)),
      poolRssMb: Math.round(rssMb),
      [`pacedAt${rate}fpsMsP50`]: Number(median(paced).toFixed(1)),
      [`pacedAt${rate}fpsMsP99`]: Number(quantile(paced, 0.99).toFixed(1)),
    }
    console.error(
      side,
      split,
      JSON.stringify(results[`${side}_w${split.workers}_t${split.threadsPerWorker}`]),
    )
  }
  const render: number[] = []
  for (let k = 0; k < 10; k++) {
    const { image, labels } = frames[k % frames.length]
    const started = performance.now()
    await renderFramePng({ width: side, height: side, channels: 1, samples: image.pixels }, labels)
    render.push(performance.now() - started)
  }
  results[`render_${side}_ms`] = Number(median(render).toFixed(1))
}
console.log(JSON.stringify(results, null, 2))
