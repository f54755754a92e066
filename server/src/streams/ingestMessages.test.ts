import { encode, Tag } from 'cbor-x'
import { describe, expect, it } from 'vitest'
import { decodeIngestMessage, frameSamples, IngestRefusal } from './ingestMessages.ts'

const shape = { width: 3, height: 2, channels: 1, dtype: 'uint16' as const }

describe('decodeIngestMessage', () => {
  it('refuses what is not a CBOR map of a known type, naming the series and frame it can', () => {
    expect(() => decodeIngestMessage(new Uint8Array([0xff, 0x00]))).toThrow(/malformed CBOR/)
    expect(() => decodeIngestMessage(encode('start'))).toThrow(/CBOR map/)
    try {
      decodeIngestMessage(encode({ type: 'image', series_id: 4, image_id: -1, data: 1 }))
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(IngestRefusal)
      expect((error as IngestRefusal).seriesId).toBe(4)
      expect((error as Error).message).toMatch(/invalid image: image_id/)
    }
    expect(() =>
      decodeIngestMessage(
        encode({
          type: 'start',
          series_id: 1,
          shape: [2, 3],
          dtype: 'uint8',
          channels: 1,
          metadata: { blob: 'x'.repeat(10_000) },
        }),
      ),
    ).toThrow(/metadata is over/)
  })
})

describe('frameSamples', () => {
  const values = [1, 2, 300, 4, 65535, 6]

  it('reads a typed array, a little-endian byte string at any offset, and tag 40', () => {
    const typed = new Uint16Array(values)
    expect([...frameSamples(typed, shape)]).toEqual(values)
    // An odd offset into a larger buffer: copied, not viewed.
    const bytes = Buffer.alloc(13)
    Buffer.from(typed.buffer).copy(bytes, 1)
    expect([...frameSamples(bytes.subarray(1), shape)]).toEqual(values)
    expect([...frameSamples(new Tag([[2, 3], typed], 40), shape)]).toEqual(values)
    expect([...frameSamples(new Tag([[2, 3, 1], typed], 40), shape)]).toEqual(values)
    // Its own buffer: transferring it leaves the message alone.
    const samples = frameSamples(typed, shape)
    expect(samples.buffer).not.toBe(typed.buffer)
    expect(samples.byteLength).toBe(samples.buffer.byteLength)
  })

  it('refuses wrong sizes, types and dimensions', () => {
    expect(() => frameSamples(new Uint16Array(7), shape)).toThrow(/7 samples; 2 × 3 × 1 = 6/)
    expect(() => frameSamples(Buffer.alloc(11), shape)).toThrow(/expected/)
    expect(() => frameSamples(new Float32Array(6), shape)).toThrow(/Uint16Array/)
    expect(() => frameSamples(new Tag([[3, 2], new Uint16Array(6)], 40), shape)).toThrow(
      /dimensions \[3, 2\]/,
    )
    expect(() => frameSamples(new Tag(new Uint16Array(6), 41), shape)).toThrow(/tag 41/)
    expect(() => frameSamples(undefined, shape)).toThrow(/nothing/)
  })
})
