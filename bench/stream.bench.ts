// Live instrument streams through a real server process (its RSS read from /proc): 16-bit
// synthetic nuclei from the detector simulator over the ingest socket on loopback.
// - stream_fps_256 / _512: frames processed per second with the `latest` policy while the
//   simulator sends at twice the rate a probe series reached (the server's counters over REST,
//   after warm-up);
// - frame_to_event_ms_p50 / _p99: a rule that fires on every frame (count ≥ 0 → flag) at 65% of
//   the 256² rate; send → the event's arrival at the simulator, matched by image_id;
// - stream_rss_growth_mb: 5 minutes at twice the 256² rate; median RSS of the last minute minus
//   that of the first minute after a 30 s warm-up.
// Targets: 256² ≥ 15 fps, p99 ≤ 200 ms, growth ≤ 50 MB. `--quick` shortens every phase (30 s of
// RSS); --rss-seconds, --fps-seconds, --latency-seconds, --workers, --threads override.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  DEFAULT_STREAM_THREADS,
  DEFAULT_STREAM_WORKERS,
} from '../server/src/streams/inference/FrameAnalyzerPool.ts'
import {
  type SimulatedFrame,
  simulateDetector,
  syntheticFrames,
} from '../server/src/streams/simulator.ts'
import { ApiClient } from '../server/test/harness.ts'
import { startServerProcess } from '../server/test/serverProcess.ts'
import type { ServerMessage, StreamCounters } from '../shared/schemas/streams.ts'
import { median, quantile, round } from './stats.ts'

const PASSWORD = 'bench-admin-password'

interface BenchOptions {
  fpsSeconds: number
  warmupSeconds: number
  latencySeconds: number
  rssSeconds: number
  rssWarmupSeconds: number
  rssWindowSeconds: number
  rssSampleSeconds: number
  workers: number
  threads: number
}

function parseOptions(args: string[]): BenchOptions {
  const quick = args.includes('--quick')
  const options: BenchOptions = {
    fpsSeconds: quick ? 8 : 25,
    warmupSeconds: quick ? 3 : 5,
    latencySeconds: quick ? 8 : 25,
    rssSeconds: quick ? 30 : 300,
    rssWarmupSeconds: quick ? 5 : 30,
    rssWindowSeconds: quick ? 8 : 60,
    rssSampleSeconds: quick ? 1 : 3,
    workers: DEFAULT_STREAM_WORKERS,
    threads: DEFAULT_STREAM_THREADS,
  }
  const flags: Record<string, keyof BenchOptions> = {
    '--fps-seconds': 'fpsSeconds',
    '--latency-seconds': 'latencySeconds',
    '--rss-seconds': 'rssSeconds',
    '--workers': 'workers',
    '--threads': 'threads',
  }
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--quick') continue
    const key = flags[args[i]]
    const value = Number(args[i + 1])
    if (!key || !(value > 0) || value > 3600)
      throw new Error(`stream bench: unknown option or bad value "${args[i]} ${args[i + 1] ?? ''}"`)
    options[key] = value
    i++
  }
  if (options.rssSeconds < options.rssWarmupSeconds + 2 * options.rssWindowSeconds) {
    options.rssWarmupSeconds = options.rssSeconds / 6
    options.rssWindowSeconds = options.rssSeconds / 4
  }
  return options
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024
}

