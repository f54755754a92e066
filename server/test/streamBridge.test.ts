// The Stream V2 bridge end to end: a Python "detector" PUSHes a Stream V2 series (CBOR, tag 40 +
// typed arrays, the self-describe tag, pixel size in metres, one compressed frame the bridge must
// skip) into ZeroMQ on loopback; `python3 -m tessera_trainer.bridge` pulls it and forwards it to
// a real server's ingest socket; the server runs the model, and the bridge prints the events.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FeedbackEvent } from '../../shared/schemas/streams.ts'
import { syntheticFrames } from '../src/streams/simulator.ts'
import { startTestServer, type TestServer } from './harness.ts'

const PYTHON = '/usr/bin/python3'
const TRAINER = path.resolve(import.meta.dirname, '../../trainer')
const missing = (() => {
  const probe = spawnSync(PYTHON, ['-c', 'import zmq, cbor2, websocket, numpy'], {
    encoding: 'utf8',
  })
  if (probe.error) return `${PYTHON} cannot run (${probe.error.message})`
  if (probe.status !== 0)
    return `${PYTHON} cannot import zmq, cbor2, websocket and numpy (apt-get install python3-zmq python3-cbor2 python3-websocket): ${probe.stderr.trim().split('\n').at(-1)}`
  return null
})()
if (missing) console.warn(`streamBridge.test.ts skipped: ${missing}`)

const FRAMES = 20
const SIZE = 128

/**
 * A detector in Stream V2 form: binds PUSH (or, as a tap, PUB) on a free loopback port, prints
 * the endpoint, then sends start, the frames of a raw uint16 file (tag 40 [[h, w], tag 69]), one
 * compressed frame and end. PUSH holds the messages until the bridge connects.
 */
const DETECTOR = `
import sys, datetime, cbor2, zmq
from cbor2 import CBORTag
frames_file, count, size, pattern = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
raw = open(frames_file, 'rb').read()
frame_bytes = size * size * 2
context = zmq.Context()
push = context.socket(zmq.PUSH if pattern == 'push' else zmq.XPUB)
push.setsockopt(zmq.LINGER, 20000)
push.bind('tcp://127.0.0.1:*')
print(push.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
if pattern == 'pub':
    push.recv()  # a tap: wait until the bridge has subscribed (PUB drops what nobody hears)
def send(message):
    push.send(cbor2.dumps(CBORTag(55799, message)))
arm = datetime.datetime.now(datetime.timezone.utc)
send({'type': 'start', 'series_id': 42, 'series_unique_id': 'bridge-test', 'arm_date': arm,
      'image_size_x': size, 'image_size_y': size, 'image_dtype': 'uint16', 'channels': ['threshold_1'],
      'x_pixel_size': 75e-6, 'y_pixel_size': 75e-6, 'count_time': 0.01, 'user_data': {'sample': 'nuclei'}})
for i in range(count):
    data = raw[i * frame_bytes:(i + 1) * frame_bytes]
    send({'type': 'image', 'series_id': 42, 'series_unique_id': 'bridge-test', 'image_id': i,
          'real_time': [10, 1000], 'start_time': [i, 100], 'stop_time': [i + 1, 100],
          'data': {'threshold_1': CBORTag(40, [[size, size], CBORTag(69, data)])}})
send({'type': 'image', 'series_id': 42, 'image_id': count,
      'data': {'threshold_1': CBORTag(40, [[size, size], CBORTag(56500, ['bslz4', 2, b'0000'])])}})
send({'type': 'end', 'series_id': 42, 'series_unique_id': 'bridge-test'})
push.close()
context.term()
`

