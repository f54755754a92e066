// Click segmentation in headless Chromium with the shipped model (onnxruntime-web in the editor's
// worker, wasm SIMD + 2 threads): click-to-mask time on encoded 512² images (mixed positive and
// negative clicks, measured on the page from the request to the mask's polygon), the encoder's
// time for a 512² tile (encoder + automatic head + proposals), and a first click on an image the
// worker has not encoded yet (it encodes a window around the click first), also while the
// background encode of the image has just started (the click then waits for it).
import { AppPages } from '../e2e/fixtures/AppPages.ts'
import { openBrowser } from '../e2e/fixtures/browser.ts'
import { DEMO_IMAGES, encodeDemoImage } from '../server/src/demo/seedDemoProject.ts'
import { generateNuclei } from '../server/src/demo/syntheticNuclei.ts'
import { ADMIN_PASSWORD, startTestServer } from '../server/test/harness.ts'
import { median, quantile, round } from './stats.ts'

const IMAGES = DEMO_IMAGES.filter((d) => d.spec.width === 512 && d.spec.height === 512)
const OBJECTS_PER_IMAGE = 20
const FIRST_CLICK_RUNS = 7

interface PageTimings {
  clicks: number[]
  decodes: number[]
  graphs: number[]
  refines: number[]
  masks: number[]
  negatives: number
  encodes: number[]
  encoderOnly: number[]
  firstClicks: number[]
  firstClicksDuringEncode: number[]
  backend: string
}

/** Runs in the page: drives the tab's segmentation worker directly (strings avoid bundler
 * helpers leaking into page functions). */
const PAGE_SCRIPT = `async ({ projectId, imageIds, objects, firstRuns, threads }) => {
  const client = window.__tesseraSegmentation()
  const model = await (await fetch('/api/projects/' + projectId + '/model')).json()
  const loaded = await client.load(model, threads)
  const raws = []
  for (const id of imageIds) {
    const base = '/api/projects/' + projectId + '/images/' + id
    const info = await (await fetch(base)).json()
    const buffer = await (await fetch(base + '/raw')).arrayBuffer()
    const samples = info.dtype === 'uint8' ? new Uint8Array(buffer)
      : info.dtype === 'uint16' ? new Uint16Array(buffer) : new Float32Array(buffer)
    raws.push({ width: info.width, height: info.height, channels: info.channels, samples, stats: info.stats })
  }
  const encodes = []
  const encoderOnly = []
  const waitEncoded = (key) => new Promise((resolve) => {
    const stop = client.onProgress((k, p) => {
      if (k === key && p.encodedTiles === p.totalTiles) {
        stop()
        encoderOnly.push(p.timings.encodeMs)
        resolve(p.lastTileMs)
      }
    })
  })
  const clicks = []
  const decodes = []
  const graphs = []
  const refines = []
  const masks = []
  const timed = async (key, k, list) => {
    const t0 = performance.now()
    const result = await client.click(key, k, list)
    clicks.push(performance.now() - t0)
    decodes.push(result.timings.decodeMs)
    graphs.push(result.timings.decoderGraphMs)
    refines.push(result.timings.refineMs)
    masks.push(result.timings.maskMs)
  }
  let negatives = 0
  let run = 0
  for (let i = 0; i < raws.length; i++) {
    const key = 'bench-encoded-' + i
    const done = waitEncoded(key)
    await client.open(key, raws[i])
    encodes.push(await done)
    for (const [k, object] of objects[i].entries()) {
      const list = [{ x: object.x, y: object.y, positive: true }]
      for (const extra of object.extra) {
        await timed(key, k, list)
        list.push(extra)
        if (!extra.positive) negatives++
      }
      await timed(key, k, list)
      client.forget(key, k)
    }
    client.close(key)
  }
  // Encoder timings on fresh sessions of the same images.
  for (let r = 0; r < 4; r++) {
    for (let i = 0; i < raws.length; i++) {
      const key = 'bench-encode-' + r + '-' + i
      const done = waitEncoded(key)
      await client.open(key, raws[i])
      encodes.push(await done)
      client.close(key)
    }
  }
  // A click where nothing is encoded: the worker encodes a window around it, then decodes.
  const firstClicks = []
  // The same while the background encode of the whole tile has just started.
  const firstClicksDuringEncode = []
  for (let r = 0; r < firstRuns; r++) {
    const i = r % raws.length
    const object = objects[i][r % objects[i].length]
    for (const background of [false, true]) {
      const key = 'bench-first-' + r + '-' + background
      await client.open(key, raws[i], undefined, background)
      const t0 = performance.now()
      await client.click(key, 0, [{ x: object.x, y: object.y, positive: true }])
      ;(background ? firstClicksDuringEncode : firstClicks).push(performance.now() - t0)
      client.close(key)
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }
  return {
    clicks, decodes, graphs, refines, masks, negatives, encodes, encoderOnly, firstClicks, firstClicksDuringEncode,
    backend: loaded.backend + ' x' + loaded.threads,
  }
}`

