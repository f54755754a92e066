// The instrument socket's messages: one binary CBOR map each (start / image / end), decoded with
// cbor-x and checked against the contract's schemas, and a frame's samples read into a typed
// array of its own (the caller may transfer it to a worker). Refusals are IngestRefusal errors
// whose message the instrument is sent; nothing here keeps state.
import { decode, Tag } from 'cbor-x'
import {
  DTYPE_BYTES,
  EndMessage,
  ImageMessage,
  type SeriesId,
  StartMessage,
  type StreamDtype,
} from '../../../shared/schemas/streams.ts'
import type { FrameSamples } from './inference/FrameAnalyzer.ts'

/** Most bytes of a message's metadata map once encoded as JSON. */
export const MAX_METADATA_BYTES = 8 * 1024

export class IngestRefusal extends Error {
  constructor(
    message: string,
    readonly seriesId?: SeriesId,
    readonly imageId?: number,
  ) {
    super(message)
  }
}

export type IngestMessage =
  | { type: 'start'; start: StartMessage }
  | { type: 'image'; image: ImageMessage }
  | { type: 'end'; end: EndMessage }

const SCHEMAS = { start: StartMessage, image: ImageMessage, end: EndMessage } as const

function describeIssue(error: { issues: { path: PropertyKey[]; message: string }[] }) {
  const issue = error.issues[0]
  return issue ? `${issue.path.map(String).join('.') || 'message'}: ${issue.message}` : 'invalid'
}

export function decodeIngestMessage(bytes: Uint8Array): IngestMessage {
  let value: unknown
  try {
    value = decode(bytes)
  } catch (error) {
    throw new IngestRefusal(`malformed CBOR: ${(error as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Tag)
    throw new IngestRefusal('a message is a CBOR map with a "type"')
  const map = value as Record<string, unknown>
  const seriesId =
    typeof map.series_id === 'number' || typeof map.series_id === 'string'
      ? map.series_id
      : undefined
  const imageId = typeof map.image_id === 'number' ? map.image_id : undefined
  const type = map.type
  if (type !== 'start' && type !== 'image' && type !== 'end')
    throw new IngestRefusal(
      `unknown message type ${JSON.stringify(type)} (start, image or end)`,
      seriesId,
      imageId,
    )
  const parsed = SCHEMAS[type].safeParse(map)
  if (!parsed.success)
    throw new IngestRefusal(`invalid ${type}: ${describeIssue(parsed.error)}`, seriesId, imageId)
  const metadata = (parsed.data as { metadata?: unknown }).metadata
  if (metadata !== undefined && jsonBytes(metadata) > MAX_METADATA_BYTES)
    throw new IngestRefusal(
      `invalid ${type}: metadata is over ${MAX_METADATA_BYTES} bytes`,
      seriesId,
      imageId,
    )
  if (type === 'start') return { type, start: parsed.data as StartMessage }
  if (type === 'image') return { type, image: parsed.data as ImageMessage }
  return { type, end: parsed.data as EndMessage }
}

function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '')
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

const TYPED: Record<StreamDtype, { name: string; make: (n: number) => FrameSamples }> = {
  uint8: { name: 'Uint8Array', make: (n) => new Uint8Array(n) },
  uint16: { name: 'Uint16Array', make: (n) => new Uint16Array(n) },
  uint32: { name: 'Uint32Array', make: (n) => new Uint32Array(n) },
  float32: { name: 'Float32Array', make: (n) => new Float32Array(n) },
}

export interface SeriesShape {
  width: number
  height: number
  channels: number
  dtype: StreamDtype
}

/**
 * A frame's samples as a fresh typed array of the series' dtype: from a CBOR typed array of
 * that type, a byte string of little-endian samples, or a tag-40 [[dims], array]. Refuses any
 * other type and any sample count but height × width × channels.
 */
export function frameSamples(data: unknown, shape: SeriesShape): FrameSamples {
  const expected = shape.width * shape.height * shape.channels
  let samples = data
  if (samples instanceof Tag) {
    if (samples.tag !== 40 || !Array.isArray(samples.value) || samples.value.length !== 2)
      throw new Error(`data has CBOR tag ${samples.tag}; send a typed array or a byte string`)
    const [dims, array] = samples.value as [unknown, unknown]
    if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d > 0))
      throw new Error('tag-40 data needs [dimensions, array]')
    const product = (dims as number[]).reduce((a, b) => a * b, 1)
    const declared = [shape.height, shape.width, shape.channels]
    const matches =
      dims.length === 2
        ? shape.channels === 1 && dims[0] === shape.height && dims[1] === shape.width
        : dims.length === 3 && dims.every((d, i) => d === declared[i])
    if (!matches)
      throw new Error(
        `data has dimensions [${dims.join(', ')}] but the series declared [${declared.join(', ')}]`,
      )
    if (product !== expected) throw new Error('tag-40 dimensions do not match the shape')
    samples = array
  }
  const bytesPerSample = DTYPE_BYTES[shape.dtype]
  const typed = TYPED[shape.dtype]
  // A plain byte string (cbor-x gives a Buffer, a Uint8Array): little-endian samples. For a
  // uint8 series a Uint8Array is both the byte string and the typed array.
  if (samples instanceof Uint8Array && (shape.dtype === 'uint8' || isPlainBytes(samples))) {
    if (samples.byteLength !== expected * bytesPerSample)
      throw new Error(
        `data has ${samples.byteLength / bytesPerSample} samples; ${shape.height} × ${shape.width} × ${shape.channels} = ${expected} expected`,
      )
    const out = typed.make(expected)
    // Copied: the message's buffer may be shared and the bytes unaligned for the sample size.
    new Uint8Array(out.buffer).set(samples)
    return out
  }
  if (ArrayBuffer.isView(samples) && samples.constructor.name === typed.name) {
    const view = samples as FrameSamples
    if (view.length !== expected)
      throw new Error(
        `data has ${view.length} samples; ${shape.height} × ${shape.width} × ${shape.channels} = ${expected} expected`,
      )
    const out = typed.make(expected)
    out.set(view as never)
    return out
  }
  const got = ArrayBuffer.isView(samples)
    ? samples.constructor.name
    : samples === undefined
      ? 'nothing'
      : typeof samples
  throw new Error(
    `data is ${got}; a ${shape.dtype} series needs a ${typed.name} (RFC 8746 tag), a byte string or tag 40`,
  )
}

/** A Uint8Array that is a byte string, not a typed array tag of another type (cbor-x decodes
 * byte strings as Buffer; tag 64 as Uint8Array). */
function isPlainBytes(value: Uint8Array): boolean {
  return Buffer.isBuffer(value) || value.constructor === Uint8Array
}
