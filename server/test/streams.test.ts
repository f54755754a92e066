// Live instrument streams end to end on a real server: the detector simulator over a real
// websocket, the project's model on onnxruntime in worker threads, rules → recorded events on
// the instrument and subscriber sockets, Keep → an image with suggestions in its document, and
// every refusal (token, malformed CBOR, wrong size, unknown series, a half-sent frame).
import net from 'node:net'
import { decode, encode } from 'cbor-x'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { listAnnotations } from '../../shared/doc/index.ts'
import type { FeedbackEvent, ServerMessage } from '../../shared/schemas/streams.ts'
import { simulateDetector, syntheticFrames } from '../src/streams/simulator.ts'
import { connect, eventually, synced, tokenFor } from './collabClients.ts'
import { ADMIN_PASSWORD, ApiClient, startTestServer, type TestServer } from './harness.ts'

let server: TestServer
let projectId: number
let token: string
const wsUrl = (path: string) => `${server.url.replace('http', 'ws')}${path}`

async function createStream(name: string, backpressure = 'latest', project = projectId) {
  const created = await server.admin.request('POST', `/api/projects/${project}/streams`, {
    name,
    backpressure,
  })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  return created.body.id as number
}

/** An instrument socket speaking raw CBOR; resolves once the server said `ready`. */
async function rawInstrument(streamId: number, bearer = token) {
  const ws = new WebSocket(wsUrl(`/streams/${streamId}/ingest`), {
    headers: { authorization: `Bearer ${bearer}` },
  })
  const messages: ServerMessage[] = []
  const waiters: { test: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = []
  ws.on('message', (data: Buffer) => {
    const message = decode(data) as ServerMessage
    messages.push(message)
    for (const waiter of [...waiters])
      if (waiter.test(message)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(message)
      }
  })
  const next = (test: (m: ServerMessage) => boolean) =>
    new Promise<ServerMessage>((resolve) => {
      const found = messages.find(test)
      if (found) {
        messages.splice(messages.indexOf(found), 1)
        resolve(found)
      } else
        waiters.push({
          test,
          resolve: (m) => {
            messages.splice(messages.indexOf(m), 1)
            resolve(m)
          },
        })
    })
  await next((m) => m.type === 'ready')
  return {
    ws,
    messages,
    next,
    send: (message: unknown) => ws.send(encode(message)),
    sendRaw: (bytes: Uint8Array | string) => ws.send(bytes),
  }
}

/** The HTTP status and body of a refused upgrade. */
function upgradeRefusal(path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const ws = new WebSocket(wsUrl(path), { headers })
    ws.on('open', () => reject(new Error('the upgrade was accepted')))
    ws.on('error', () => {})
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
  })
}

beforeAll(async () => {
  server = await startTestServer()
  projectId = (await server.admin.request('POST', '/api/projects', { name: 'Streams' })).body.id
  const created = await server.admin.request(
    'POST',
    `/api/projects/${projectId}/instrument-tokens`,
    { name: 'detector' },
  )
  expect(created.status).toBe(201)
  expect(created.body.token).toMatch(/^tsi_/)
  token = created.body.token
})

afterAll(() => server?.close())