/** User + system CPU seconds of a process so far (Linux, 100 ticks a second). */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** The distinct frames over and over until `stop()` says so (then the series ends). */
function* cycle(frames: SimulatedFrame[], stop: () => boolean): Generator<SimulatedFrame> {
  for (let i = 0; !stop(); i++) yield frames[i % frames.length]
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const delta = (a: StreamCounters, b: StreamCounters) => ({
  received: b.received - a.received,
  processed: b.processed - a.processed,
  dropped: b.dropped - a.dropped,
  refused: b.refused - a.refused,
})

export async function run(args: string[]): Promise<Record<string, number>> {
  const options = parseOptions(args)
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-stream-'))
  const server = await startServerProcess({
    TESSERA_DATA: dataDir,
    TESSERA_ADMIN_PASSWORD: PASSWORD,
    TESSERA_DEMO: 'false',
    TESSERA_STREAM_WORKERS: String(options.workers),
    TESSERA_STREAM_THREADS_PER_WORKER: String(options.threads),
  })
  const pid = server.child.pid!
  try {
    const admin = new ApiClient(server.url)
    await admin.login('admin', PASSWORD)
    const projectId = (await admin.request('POST', '/api/projects', { name: 'Stream bench' })).body
      .id
    const token = (
      await admin.request('POST', `/api/projects/${projectId}/instrument-tokens`, { name: 'bench' })
    ).body.token as string
    const created = await admin.request('POST', `/api/projects/${projectId}/streams`, {
      name: 'bench detector',
      backpressure: 'latest',
    })
    if (created.status !== 201)
      throw new Error(`stream not created: ${JSON.stringify(created.body)}`)
    const streamPath = `/api/projects/${projectId}/streams/${created.body.id}`
    const ingestUrl = `${server.url.replace('http', 'ws')}/streams/${created.body.id}/ingest`
    const counters = async () =>
      (await admin.request('GET', streamPath)).body.counters as StreamCounters
    const frames = {
      256: syntheticFrames({ width: 256, height: 256, count: 40, seed: 5, dtype: 'uint16' }).frames,
      512: syntheticFrames({ width: 512, height: 512, count: 12, seed: 6, dtype: 'uint16' }).frames,
    }
    const series = (
      seriesId: string,
      size: 256 | 512,
      rate: number,
      stop: () => boolean,
      onMessage?: (message: ServerMessage, at: number) => void,
    ) =>
      simulateDetector({
        url: ingestUrl,
        token,
        seriesId,
        shape: [size, size],
        dtype: 'uint16',
        channels: 1,
        frames: cycle(frames[size], stop),
        rate,
        onMessage,
      })

    // ── Sustained frames per second, `latest`, sending faster than the model runs ──
    const sustained = async (size: 256 | 512, rate: number) => {
      let stopped = false
      const run = await series(`fps-${size}`, size, rate, () => stopped)
      await sleep(options.warmupSeconds * 1000)
      const before = await counters()
      const cpu0 = cpuSeconds(pid)
      const t0 = performance.now()
      await sleep(options.fpsSeconds * 1000)
      const after = await counters()
      const seconds = (performance.now() - t0) / 1000
      const cpu = (cpuSeconds(pid) - cpu0) / seconds
      stopped = true
      await run.done
      const window = delta(before, after)
      const fps = window.processed / seconds
      console.log(
        `${size}²: ${fps.toFixed(1)} frames/s processed while sending ${rate}/s, server CPU ${(cpu * 100).toFixed(0)}% (window: ${JSON.stringify(window)})`,
      )
      if (window.dropped === 0)
        console.warn(`${size}²: nothing dropped: the sender was not faster than the server`)
      return { fps, rate, cpu, ...window }
    }
    // Each size: a probe series at a rate near what the server manages (the first one also starts
    // the workers and loads the model), then the measured one at twice the probe's rate, so the
    // sender is faster than the model but the machine's two cores are not spent on dropping.
    const probeThenMeasure = async (size: 256 | 512, probeRate: number) => {
      const probe = await sustained(size, probeRate).catch((error) => {
        throw new Error(`the ${size}² probe series failed: ${error.message}\n${server.output()}`)
      })
      return sustained(size, round(Math.max(2 * probe.fps, 2), 1))
    }
    const fps256 = await probeThenMeasure(256, 30)
    const fps512 = await probeThenMeasure(512, 10)

    // ── Frame → event latency at a rate the server keeps up with ──
    const rules = await admin.request('PUT', `${streamPath}/rules`, {
      rules: [
        {
          name: 'every frame',
          condition: { metric: 'count', op: '>=', value: 0 },
          action: 'flag',
        },
      ],
    })
    if (rules.status !== 200) throw new Error(`rules refused: ${JSON.stringify(rules.body)}`)
    const latencyRate = round(Math.max(1, fps256.fps * 0.65), 1)
    const arrivals: { frame: number; at: number; serverMs: number }[] = []
    let latencyStopped = false
    const latencyBefore = await counters()
    const latencyRun = await series(
      'latency',
      256,
      latencyRate,
      () => latencyStopped,
      (m, at) => {
        if (m.type === 'event' && m.event.seriesId === 'latency')
          arrivals.push({ frame: m.event.frame, at, serverMs: m.event.latencyMs })
      },
    )
    await sleep(options.latencySeconds * 1000)
    latencyStopped = true
    await latencyRun.done
    const latencyWindow = delta(latencyBefore, await counters())
    // The first two seconds are warm-up.
    const skip = Math.ceil(latencyRate * 2)
    const measured = arrivals.filter((a) => a.frame >= skip)
    const latencies = measured.map((a) => a.at - latencyRun.sentAt.get(a.frame)!)
    if (latencies.length === 0) throw new Error('no events arrived in the latency phase')
    console.log(
      `latency at ${latencyRate}/s: p50 ${median(latencies).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms over ${latencies.length} frames (${JSON.stringify(latencyWindow)})`,
    )

    // ── Memory at twice the sustainable rate ──
    const rssRate = round(fps256.fps * 2, 1)
    const samples: { t: number; mb: number }[] = []
    let rssStopped = false
    const rssBefore = await counters()
    const started = performance.now()
    const rssRun = await series('memory', 256, rssRate, () => rssStopped)
    const sampler = setInterval(
      () => samples.push({ t: (performance.now() - started) / 1000, mb: rssMb(pid) }),
      options.rssSampleSeconds * 1000,
    )
    await sleep(options.rssSeconds * 1000)
    clearInterval(sampler)
    rssStopped = true
    await rssRun.done
    const rssWindow = delta(rssBefore, await counters())
    const afterWarmup = samples.filter((s) => s.t >= options.rssWarmupSeconds)
    const first = afterWarmup
      .filter((s) => s.t < options.rssWarmupSeconds + options.rssWindowSeconds)
      .map((s) => s.mb)
    const last = afterWarmup
      .filter((s) => s.t >= options.rssSeconds - options.rssWindowSeconds)
      .map((s) => s.mb)
    if (first.length === 0 || last.length === 0) throw new Error('too few RSS samples')
    const growth = median(last) - median(first)
    const all = afterWarmup.map((s) => s.mb)
    console.log(
      `RSS over ${options.rssSeconds} s at ${rssRate}/s: ${median(first).toFixed(0)} → ${median(last).toFixed(0)} MB (growth ${growth.toFixed(1)} MB, min ${Math.min(...all).toFixed(0)}, max ${Math.max(...all).toFixed(0)}; ${JSON.stringify(rssWindow)})`,
    )
    const verdict = (name: string, ok: boolean) => console.log(`${ok ? 'meets' : 'MISSES'} ${name}`)
    verdict('stream_fps_256 ≥ 15', fps256.fps >= 15)
    verdict('frame_to_event_ms_p99 ≤ 200', quantile(latencies, 0.99) <= 200)
    verdict('stream_rss_growth_mb ≤ 50', growth <= 50)

    return {
      stream_fps_256: round(fps256.fps, 1),
      stream_fps_512: round(fps512.fps, 1),
      frame_to_event_ms_p50: round(median(latencies), 1),
      frame_to_event_ms_p99: round(quantile(latencies, 0.99), 1),
      stream_rss_growth_mb: round(growth, 1),
      fps_256_send_rate: fps256.rate,
      fps_256_received: fps256.received,
      fps_256_processed: fps256.processed,
      fps_256_dropped: fps256.dropped,
      fps_256_server_cpu: round(fps256.cpu, 2),
      fps_512_send_rate: fps512.rate,
      fps_512_received: fps512.received,
      fps_512_processed: fps512.processed,
      fps_512_dropped: fps512.dropped,
      fps_512_server_cpu: round(fps512.cpu, 2),
      fps_window_s: options.fpsSeconds,
      latency_rate: latencyRate,
      latency_frames: latencies.length,
      latency_received: latencyWindow.received,
      latency_processed: latencyWindow.processed,
      latency_dropped: latencyWindow.dropped,
      latency_server_ms_p50: round(median(measured.map((a) => a.serverMs)), 1),
      latency_server_ms_p99: round(
        quantile(
          measured.map((a) => a.serverMs),
          0.99,
        ),
        1,
      ),
      rss_rate: rssRate,
      rss_seconds: options.rssSeconds,
      rss_first_window_mb: round(median(first), 1),
      rss_last_window_mb: round(median(last), 1),
      rss_min_mb: round(Math.min(...all), 1),
      rss_max_mb: round(Math.max(...all), 1),
      rss_received: rssWindow.received,
      rss_processed: rssWindow.processed,
      rss_dropped: rssWindow.dropped,
      stream_workers: options.workers,
      stream_threads_per_worker: options.threads,
      cpus: os.cpus().length,
    }
  } finally {
    await server.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
