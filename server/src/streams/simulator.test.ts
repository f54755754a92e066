import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { decode, encode } from 'cbor-x'
import sharp from 'sharp'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { computeChannelStats, normalizeImage } from '../../../shared/ml/normalization.ts'
import { emptyCounters, type ServerMessage } from '../../../shared/schemas/streams.ts'
import { loadSegmenter, SHIPPED_MODEL_DIR } from '../models/loadModel.ts'
import { folderFrames, simulateDetector, syntheticFrames } from './simulator.ts'

const FLUO = path.resolve(import.meta.dirname, '../../../../shared/data/dsb2018_fluo_public')

describe('syntheticFrames', () => {
  it('is deterministic, marks every largeEvery-th frame and converts dtypes', () => {
    const a = syntheticFrames({
      width: 96,
      height: 80,
      count: 6,
      seed: 3,
      dtype: 'uint16',
      largeEvery: 3,
    })
    const b = syntheticFrames({
      width: 96,
      height: 80,
      count: 6,
      seed: 3,
      dtype: 'uint16',
      largeEvery: 3,
    })
    expect([...a.large]).toEqual([2, 5])
    expect(a.normalMaxArea).toBeLessThan(a.largeArea)
    for (let i = 0; i < 6; i++) expect(a.frames[i].samples).toEqual(b.frames[i].samples)
    const other = syntheticFrames({ width: 96, height: 80, count: 1, seed: 4, dtype: 'uint16' })
    expect(other.frames[0].samples).not.toEqual(a.frames[0].samples)
    expect(other.large.size).toBe(0)

    const u16 = a.frames[0].samples as Uint16Array
    const u8 = syntheticFrames({ width: 96, height: 80, count: 1, seed: 3, dtype: 'uint8' })
    const f32 = syntheticFrames({ width: 96, height: 80, count: 1, seed: 3, dtype: 'float32' })
    const rgb = syntheticFrames({
      width: 96,
      height: 80,
      count: 1,
      seed: 3,
      dtype: 'uint32',
      channels: 3,
    })
    expect(u8.frames[0].samples).toBeInstanceOf(Uint8Array)
    expect(u8.frames[0].samples[100]).toBe(u16[100] >> 8)
    expect(f32.frames[0].samples).toBeInstanceOf(Float32Array)
    expect(f32.frames[0].samples[100]).toBeCloseTo(u16[100] / 65535, 6)
    expect(rgb.frames[0].samples).toBeInstanceOf(Uint32Array)
    expect(rgb.frames[0].samples.length).toBe(96 * 80 * 3)
    expect([...rgb.frames[0].samples.slice(300, 303)]).toEqual(Array(3).fill(u16[100] * 65536))
  })

  it('flags exactly the large frames under the shipped model with object_area ≥ T', async () => {
    const size = 256
    const count = 200
    const { frames, large, largeArea, normalMaxArea } = syntheticFrames({
      width: size,
      height: size,
      count,
      seed: 1,
      dtype: 'uint16',
      largeEvery: 10,
    })
    expect(large.size).toBe(20)
    const segmenter = await loadSegmenter(SHIPPED_MODEL_DIR, 1)
    const modelChannels = segmenter.card.input.channels
    const threshold = (normalMaxArea + largeArea) / 2
    const flagged = new Set<number>()
    let largestNormal = 0
    let smallestLarge = Number.POSITIVE_INFINITY
    for (const [index, frame] of frames.entries()) {
      // As the server's analyzer and evaluateModel's encodeLabelledImage: the frame's own
      // percentiles, then the model's channels.
      const samples = frame.samples as Uint16Array
      const data = normalizeImage(
        samples,
        size,
        size,
        1,
        [computeChannelStats(samples)],
        modelChannels,
      )
      const encoded = await segmenter.encode({
        data,
        channels: modelChannels,
        height: size,
        width: size,
      })
      const { proposals } = segmenter.propose(encoded)
      expect(proposals.length).toBeGreaterThanOrEqual(5)
      const biggest = Math.max(0, ...proposals.map((p) => p.area))
      if (large.has(index)) smallestLarge = Math.min(smallestLarge, biggest)
      else largestNormal = Math.max(largestNormal, biggest)
      if (proposals.some((p) => p.area >= threshold)) flagged.add(index)
    }
    await segmenter.release()
    expect([...flagged].sort((a, b) => a - b)).toEqual([...large].sort((a, b) => a - b))
    // With margin: every T between the two bounds works, not only the midpoint.
    expect(largestNormal).toBeLessThan(normalMaxArea)
    expect(smallestLarge).toBeGreaterThan(largeArea)
  }, 180_000)
})