describe('a 200-frame series from the detector simulator', () => {
  it('flags exactly the frames with a large object, events in order on both sockets, Keep makes an image with suggestions', async () => {
    const streamId = await createStream('detector 1', 'queue:200')
    const synthetic = syntheticFrames({
      width: 128,
      height: 128,
      count: 200,
      seed: 19,
      dtype: 'uint16',
      largeEvery: 10,
    })
    expect(synthetic.large.size).toBe(20)
    const threshold = Math.round((synthetic.largeArea + synthetic.normalMaxArea) / 2)
    const rules = await server.admin.request(
      'PUT',
      `/api/projects/${projectId}/streams/${streamId}/rules`,
      {
        rules: [
          {
            name: 'large nucleus',
            condition: { metric: 'object_area', op: '>=', value: threshold },
            action: 'flag',
          },
          {
            name: 'image it',
            condition: { metric: 'object_area', op: '>=', value: threshold },
            action: 'acquire',
          },
        ],
      },
    )
    expect(rules.status, JSON.stringify(rules.body)).toBe(200)
    const [flagRule, acquireRule] = rules.body.rules
    expect([flagRule.id, acquireRule.id]).toEqual([1, 2])

    // A subscriber script listening with the instrument token.
    const subscriber = new WebSocket(wsUrl(`/streams/${streamId}/events`), {
      headers: { authorization: `Bearer ${token}` },
    })
    const published: ServerMessage[] = []
    subscriber.on('message', (data) => published.push(JSON.parse(String(data))))
    await new Promise((resolve) => subscriber.once('open', resolve))

    const run = await simulateDetector({
      url: wsUrl(`/streams/${streamId}/ingest`),
      token,
      seriesId: 7,
      shape: [128, 128],
      dtype: 'uint16',
      channels: 1,
      pixelSize: { x: 0.5, y: 0.5 },
      frames: synthetic.frames.map((frame, i) => ({ ...frame, stage: { x: 100 * i, y: 50 } })),
      rate: 0,
    })
    await run.done
    const ended = run.messages.find((m) => m.type === 'ended')
    expect(ended).toMatchObject({
      series_id: 7,
      counters: { received: 200, processed: 200, dropped: 0, refused: 0, flagged: 20 },
    })
    expect(run.messages.find((m) => m.type === 'started')).toMatchObject({
      backpressure: 'queue:200',
    })

    const events = run.messages.flatMap((m) => (m.type === 'event' ? [m.event] : []))
    const flagged = events.filter((e) => e.action === 'flag').map((e) => e.frame)
    expect(flagged).toEqual([...synthetic.large].sort((a, b) => a - b))
    // In order: frame by frame, and within a frame in rule order; ids increase.
    expect(events.map((e) => e.frame)).toEqual(flagged.flatMap((frame) => [frame, frame]))
    expect(events.map((e) => e.action)).toEqual(flagged.flatMap(() => ['flag', 'acquire']))
    for (let i = 1; i < events.length; i++) expect(events[i].id).toBeGreaterThan(events[i - 1].id)
    for (const event of events) {
      expect(event.seriesId).toBe(7)
      expect(event.modelVersion.name).toBeTruthy()
      expect(event.targets.length).toBeGreaterThan(0)
    }
    const acquire = events.find((e) => e.action === 'acquire')!
    const mda = acquire.mda![0]
    const target = acquire.targets[0]
    expect(mda.index).toEqual({ t: acquire.frame, p: 0 })
    expect(mda.x_pos).toBeCloseTo(100 * acquire.frame + (target.centroid.x - 64) * 0.5)
    expect(mda.y_pos).toBeCloseTo(50 + (target.centroid.y - 64) * 0.5)

    // The subscriber got the same events as JSON, and the series' start and end.
    await eventually(
      () => published.some((m) => m.type === 'series' && m.state === 'ended'),
      10_000,
      'the subscriber to hear the end',
    )
    expect(published.flatMap((m) => (m.type === 'event' ? [m.event] : []))).toEqual(events)
    expect(published[0]).toEqual({ type: 'series', state: 'started', series_id: 7 })
    subscriber.close()

    // Recorded, and readable over REST.
    const recorded = await server.admin.request(
      'GET',
      `/api/projects/${projectId}/streams/${streamId}/events?limit=1000`,
    )
    expect(recorded.body.events as FeedbackEvent[]).toEqual(events)
    const after = await server.admin.request(
      'GET',
      `/api/projects/${projectId}/streams/${streamId}/events?after=${events[1].id}&limit=2`,
    )
    expect(after.body.events.map((e: FeedbackEvent) => e.id)).toEqual([events[2].id, events[3].id])

    const recent = await server.admin.request(
      'GET',
      `/api/projects/${projectId}/streams/${streamId}/frames?limit=50`,
    )
    expect(recent.body.frames).toHaveLength(50)
    expect(recent.body.frames.at(-1)).toMatchObject({ frame: 199, seq: 200 })
    const info = await server.admin.request('GET', `/api/projects/${projectId}/streams/${streamId}`)
    expect(info.body).toMatchObject({
      counters: { received: 200, processed: 200, flagged: 20, events: 40 },
      series: { seriesId: 7, endedAt: expect.any(String) },
      latest: { frame: 199 },
    })

    // The live picture of the newest frame, and a frame no longer held.
    const png = await server.admin.raw(
      'GET',
      `/api/projects/${projectId}/streams/${streamId}/frames/latest.png`,
    )
    expect(png.status).toBe(200)
    expect(png.headers.get('content-type')).toBe('image/png')
    const gone = await server.admin.request(
      'POST',
      `/api/projects/${projectId}/streams/${streamId}/series/7/frames/0/keep`,
    )
    expect(gone.status).toBe(410)
    expect(gone.body.error).toMatch(/no longer held/)

    // Keep the newest flagged frame (still held): an image with the detections as suggestions.
    const keptFrame = flagged.at(-1)!
    const keepPath = `/api/projects/${projectId}/streams/${streamId}/series/7/frames/${keptFrame}/keep`
    const kept = await server.admin.request('POST', keepPath)
    expect(kept.status, JSON.stringify(kept.body)).toBe(200)
    expect(kept.body).toMatchObject({ created: true })
    expect(kept.body.suggestions).toBeGreaterThan(0)
    const again = await server.admin.request('POST', keepPath)
    expect(again.body).toEqual({ imageId: kept.body.imageId, created: false, suggestions: 0 })
    const images = await server.admin.request('GET', `/api/projects/${projectId}/images`)
    const image = images.body.images.find((i: { id: number }) => i.id === kept.body.imageId)
    expect(image).toMatchObject({
      name: `detector 1 s7 f${keptFrame}.tif`,
      width: 128,
      height: 128,
    })
    const client = connect(
      server.url,
      kept.body.imageId,
      await tokenFor(server.url, 'admin', ADMIN_PASSWORD),
    )
    try {
      await synced(client)
      const annotations = listAnnotations(client.doc).parsed
      expect(annotations).toHaveLength(kept.body.suggestions)
      for (const annotation of annotations) {
        expect(annotation.kind).toBe('polygon')
        expect(annotation.origin).toMatchObject({
          type: 'model',
          modelVersion: acquire.modelVersion.name,
        })
      }
    } finally {
      client.destroy()
    }
    const summaries = await server.admin.request(
      'GET',
      `/api/projects/${projectId}/streams/${streamId}/frames?limit=600`,
    )
    expect(
      summaries.body.frames.find((f: { frame: number }) => f.frame === keptFrame).keptImageId,
    ).toBe(kept.body.imageId)
  }, 240_000)
})
