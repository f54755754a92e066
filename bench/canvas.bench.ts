// Canvas performance with 10,000 polygons of 30 vertices on one image in headless Chromium:
// time from navigation to all 10k drawn, and frame times while panning and zooming.
import type * as Y from 'yjs'
import { AppPages } from '../e2e/fixtures/AppPages.ts'
import { openBrowser } from '../e2e/fixtures/browser.ts'
import { generateNuclei } from '../server/src/demo/syntheticNuclei.ts'
import { encodeTiff } from '../server/src/images/encodeTiff.ts'
import { collabProject, connect, eventually, synced } from '../server/test/collabClients.ts'
import { ADMIN_PASSWORD, startTestServer } from '../server/test/harness.ts'
import { annotationsOf, createAnnotation, userOrigin } from '../shared/doc/index.ts'
import { createRandom } from '../shared/random/createRandom.ts'
import { median, quantile, round } from './stats.ts'

const POLYGONS = 10_000
const VERTICES = 30
const SIZE = 2048

export async function run(): Promise<Record<string, number>> {
  const server = await startTestServer()
  const browser = await openBrowser(server.url)
  try {
    const { project, tokens } = await collabProject(server.admin, { painter: 'annotator' })
    // Replace the tiny image by a 2048² 16-bit one.
    const { pixels } = generateNuclei({
      seed: 3,
      width: SIZE,
      height: SIZE,
      channels: 1,
      count: 300,
      radius: [8, 16],
    })
    const form = new FormData()
    form.append(
      'files',
      new Blob([
        encodeTiff([
          { width: SIZE, height: SIZE, channels: 1, samples: pixels },
        ]) as Uint8Array<ArrayBuffer>,
      ]),
      'big.tif',
    )
    const bigId = (await server.admin.request('POST', `/api/projects/${project}/images`, form)).body
      .images[0].id
    const client = connect(server.url, bigId, tokens.painter)
    await synced(client)
    const random = createRandom(10)
    client.doc.transact(() => {
      for (let i = 0; i < POLYGONS; i++) {
        const cx = 20 + random() * (SIZE - 40)
        const cy = 20 + random() * (SIZE - 40)
        const r = 5 + random() * 8
        const ring: number[] = []
        for (let v = 0; v < VERTICES; v++) {
          const angle = (v / VERTICES) * Math.PI * 2
          const wobble = 1 + 0.15 * Math.sin(angle * 3 + i)
          ring.push(cx + Math.cos(angle) * r * wobble, cy + Math.sin(angle) * r * wobble)
        }
        createAnnotation(
          client.doc,
          { kind: 'polygon', geometry: { rings: [ring] }, classId: null },
          userOrigin(1),
        )
      }
    })
    const live = () => server.server.tessera.collab.liveDoc(`image:${bigId}`)
    await eventually(
      () => (live() ? annotationsOf(live() as Y.Doc).size === POLYGONS : false),
      60_000,
      '10k stored',
    )
    client.destroy()

    const { page } = browser
    await new AppPages(page).login('admin', ADMIN_PASSWORD)
    const opens: number[] = []
    const profiler = process.env.BENCH_PROFILE ? await page.context().newCDPSession(page) : null
    if (profiler) {
      await profiler.send('Profiler.enable')
      await profiler.send('Profiler.start')
    }
    for (let run = 0; run < 3; run++) {
      await page.goto(`/projects/${project}`)
      const started = Date.now()
      await page.goto(`/projects/${project}/images/${bigId}`)
      const phases = (await page.evaluate(`new Promise((resolve) => {
        const t0 = performance.timeOrigin
        const marks = {}
        function poll() {
          const api = window.__tesseraEditor
          const now = performance.timeOrigin + performance.now()
          if (api && marks.editor === undefined) marks.editor = now
          if (api && marks.loaded === undefined && api.editor.getAnnotations().length === ${POLYGONS}) marks.loaded = now
          if (api && api.drawnCount() === ${POLYGONS}) {
            marks.drawn = now
            resolve(marks)
          } else setTimeout(poll, 10)
        }
        poll()
      })`)) as { editor: number; loaded: number; drawn: number }
      opens.push(phases.drawn - started)
      if (process.env.BENCH_VERBOSE) {
        console.log({
          editor: phases.editor - started,
          loaded: phases.loaded - started,
          drawn: phases.drawn - started,
        })
      }
    }
    if (profiler) {
      const { profile } = (await profiler.send('Profiler.stop')) as {
        profile: { nodes: any[]; samples: number[]; timeDeltas: number[] }
      }
      const self = new Map<string, number>()
      const byId = new Map(profile.nodes.map((n) => [n.id, n]))
      profile.samples.forEach((id, i) => {
        const node = byId.get(id)
        const key = `${node.callFrame.functionName || '(anon)'} ${node.callFrame.url.split('/').pop()}:${node.callFrame.lineNumber}`
        self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
      })
      console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
    }
    // A string, so that the bundler's helpers never leak into the page.
    const frames = (await page.evaluate(`new Promise((resolve) => {
      const { editor } = window.__tesseraEditor
      const deltas = []
      let last = performance.now()
      let frame = 0
      function step(now) {
        deltas.push(now - last)
        last = now
        frame++
        // Pan in a circle, and zoom in and out around the centre.
        if (frame % 2 === 0) editor.panBy(Math.cos(frame / 10) * 12, Math.sin(frame / 10) * 12)
        else editor.zoomAt(600, 400, frame % 120 < 60 ? 1.02 : 1 / 1.02)
        if (frame < 240) requestAnimationFrame(step)
        else resolve(deltas.slice(5))
      }
      requestAnimationFrame(step)
    })`)) as number[]
    return {
      canvas_pan_frame_ms_median: round(median(frames)),
      canvas_pan_frame_ms_p95: round(quantile(frames, 0.95)),
      open_image_10k_ms: round(median(opens)),
      canvas_polygons: POLYGONS,
    }
  } finally {
    await browser.close()
    await server.close()
  }
}