describe('folderFrames', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
  })

  it('reads images grey, centre-cropped or padded, scaled to the dtype', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-folder-frames-'))
    dirs.push(dir)
    fs.mkdirSync(path.join(dir, 'images'))
    // 8-bit: a 6×4 ramp with value 10·x + y.
    const ramp = Buffer.alloc(6 * 4)
    for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) ramp[y * 6 + x] = 10 * x + y
    await sharp(ramp, { raw: { width: 6, height: 4, channels: 1 } })
      .png()
      .toFile(path.join(dir, 'images', 'a.png'))
    fs.writeFileSync(path.join(dir, 'images', 'notes.txt'), 'not an image')

    const [cropped] = await folderFrames(dir, { shape: [2, 2], dtype: 'uint8', channels: 1 })
    // Centre 2×2 of a 6×4 image: x 2..3, y 1..2.
    expect([...cropped.samples]).toEqual([21, 31, 22, 32])
    expect(cropped.metadata).toEqual({ file: 'a.png' })

    const [padded] = await folderFrames(dir, { shape: [6, 8], dtype: 'uint16', channels: 2 })
    expect(padded.samples).toBeInstanceOf(Uint16Array)
    expect(padded.samples.length).toBe(6 * 8 * 2)
    // Offset −1: the image starts at (1, 1); (0, 0) is padding.
    expect(padded.samples[0]).toBe(0)
    const at = (x: number, y: number) => padded.samples[(y * 8 + x) * 2]
    expect(at(1, 1)).toBe(0)
    expect(at(2, 1)).toBe(10 * 257)
    expect(at(6, 4)).toBe((50 + 3) * 257)
    expect(padded.samples[(4 * 8 + 6) * 2 + 1]).toBe(at(6, 4))

    await expect(
      folderFrames(path.join(dir, 'missing'), { shape: [2, 2], dtype: 'uint8', channels: 1 }),
    ).rejects.toThrow(/not a folder/)
  })

  it.skipIf(!fs.existsSync(FLUO))('reads the shared fluorescence images', async () => {
    const frames = await folderFrames(FLUO, {
      shape: [256, 256],
      dtype: 'float32',
      channels: 1,
      limit: 3,
    })
    expect(frames).toHaveLength(3)
    for (const frame of frames) {
      expect(frame.samples.length).toBe(256 * 256)
      expect(Math.max(...frame.samples)).toBeLessThanOrEqual(1)
      expect(Math.max(...frame.samples)).toBeGreaterThan(0)
    }
  })
})