export async function run(): Promise<Record<string, number>> {
  // BENCH_MODELS_DIR: time a candidate model (a folder of versions, as TESSERA_MODELS_DIR).
  const server = await startTestServer(
    process.env.BENCH_MODELS_DIR ? { modelsDir: process.env.BENCH_MODELS_DIR } : {},
  )
  const browser = await openBrowser(server.url)
  try {
    const projectId = (await server.admin.request('POST', '/api/projects', { name: 'Bench' })).body
      .id
    const imageIds: number[] = []
    const objects: {
      x: number
      y: number
      extra: { x: number; y: number; positive: boolean }[]
    }[][] = []
    for (const demo of IMAGES) {
      const form = new FormData()
      const bytes = await encodeDemoImage(demo.name, demo.spec)
      form.append('files', new Blob([bytes as Uint8Array<ArrayBuffer>]), demo.name)
      const upload = await server.admin.request('POST', `/api/projects/${projectId}/images`, form)
      imageIds.push(upload.body.images[0].id)
      // Objects: a positive click at each nucleus centre, then a negative click just outside it
      // and a positive one inside it again (three clicks per object, a third of them negative).
      const { nuclei } = generateNuclei(demo.spec)
      objects.push(
        nuclei.slice(0, OBJECTS_PER_IMAGE).map((n) => ({
          x: n.cx,
          y: n.cy,
          extra: [
            { x: n.cx + n.rx * 1.4, y: n.cy, positive: false },
            { x: n.cx - n.rx * 0.4, y: n.cy + n.ry * 0.3, positive: true },
          ],
        })),
      )
    }
    const { page } = browser
    await new AppPages(page).login('admin', ADMIN_PASSWORD)
    // The project page: the script starts the tab's worker itself (no editor competes with it).
    await page.goto(`/projects/${projectId}`)
    await page.waitForFunction('window.__tesseraSegmentation !== undefined')
    const timings = (await page.evaluate(
      `(${PAGE_SCRIPT})(${JSON.stringify({
        projectId,
        imageIds,
        objects,
        firstRuns: FIRST_CLICK_RUNS,
        // Overrides the worker's wasm thread count (default: up to 4, as many as cores).
        threads: process.env.BENCH_THREADS ? Number(process.env.BENCH_THREADS) : undefined,
      })})`,
    )) as PageTimings
    console.log(
      `backend ${timings.backend}; ${timings.clicks.length} clicks (${timings.negatives} negative), ${timings.encodes.length} encodes, ${timings.firstClicks.length} first clicks`,
    )
    return {
      click_to_mask_ms_median: round(median(timings.clicks)),
      click_to_mask_ms_p95: round(quantile(timings.clicks, 0.95)),
      clicks_measured: timings.clicks.length,
      negative_clicks: timings.negatives,
      encode_512_ms_median: round(median(timings.encodes)),
      encode_512_ms_p95: round(quantile(timings.encodes, 0.95)),
      click_decoder_ms_median: round(median(timings.decodes)),
      click_decoder_graph_ms_median: round(median(timings.graphs)),
      click_refine_ms_median: round(median(timings.refines)),
      click_mask_to_polygon_ms_median: round(median(timings.masks)),
      encoder_only_512_ms_median: round(median(timings.encoderOnly)),
      first_click_ms_median: round(median(timings.firstClicks)),
      first_click_ms_max: round(Math.max(...timings.firstClicks)),
      first_click_during_background_encode_ms_median: round(
        median(timings.firstClicksDuringEncode),
      ),
    }
  } finally {
    await browser.close()
    await server.close()
  }
}