function collect(child: ChildProcess) {
  const output = { stdout: '', stderr: '' }
  child.stdout?.on('data', (chunk) => {
    output.stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output.stderr += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { output, exited }
}

/** The detector script on a raw frames file; resolves with its endpoint once bound. */
async function startDetector(framesFile: string, count: number, pattern: 'push' | 'pub') {
  const detector = spawn(
    PYTHON,
    ['-c', DETECTOR, framesFile, String(count), String(SIZE), pattern],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const run = collect(detector)
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no endpoint: ${run.output.stderr}`)), 20_000)
    detector.stdout?.on('data', () => {
      if (run.output.stdout.includes('\n')) {
        clearTimeout(timer)
        resolve(run.output.stdout.split('\n')[0].trim())
      }
    })
  })
  expect(endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/)
  return { detector, endpoint, ...run }
}

/** Runs the bridge until it exits (after one series) and gives its status and output. */
async function runBridge(args: string[]) {
  const bridge = spawn(PYTHON, ['-m', 'tessera_trainer.bridge', '--max-series', '1', ...args], {
    cwd: TRAINER,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const run = collect(bridge)
  const timer = setTimeout(() => bridge.kill('SIGKILL'), 50_000)
  const code = await run.exited
  clearTimeout(timer)
  const report = `bridge stdout:\n${run.output.stdout}\nbridge stderr:\n${run.output.stderr}`
  return { code, report, ...run.output }
}

describe.skipIf(missing !== null)(
  'the Stream V2 bridge (python3 -m tessera_trainer.bridge)',
  () => {
    let server: TestServer
    let workDir: string
    let projectId: number
    let token: string
    const children: ChildProcess[] = []
    const synthetic = syntheticFrames({
      width: SIZE,
      height: SIZE,
      count: FRAMES,
      seed: 23,
      dtype: 'uint16',
      largeEvery: 5,
    })
    let framesFile: string

    beforeAll(async () => {
      server = await startTestServer()
      workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bridge-'))
      projectId = (await server.admin.request('POST', '/api/projects', { name: 'Bridge' })).body.id
      token = (
        await server.admin.request('POST', `/api/projects/${projectId}/instrument-tokens`, {
          name: 'bridge',
        })
      ).body.token
      framesFile = path.join(workDir, 'frames.u16')
      fs.writeFileSync(
        framesFile,
        Buffer.concat(
          synthetic.frames.map((frame) => {
            const samples = frame.samples as Uint16Array
            return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)
          }),
        ),
      )
    })
    afterAll(async () => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
      await server?.close()
      if (workDir) fs.rmSync(workDir, { recursive: true, force: true })
    })

    async function createStream(name: string, rules: unknown[]) {
      const created = await server.admin.request('POST', `/api/projects/${projectId}/streams`, {
        name,
        backpressure: 'queue:100',
      })
      expect(created.status, JSON.stringify(created.body)).toBe(201)
      const streamId = created.body.id as number
      const saved = await server.admin.request(
        'PUT',
        `/api/projects/${projectId}/streams/${streamId}/rules`,
        { rules },
      )
      expect(saved.status, JSON.stringify(saved.body)).toBe(200)
      return { streamId, ingest: `${server.url.replace('http', 'ws')}/streams/${streamId}/ingest` }
    }

    it('forwards a pulled Stream V2 series, the server flags the large frames, the bridge prints the events', async () => {
      const threshold = Math.round((synthetic.largeArea + synthetic.normalMaxArea) / 2)
      const { streamId, ingest } = await createStream('detector via bridge', [
        {
          name: 'large nucleus',
          condition: { metric: 'object_area', op: '>=', value: threshold },
          action: 'flag',
        },
      ])
      const detectorRun = await startDetector(framesFile, FRAMES, 'push')
      children.push(detectorRun.detector)
      const bridgeRun = await runBridge([
        '--source',
        detectorRun.endpoint,
        '--url',
        ingest,
        '--token',
        token,
      ])
      const { code, report } = bridgeRun
      expect(code, report).toBe(0)
      expect(await detectorRun.exited, detectorRun.output.stderr).toBe(0)

      // The bridge printed the server's messages as JSON lines: ready, started, events, ended.
      const printed = bridgeRun.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line))
      expect(printed[0]).toMatchObject({ type: 'ready', stream_id: streamId })
      expect(printed[1]).toMatchObject({
        type: 'started',
        series_id: 42,
        backpressure: 'queue:100',
      })
      const ended = printed.at(-1)
      expect(ended, report).toMatchObject({
        type: 'ended',
        series_id: 42,
        counters: { received: FRAMES, processed: FRAMES, dropped: 0, refused: 0 },
      })
      const events = printed.filter((m) => m.type === 'event').map((m) => m.event as FeedbackEvent)
      expect(events.map((e) => e.frame)).toEqual([...synthetic.large].sort((a, b) => a - b))
      for (const event of events) {
        expect(event).toMatchObject({
          streamId,
          seriesId: 42,
          action: 'flag',
          ruleName: 'large nucleus',
        })
      }
      // The compressed frame was refused by the bridge with a clear line, not sent.
      expect(bridgeRun.stderr).toMatch(
        /compressed data \('bslz4', CBOR tag 56500\) is not supported/,
      )

      // The server's view agrees: the series with the converted start, its counters, the events.
      const info = (
        await server.admin.request('GET', `/api/projects/${projectId}/streams/${streamId}`)
      ).body
      expect(info.series).toMatchObject({
        seriesId: 42,
        width: SIZE,
        height: SIZE,
        dtype: 'uint16',
        channels: 1,
        backpressure: 'queue:100',
      })
      expect(info.series.pixelSize.x).toBeCloseTo(75)
      expect(info.counters).toMatchObject({ processed: FRAMES, flagged: synthetic.large.size })
      const recorded = await server.admin.request(
        'GET',
        `/api/projects/${projectId}/streams/${streamId}/events?limit=100`,
      )
      expect((recorded.body.events as FeedbackEvent[]).map((e) => e.id)).toEqual(
        events.map((e) => e.id),
      )
      const frames = (
        await server.admin.request('GET', `/api/projects/${projectId}/streams/${streamId}/frames`)
      ).body.frames as { frame: number; acquiredAt: string | null }[]
      // acquired_at = arm_date + start_time: within a minute of now.
      const latest = frames.at(-1)
      expect(latest?.frame).toBe(FRAMES - 1)
      expect(Math.abs(Date.parse(latest?.acquiredAt ?? '') - Date.now())).toBeLessThan(60_000)
    })

    it('taps a PUB copy with --sub and writes the events to --events-out', async () => {
      const { streamId, ingest } = await createStream('tapped detector', [
        { name: 'every frame', condition: { metric: 'count', op: '>=', value: 0 }, action: 'flag' },
      ])
      const count = 6
      const detectorRun = await startDetector(framesFile, count, 'pub')
      children.push(detectorRun.detector)
      const eventsFile = path.join(workDir, 'events.jsonl')
      const bridgeRun = await runBridge([
        '--source',
        detectorRun.endpoint,
        '--sub',
        '--url',
        ingest,
        '--token',
        token,
        '--events-out',
        eventsFile,
        '--backpressure',
        'queue:50',
      ])
      expect(bridgeRun.code, bridgeRun.report).toBe(0)
      expect(await detectorRun.exited, detectorRun.output.stderr).toBe(0)
      expect(bridgeRun.stdout).toBe('')
      expect(bridgeRun.stderr).toMatch(/subscribed to tcp:/)
      const printed = fs
        .readFileSync(eventsFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line))
      expect(printed[1]).toMatchObject({ type: 'started', backpressure: 'queue:50' })
      expect(printed.filter((m) => m.type === 'event').map((m) => m.event.frame)).toEqual([
        0, 1, 2, 3, 4, 5,
      ])
      expect(printed.at(-1)).toMatchObject({
        type: 'ended',
        counters: { received: count, processed: count, dropped: 0 },
      })
      const info = await server.admin.request(
        'GET',
        `/api/projects/${projectId}/streams/${streamId}`,
      )
      expect(info.body.counters.processed).toBe(count)
    })
  },
)