describe('simulateDetector', () => {
  const servers: WebSocketServer[] = []
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve))
  })

  /** A stand-in ingest socket that speaks the contract: ready, started, an event per frame, ended. */
  async function fakeIngest(options: { token: string }) {
    const received: Record<string, unknown>[] = []
    const receivedAt: number[] = []
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      verifyClient: (info, callback) =>
        info.req.headers.authorization === `Bearer ${options.token}`
          ? callback(true)
          : callback(false, 401, 'invalid instrument token'),
    })
    servers.push(server)
    await new Promise((resolve) => server.once('listening', resolve))
    server.on('connection', (socket) => {
      const send = (message: ServerMessage) => socket.send(encode(message))
      send({ type: 'ready', stream_id: 7, model_version: 'v0' })
      socket.on('message', (data) => {
        const message = decode(data as Buffer) as Record<string, unknown>
        received.push(message)
        receivedAt.push(performance.now())
        if (message.type === 'start' && message.series_id === 'refused')
          send({ type: 'error', error: 'shape: too large', series_id: 'refused' })
        else if (message.type === 'start')
          send({ type: 'started', series_id: message.series_id as string, backpressure: 'latest' })
        if (message.type === 'image')
          send({
            type: 'error',
            error: 'just a marker',
            series_id: message.series_id as string,
            image_id: message.image_id as number,
          })
        if (message.type === 'end') {
          send({
            type: 'ended',
            series_id: message.series_id as string,
            counters: emptyCounters(),
          })
        }
      })
    })
    const { port } = server.address() as AddressInfo
    return { url: `ws://127.0.0.1:${port}/streams/7/ingest`, received, receivedAt }
  }

  it('sends start, paced CBOR images with ids 0.. and end, and resolves on ended', async () => {
    const ingest = await fakeIngest({ token: 'tsi_good' })
    const { frames } = syntheticFrames({
      width: 32,
      height: 24,
      count: 5,
      seed: 2,
      dtype: 'uint16',
    })
    frames[1].stage = { x: 10, y: -4 }
    const seen: string[] = []
    const run = await simulateDetector({
      url: ingest.url,
      token: 'tsi_good',
      seriesId: 'run-1',
      shape: [24, 32],
      dtype: 'uint16',
      channels: 1,
      pixelSize: { x: 0.65, y: 0.65 },
      backpressure: 'queue:4',
      metadata: { objective: '20x' },
      frames,
      rate: 20,
      onMessage: (message) => seen.push(message.type),
    })
    await run.done
    expect(run.sent).toBe(5)
    expect([...run.sentAt.keys()]).toEqual([0, 1, 2, 3, 4])
    expect(seen).toEqual(['ready', 'started', 'error', 'error', 'error', 'error', 'error', 'ended'])
    expect(run.messages.map((m) => m.type)).toEqual(seen)

    const [start, ...rest] = ingest.received
    expect(start).toEqual({
      type: 'start',
      series_id: 'run-1',
      shape: [24, 32],
      dtype: 'uint16',
      channels: 1,
      pixel_size: { x: 0.65, y: 0.65 },
      backpressure: 'queue:4',
      metadata: { objective: '20x' },
    })
    const images = rest.slice(0, 5)
    expect(images.map((m) => m.image_id)).toEqual([0, 1, 2, 3, 4])
    expect(images[1].stage).toEqual({ x: 10, y: -4 })
    expect(images[0].data).toBeInstanceOf(Uint16Array)
    expect(images[0].data).toEqual(frames[0].samples)
    expect(Math.abs((images[0].acquired_at as number) - Date.now() / 1000)).toBeLessThan(60)
    expect(rest[5]).toEqual({ type: 'end', series_id: 'run-1' })
    // 20 frames per second on a fixed schedule: 4 intervals of 50 ms between the first and last.
    const span = ingest.receivedAt[5] - ingest.receivedAt[1]
    expect(span).toBeGreaterThanOrEqual(190)
    expect(span).toBeLessThan(600)
  })

  it('rejects with the server refusal when the token is wrong', async () => {
    const ingest = await fakeIngest({ token: 'tsi_good' })
    await expect(
      simulateDetector({
        url: ingest.url,
        token: 'tsi_bad',
        seriesId: 1,
        shape: [4, 4],
        dtype: 'uint8',
        channels: 1,
        frames: [],
        rate: 0,
      }),
    ).rejects.toThrow(/HTTP 401/)
  })

  it('rejects done when the server refuses the start', async () => {
    const ingest = await fakeIngest({ token: 'tsi_good' })
    const run = await simulateDetector({
      url: ingest.url,
      token: 'tsi_good',
      seriesId: 'refused',
      shape: [4, 4],
      dtype: 'uint8',
      channels: 1,
      frames: [{ samples: new Uint8Array(16) }],
      rate: 0,
    })
    await expect(run.done).rejects.toThrow(/refused the series: shape: too large/)
  })

  it('rejects done when it is closed mid-series', async () => {
    const ingest = await fakeIngest({ token: 'tsi_good' })
    const { frames } = syntheticFrames({
      width: 16,
      height: 16,
      count: 50,
      seed: 2,
      dtype: 'uint8',
    })
    const run = await simulateDetector({
      url: ingest.url,
      token: 'tsi_good',
      seriesId: 2,
      shape: [16, 16],
      dtype: 'uint8',
      channels: 1,
      frames,
      rate: 100,
    })
    await new Promise((resolve) => setTimeout(resolve, 60))
    run.close()
    await expect(run.done).rejects.toThrow(/closed before the series ended/)
    expect(run.sent).toBeLessThan(50)
  })
})
