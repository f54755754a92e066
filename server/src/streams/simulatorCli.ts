// `npm run simulate-detector -- --url ws://HOST/streams/ID/ingest --token tsi_… [options]`:
// replays synthetic nuclei or a folder of images as one series at a chosen rate and prints what
// the server sends back. A thin shell over simulator.ts; all checks of the flags happen here.
import { parseArgs } from 'node:util'
import { Backpressure, type ServerMessage, StreamDtype } from '../../../shared/schemas/streams.ts'
import {
  folderFrames,
  type SimulatedFrame,
  simulateDetector,
  syntheticFrames,
} from './simulator.ts'

const USAGE = `Usage: npm run simulate-detector -- --url ws://HOST/streams/ID/ingest --token tsi_… [options]

  --synthetic            synthetic nuclei frames (the default)
  --folder DIR           the images of DIR (or DIR/images), PNG/TIFF/JPEG, in name order
  --size N               frames are N×N pixels (default 256)
  --dtype T              uint8 | uint16 | uint32 | float32 (default uint16)
  --channels N           samples per pixel, 1–4 (default 1)
  --rate FPS             frames per second, 0 = as fast as the socket takes them (default 10)
  --frames N             frames to send (default 200; a folder repeats its images)
  --large-every N        synthetic: one large nucleus in every Nth frame (default 10, 0 = none)
  --seed N               synthetic: the seed (default 1)
  --series NAME          the series id (default sim-<time>; digits only send a number)
  --backpressure P       latest | queue:N (default: the stream's policy)
  --pixel-size UM        micrometres per pixel (sent with start)
  --json                 print every server message as one JSON line
`

class UsageError extends Error {}

function integer(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
) {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${text}"`)
  return value
}

function parseCli(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      synthetic: { type: 'boolean' },
      folder: { type: 'string' },
      size: { type: 'string' },
      dtype: { type: 'string' },
      channels: { type: 'string' },
      rate: { type: 'string' },
      frames: { type: 'string' },
      'large-every': { type: 'string' },
      seed: { type: 'string' },
      series: { type: 'string' },
      backpressure: { type: 'string' },
      'pixel-size': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) return null
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`)
  if (!values.url) throw new UsageError('--url is required (ws://HOST/streams/ID/ingest)')
  if (!/^wss?:\/\/[^/]+\/streams\/\d+\/ingest$/.test(values.url))
    throw new UsageError(`--url must look like ws://HOST/streams/ID/ingest, not "${values.url}"`)
  if (!values.token) throw new UsageError('--token is required (an instrument token, tsi_…)')
  if (values.synthetic && values.folder)
    throw new UsageError('give either --synthetic or --folder DIR, not both')
  const dtype = StreamDtype.safeParse(values.dtype ?? 'uint16')
  if (!dtype.success)
    throw new UsageError(
      `--dtype must be one of ${StreamDtype.options.join(', ')}, not "${values.dtype}"`,
    )
  if (values.backpressure !== undefined && !Backpressure.safeParse(values.backpressure).success)
    throw new UsageError(
      `--backpressure must be "latest" or "queue:N", not "${values.backpressure}"`,
    )
  const rate = Number(values.rate ?? 10)
  if (!Number.isFinite(rate) || rate < 0 || rate > 10_000 || values.rate === '')
    throw new UsageError(`--rate must be a number of frames per second ≥ 0, not "${values.rate}"`)
  const pixelSize = values['pixel-size'] === undefined ? undefined : Number(values['pixel-size'])
  if (pixelSize !== undefined && !(pixelSize > 0))
    throw new UsageError(`--pixel-size must be a positive number, not "${values['pixel-size']}"`)
  const series = values.series ?? `sim-${new Date().toISOString().replace(/[:.]/g, '-')}`
  if (series.length === 0 || series.length > 100)
    throw new UsageError('--series must be 1 to 100 characters')
  return {
    url: values.url,
    token: values.token,
    folder: values.folder,
    size: integer('size', values.size, 256, 16, 4096),
    dtype: dtype.data,
    channels: integer('channels', values.channels, 1, 1, 4),
    rate,
    frames: integer('frames', values.frames, 200, 1, 1_000_000),
    largeEvery: integer('large-every', values['large-every'], 10, 0, 1_000_000),
    seed: integer('seed', values.seed, 1, 0, 2 ** 31),
    seriesId: /^\d{1,15}$/.test(series) ? Number(series) : series,
    backpressure: values.backpressure,
    pixelSize,
    json: values.json ?? false,
  }
}

