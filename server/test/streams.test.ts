// Live instrument streams end to end on a real server: the detector simulator over a real
// websocket, the project's model on onnxruntime in worker threads, rules → recorded events on
// the instrument and subscriber sockets, Keep → an image with suggestions in its document, and
// every refusal (token, malformed CBOR, wrong size, unknown series, a half-sent frame).
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
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
    // The newest few (what the live view opens with), still oldest first.
    const newest = await server.admin.request(
      'GET',
      `/api/projects/${projectId}/streams/${streamId}/events?newest=true&limit=3`,
    )
    expect(newest.body.events).toEqual(events.slice(-3))

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

describe('refusals', () => {
  it('refuses a missing, invalid or revoked token (401), another project’s token (403), an unknown stream (404), with a JSON error', async () => {
    const streamId = await createStream('refusals')
    const path = `/streams/${streamId}/ingest`
    const none = await upgradeRefusal(path, {})
    expect(none.status).toBe(401)
    expect(JSON.parse(none.body).error).toMatch(/instrument token/)
    const invalid = await upgradeRefusal(path, { authorization: 'Bearer tsi_not-a-token' })
    expect(invalid.status).toBe(401)
    expect(JSON.parse(invalid.body).error).toMatch(/unknown or revoked/)
    await expect(
      simulateDetector({
        url: wsUrl(path),
        token: 'tsi_wrong',
        seriesId: 1,
        shape: [8, 8],
        dtype: 'uint8',
        channels: 1,
        frames: [],
        rate: 0,
      }),
    ).rejects.toThrow(/HTTP 401/)

    const other = (await server.admin.request('POST', '/api/projects', { name: 'Other' })).body.id
    const otherToken = (
      await server.admin.request('POST', `/api/projects/${other}/instrument-tokens`, {
        name: 'elsewhere',
      })
    ).body
    const foreign = await upgradeRefusal(path, { authorization: `Bearer ${otherToken.token}` })
    expect(foreign.status).toBe(403)
    expect(JSON.parse(foreign.body).error).toMatch(/not for this stream/)
    const unknown = await upgradeRefusal('/streams/999999/ingest', {
      authorization: `Bearer ${token}`,
    })
    expect(unknown.status).toBe(404)

    // Revoked: refused from then on, and an open connection of that token is closed.
    const revocable = (
      await server.admin.request('POST', `/api/projects/${projectId}/instrument-tokens`, {
        name: 'revocable',
      })
    ).body
    const connected = await rawInstrument(streamId, revocable.token)
    const closed = new Promise<number>((resolve) => connected.ws.once('close', resolve))
    const revoked = await server.admin.request(
      'DELETE',
      `/api/projects/${projectId}/instrument-tokens/${revocable.id}`,
    )
    expect(revoked.status).toBe(204)
    expect(await closed).toBe(4401)
    expect(
      (await upgradeRefusal(path, { authorization: `Bearer ${revocable.token}` })).status,
    ).toBe(401)
    const tokens = await server.admin.request('GET', `/api/projects/${projectId}/instrument-tokens`)
    const listed = tokens.body.tokens.find((t: { id: number }) => t.id === revocable.id)
    expect(listed.revokedAt).toEqual(expect.any(String))
    expect(JSON.stringify(tokens.body)).not.toContain(revocable.token)
  })

  it('answers each bad message with an error and keeps the connection and the other frames', async () => {
    const streamId = await createStream('bad messages', 'queue:10')
    const instrument = await rawInstrument(streamId)
    const error = () => instrument.next((m) => m.type === 'error')
    const shape = [16, 16] as [number, number]
    const frame = (image_id: number, data: unknown, series_id: unknown = 's') => ({
      type: 'image',
      series_id,
      image_id,
      data,
    })

    instrument.sendRaw(new Uint8Array([0xa1, 0x61, 0x74])) // a map cut short
    expect(await error()).toMatchObject({ error: expect.stringMatching(/malformed CBOR/) })
    instrument.sendRaw('{"type":"start"}')
    expect(await error()).toMatchObject({ error: expect.stringMatching(/binary CBOR/) })
    instrument.send([1, 2, 3])
    expect(await error()).toMatchObject({ error: expect.stringMatching(/CBOR map/) })
    instrument.send({ type: 'reboot' })
    expect(await error()).toMatchObject({ error: expect.stringMatching(/unknown message type/) })
    instrument.send(frame(0, new Uint16Array(256), 'nobody'))
    expect(await error()).toMatchObject({
      error: expect.stringMatching(/unknown series nobody/),
      series_id: 'nobody',
      image_id: 0,
    })
    instrument.send({ type: 'start', series_id: 's', shape, dtype: 'uint16', channels: 1 })
    expect(await instrument.next((m) => m.type === 'started')).toMatchObject({
      series_id: 's',
      backpressure: 'queue:10',
    })
    instrument.send({ type: 'start', series_id: 's', shape, dtype: 'uint16', channels: 1 })
    expect(await error()).toMatchObject({ error: expect.stringMatching(/already running/) })
    instrument.send({ type: 'start', series_id: 't', shape: [0, 5], dtype: 'uint16', channels: 1 })
    expect(await error()).toMatchObject({ error: expect.stringMatching(/invalid start: shape/) })
    // Larger than declared, a typed array of the wrong type, a byte string of the wrong length.
    instrument.send(frame(1, new Uint16Array(17 * 16)))
    expect(await error()).toMatchObject({
      error: expect.stringMatching(/272 samples; 16 × 16 × 1 = 256 expected/),
      series_id: 's',
      image_id: 1,
    })
    instrument.send(frame(2, new Float32Array(256)))
    expect(await error()).toMatchObject({
      error: expect.stringMatching(/Uint16Array/),
      image_id: 2,
    })
    instrument.send(frame(3, Buffer.alloc(511)))
    expect(await error()).toMatchObject({ image_id: 3 })

    // Good frames in each accepted form: a typed array, an (unaligned) byte string, tag 40.
    const samples = syntheticFrames({
      width: 16,
      height: 16,
      count: 3,
      seed: 3,
      dtype: 'uint16',
    }).frames.map((f) => f.samples as Uint16Array)
    instrument.send(frame(10, samples[0]))
    instrument.send(frame(11, Buffer.from(samples[1].buffer, samples[1].byteOffset, 512)))
    const { Tag } = await import('cbor-x')
    instrument.send(frame(12, new Tag([[16, 16], samples[2]], 40)))
    instrument.send({ type: 'end', series_id: 's' })
    const ended = await instrument.next((m) => m.type === 'ended')
    expect(ended).toMatchObject({
      series_id: 's',
      counters: { received: 3, processed: 3, dropped: 0, refused: 4 },
    })
    instrument.send({ type: 'end', series_id: 's' })
    expect(await error()).toMatchObject({ error: expect.stringMatching(/unknown series s/) })
    expect(instrument.ws.readyState).toBe(WebSocket.OPEN)
    instrument.ws.close()
    const recent = await server.admin.request(
      'GET',
      `/api/projects/${projectId}/streams/${streamId}/frames`,
    )
    expect(recent.body.frames.map((f: { frame: number }) => f.frame)).toEqual([10, 11, 12])
    const info = await server.admin.request('GET', `/api/projects/${projectId}/streams/${streamId}`)
    expect(info.body.counters).toMatchObject({ received: 3, processed: 3, refused: 11 })
  })

  it('survives a client that disconnects mid-frame', async () => {
    const streamId = await createStream('half a frame')
    const instrument = await rawInstrument(streamId)
    instrument.send({ type: 'start', series_id: 1, shape: [64, 64], dtype: 'uint8', channels: 1 })
    await instrument.next((m) => m.type === 'started')
    // A raw TCP client: the upgrade, then half of a 64 KiB binary frame, then gone.
    const socket = net.connect(server.server.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(
      `GET /streams/${streamId}/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    )
    const head = await new Promise<string>((resolve) =>
      socket.once('data', (d) => resolve(String(d))),
    )
    expect(head).toMatch(/^HTTP\/1.1 101/)
    const payload = encode({ type: 'image', series_id: 1, image_id: 0, data: Buffer.alloc(65536) })
    const header = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
    header.writeBigUInt64BE(BigInt(payload.length), 2)
    socket.write(Buffer.concat([header, payload.subarray(0, payload.length / 2)]))
    await new Promise((resolve) => setTimeout(resolve, 50))
    socket.destroy()
    await new Promise((resolve) => setTimeout(resolve, 100))
    // The server and the other instrument carry on.
    expect((await server.admin.request('GET', '/api/health')).status).toBe(200)
    instrument.send({ type: 'image', series_id: 1, image_id: 0, data: Buffer.alloc(4096, 9) })
    instrument.send({ type: 'end', series_id: 1 })
    expect(await instrument.next((m) => m.type === 'ended')).toMatchObject({
      counters: { received: 1, processed: 1, refused: 0 },
    })
    instrument.ws.close()
  })
})

describe('drop policies', () => {
  for (const backpressure of ['latest', 'queue:3']) {
    it(`${backpressure}: a flood is received = processed + dropped, the queue stays bounded`, async () => {
      const streamId = await createStream(`flood ${backpressure}`, 'queue:500')
      const { frames } = syntheticFrames({
        width: 256,
        height: 256,
        count: 60,
        seed: 5,
        dtype: 'uint16',
      })
      const run = await simulateDetector({
        url: wsUrl(`/streams/${streamId}/ingest`),
        token,
        seriesId: 'flood',
        shape: [256, 256],
        dtype: 'uint16',
        channels: 1,
        backpressure,
        frames,
        rate: 0,
      })
      await run.done
      expect(run.messages.find((m) => m.type === 'started')).toMatchObject({ backpressure })
      const ended = run.messages.find((m) => m.type === 'ended')
      if (ended?.type !== 'ended') throw new Error('no end')
      const { received, processed, dropped } = ended.counters
      expect(received).toBe(60)
      expect(processed + dropped).toBe(60)
      expect(dropped).toBeGreaterThan(0)
      // Frames left when the last arrived: at most the queue, plus the analyzer's workers.
      const recent = await server.admin.request(
        'GET',
        `/api/projects/${projectId}/streams/${streamId}/frames`,
      )
      const seqs = recent.body.frames.map((f: { seq: number }) => f.seq)
      expect(seqs).toEqual([...seqs].sort((a: number, b: number) => a - b))
      type Summary = { frame: number; receivedAt: string; processedAt: string }
      const processedFrames = recent.body.frames as Summary[]
      const last = processedFrames.at(-1)!
      expect(last.frame).toBe(59)
      // When the last frame arrived, at most the policy's waiting frames and the one in the
      // (single) worker were still to come out.
      const waiting = processedFrames.filter(
        (f) => f.frame < 59 && Date.parse(f.processedAt) > Date.parse(last.receivedAt),
      )
      expect(waiting.length).toBeLessThanOrEqual((backpressure === 'latest' ? 1 : 3) + 1)
    }, 120_000)
  }
})

describe('access', () => {
  it('deleting a project closes the sockets of its streams (4404) and its token stops working', async () => {
    const other = (await server.admin.request('POST', '/api/projects', { name: 'Short-lived' }))
      .body.id as number
    const otherToken = (
      await server.admin.request('POST', `/api/projects/${other}/instrument-tokens`, {
        name: 'gone soon',
      })
    ).body.token as string
    const streamId = await createStream('Doomed', 'latest', other)
    const instrument = await rawInstrument(streamId, otherToken)
    const closed = new Promise<number>((resolve) => instrument.ws.on('close', resolve))
    expect((await server.admin.request('DELETE', `/api/projects/${other}`)).status).toBe(204)
    expect(await closed).toBe(4404)
    const refusal = await upgradeRefusal(`/streams/${streamId}/ingest`, {
      authorization: `Bearer ${otherToken}`,
    })
    expect(refusal.status).toBe(401)
  })

  it('an instrument token is not a user: the user API answers 401', async () => {
    const client = ApiClient.withToken(server.url, token)
    for (const path of ['/api/projects', `/api/projects/${projectId}/streams`]) {
      const response = await client.request('GET', path)
      expect(response.status, path).toBe(401)
    }
  })

  it('a viewer reads streams but cannot create them or change rules (403); the events socket checks origin and membership', async () => {
    const streamId = await createStream('viewed')
    await server.admin.request('POST', '/api/users', {
      username: 'viewer',
      password: 'viewer-pw-1',
    })
    await server.admin.request('POST', `/api/projects/${projectId}/members`, {
      username: 'viewer',
      role: 'viewer',
    })
    const viewer = new ApiClient(server.url)
    await viewer.login('viewer', 'viewer-pw-1')
    expect((await viewer.request('GET', `/api/projects/${projectId}/streams`)).status).toBe(200)
    const create = await viewer.request('POST', `/api/projects/${projectId}/streams`, {
      name: 'mine',
    })
    expect(create.status).toBe(403)
    const rules = await viewer.request(
      'PUT',
      `/api/projects/${projectId}/streams/${streamId}/rules`,
      { rules: [] },
    )
    expect(rules.status).toBe(403)
    const keep = await viewer.request(
      'POST',
      `/api/projects/${projectId}/streams/${streamId}/series/1/frames/0/keep`,
    )
    expect(keep.status).toBe(403)
    const bad = await server.admin.request(
      'PUT',
      `/api/projects/${projectId}/streams/${streamId}/rules`,
      { rules: [{ name: 'x', condition: { metric: 'size', op: '>', value: 1 }, action: 'flag' }] },
    )
    expect(bad.status).toBe(400)
    expect(bad.body.error).toMatch(/metric/)

    // The events socket: a member's session from the app's own origin; not from another origin.
    const cookie = viewer.cookieHeader()
    const subscriber = new WebSocket(wsUrl(`/streams/${streamId}/events`), {
      headers: { cookie, origin: server.url },
    })
    await new Promise((resolve, reject) => {
      subscriber.once('open', resolve)
      subscriber.once('error', reject)
    })
    const closed = new Promise<number>((resolve) => subscriber.once('close', resolve))
    const foreign = await upgradeRefusal(`/streams/${streamId}/events`, {
      cookie,
      origin: 'https://evil.example',
    })
    expect(foreign.status).toBe(403)
    expect((await upgradeRefusal(`/streams/${streamId}/events`, {})).status).toBe(401)
    // A member removed from the project stops hearing its events.
    const viewerId = (
      await server.admin.request('GET', `/api/projects/${projectId}/members`)
    ).body.members.find((m: { username: string }) => m.username === 'viewer').userId
    const removed = await server.admin.request(
      'DELETE',
      `/api/projects/${projectId}/members/${viewerId}`,
    )
    expect(removed.status).toBe(204)
    expect(await closed).toBe(4403)
  })
})

describe('keeping flagged frames automatically', () => {
  it('keeps every flagged frame as an image when the stream says so', async () => {
    const streamId = await createStream('auto keep', 'queue:50')
    const patched = await server.admin.request(
      'PATCH',
      `/api/projects/${projectId}/streams/${streamId}`,
      { keepFlagged: true },
    )
    expect(patched.body.keepFlagged).toBe(true)
    const synthetic = syntheticFrames({
      width: 128,
      height: 128,
      count: 12,
      seed: 77,
      dtype: 'uint8',
      largeEvery: 4,
    })
    const threshold = Math.round((synthetic.largeArea + synthetic.normalMaxArea) / 2)
    await server.admin.request('PUT', `/api/projects/${projectId}/streams/${streamId}/rules`, {
      rules: [
        {
          name: 'big',
          condition: { metric: 'object_area', op: '>=', value: threshold },
          action: 'flag',
        },
      ],
    })
    const before = (await server.admin.request('GET', `/api/projects/${projectId}/images`)).body
      .images.length
    // The project live channel (server-sent events), as the Streams tab reads it.
    const live: { type: string; [key: string]: unknown }[] = []
    const abort = new AbortController()
    const channel = await fetch(`${server.url}/api/projects/${projectId}/events`, {
      headers: { cookie: server.admin.cookieHeader() },
      signal: abort.signal,
    })
    void (async () => {
      const decoder = new TextDecoder()
      let buffered = ''
      try {
        for await (const chunk of channel.body as unknown as AsyncIterable<Uint8Array>) {
          buffered += decoder.decode(chunk, { stream: true })
          let end = buffered.indexOf('\n\n')
          while (end >= 0) {
            const line = buffered.slice(0, end)
            buffered = buffered.slice(end + 2)
            if (line.startsWith('data: ')) live.push(JSON.parse(line.slice(6)))
            end = buffered.indexOf('\n\n')
          }
        }
      } catch {}
    })()
    const run = await simulateDetector({
      url: wsUrl(`/streams/${streamId}/ingest`),
      token,
      seriesId: 'auto',
      shape: [128, 128],
      dtype: 'uint8',
      channels: 1,
      frames: synthetic.frames,
      rate: 0,
    })
    await run.done
    let kept: { frame: number; keptImageId: number | null }[] = []
    for (let i = 0; i < 100 && kept.length < synthetic.large.size; i++) {
      const frames = await server.admin.request(
        'GET',
        `/api/projects/${projectId}/streams/${streamId}/frames`,
      )
      kept = frames.body.frames.filter((f: { keptImageId: number | null }) => f.keptImageId)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(kept.map((f) => f.frame)).toEqual([...synthetic.large])
    const images = (await server.admin.request('GET', `/api/projects/${projectId}/images`)).body
      .images
    expect(images.length).toBe(before + synthetic.large.size)
    const info = await server.admin.request('GET', `/api/projects/${projectId}/streams/${streamId}`)
    expect(info.body.counters).toMatchObject({ flagged: 3, kept: 3 })
    await eventually(
      () => live.some((e) => e.type === 'stream' && (e.stream as any)?.series?.endedAt),
      10_000,
      'the series end on the live channel',
    )
    abort.abort()
    const ours = live.filter(
      (e) => e.streamId === streamId || (e.event as any)?.streamId === streamId,
    )
    const batched = ours.flatMap((e) =>
      e.type === 'stream-frames' ? (e.frames as { frame: number }[]) : [],
    )
    expect(new Set(batched.map((f) => f.frame))).toEqual(new Set(synthetic.frames.map((_, i) => i)))
    expect(ours.filter((e) => e.type === 'stream-event')).toHaveLength(3)
    expect(ours.some((e) => e.type === 'stream' && (e.stream as any)?.connected === 1)).toBe(true)
  }, 120_000)
})

describe('live model swap', () => {
  it('a newly promoted version runs from the next frame on, on the same connection', async () => {
    // Two base versions (the shipped one under two names): the project starts on one.
    const modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-models-'))
    for (const name of ['v0', 'v0-copy'])
      fs.cpSync(path.resolve(import.meta.dirname, '../../models/v0'), path.join(modelsDir, name), {
        recursive: true,
      })
    const swap = await startTestServer({ modelsDir })
    try {
      const project = (await swap.admin.request('POST', '/api/projects', { name: 'Swap' })).body.id
      const versions = (await swap.admin.request('GET', `/api/projects/${project}/models`)).body
      const current = (await swap.admin.request('GET', `/api/projects/${project}/model`)).body
      const currentId = current.versionId as number
      const other = versions.versions.find((v: { id: number }) => v.id !== currentId)
      expect(other, JSON.stringify(versions)).toBeTruthy()
      const instrumentToken = (
        await swap.admin.request('POST', `/api/projects/${project}/instrument-tokens`, {
          name: 'scope',
        })
      ).body.token
      const streamId = (
        await swap.admin.request('POST', `/api/projects/${project}/streams`, {
          name: 'scope',
          backpressure: 'queue:10',
        })
      ).body.id
      const ws = new WebSocket(`${swap.url.replace('http', 'ws')}/streams/${streamId}/ingest`, {
        headers: { authorization: `Bearer ${instrumentToken}` },
      })
      const messages: ServerMessage[] = []
      ws.on('message', (data: Buffer) => messages.push(decode(data)))
      await eventually(() => messages.some((m) => m.type === 'ready'), 10_000, 'ready')
      const { frames } = syntheticFrames({
        width: 64,
        height: 64,
        count: 2,
        seed: 1,
        dtype: 'uint8',
      })
      const series = async (id: string) => {
        ws.send(
          encode({ type: 'start', series_id: id, shape: [64, 64], dtype: 'uint8', channels: 1 }),
        )
        for (const [i, frame] of frames.entries())
          ws.send(encode({ type: 'image', series_id: id, image_id: i, data: frame.samples }))
        ws.send(encode({ type: 'end', series_id: id }))
        await eventually(
          () => messages.some((m) => m.type === 'ended' && m.series_id === id),
          30_000,
          `series ${id} to end`,
        )
      }
      await series('before')
      const promoted = await swap.admin.request(
        'POST',
        `/api/projects/${project}/models/${other.id}/promote`,
      )
      expect(promoted.status, JSON.stringify(promoted.body)).toBe(200)
      await series('after')
      ws.close()
      const recent = await swap.admin.request(
        'GET',
        `/api/projects/${project}/streams/${streamId}/frames`,
      )
      const used = recent.body.frames.map(
        (f: { seriesId: string; modelVersion: { id: number } }) => [f.seriesId, f.modelVersion.id],
      )
      expect(used).toEqual([
        ['before', currentId],
        ['before', currentId],
        ['after', other.id],
        ['after', other.id],
      ])
    } finally {
      await swap.close()
      fs.rmSync(modelsDir, { recursive: true, force: true })
    }
  }, 120_000)
})