function describeMessage(message: ServerMessage): string {
  switch (message.type) {
    case 'ready':
      return `ready: stream ${message.stream_id}, model ${message.model_version}`
    case 'started':
      return `started: series ${message.series_id} (${message.backpressure})`
    case 'ended': {
      const c = message.counters
      return `ended: series ${message.series_id}; received ${c.received}, processed ${c.processed}, dropped ${c.dropped}, refused ${c.refused}, flagged ${c.flagged}, events ${c.events}`
    }
    case 'error':
      return `error${message.image_id === undefined ? '' : ` (frame ${message.image_id})`}: ${message.error}`
    case 'event': {
      const e = message.event
      return `event ${e.id}: frame ${e.frame} ${e.action} by "${e.ruleName}" (${e.count} objects, ${e.targets.length} targets, ${Math.round(e.latencyMs)} ms, model ${e.modelVersion.name})`
    }
    case 'series':
      return `series ${message.series_id} ${message.state}`
  }
}

/** Repeats a folder's frames up to `count`. */
function* repeat(frames: SimulatedFrame[], count: number): Generator<SimulatedFrame> {
  for (let i = 0; i < count; i++) yield frames[i % frames.length]
}

async function main() {
  let options: ReturnType<typeof parseCli>
  try {
    options = parseCli(process.argv.slice(2))
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      console.error(`simulate-detector: ${(error as Error).message}\n\n${USAGE}`)
      process.exit(2)
    }
    throw error
  }
  if (!options) {
    console.log(USAGE)
    return
  }
  const shape: [number, number] = [options.size, options.size]
  let frames: Iterable<SimulatedFrame>
  if (options.folder) {
    const images = await folderFrames(options.folder, {
      shape,
      dtype: options.dtype,
      channels: options.channels,
      limit: options.frames,
    })
    frames = repeat(images, options.frames)
  } else {
    // At most 100 distinct frames in memory; a longer series repeats them.
    const distinct = syntheticFrames({
      width: options.size,
      height: options.size,
      count: Math.min(options.frames, 100),
      seed: options.seed,
      dtype: options.dtype,
      channels: options.channels,
      largeEvery: options.largeEvery,
    })
    frames = repeat(distinct.frames, options.frames)
    if (options.largeEvery > 0)
      console.log(
        `synthetic: a large nucleus in every ${options.largeEvery}th frame; a rule object_area >= ${Math.round((distinct.normalMaxArea + distinct.largeArea) / 2)} flags those`,
      )
  }
  const run = await simulateDetector({
    url: options.url,
    token: options.token,
    seriesId: options.seriesId,
    shape,
    dtype: options.dtype,
    channels: options.channels,
    pixelSize: options.pixelSize ? { x: options.pixelSize, y: options.pixelSize } : undefined,
    backpressure: options.backpressure,
    frames,
    rate: options.rate,
    onMessage: (message) =>
      console.log(options.json ? JSON.stringify(message) : describeMessage(message)),
  })
  process.once('SIGINT', () => {
    console.error(`interrupted after ${run.sent} frames`)
    run.close()
  })
  await run.done
  console.log(`sent ${run.sent} frames`)
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`simulate-detector: ${error.message}`)
    process.exit(1)
  },
)
