// A minimal baseline TIFF writer (little endian, strips, uncompressed or deflate) for 8/16-bit
// unsigned and 32-bit float samples with 1–4 interleaved channels and any number of pages.
// Identical strips are stored once and shared. Used for label-mask export and to make exact test
// images (a constant 16384² page takes kilobytes); it never reads files.
import { createHash } from 'node:crypto'
import { deflateSync } from 'node:zlib'

export type TiffSamples = Uint8Array | Uint16Array | Float32Array

export interface TiffPage {
  width: number
  height: number
  channels: number
  samples: TiffSamples
}

export interface TiffOptions {
  compression?: 'none' | 'deflate'
  /** Rows per strip; by default a page is one strip. */
  rowsPerStrip?: number
}

const SHORT = 3
const LONG = 4

interface Strip {
  data: Uint8Array
  offset: number
}

export function encodeTiff(pages: TiffPage[], options: TiffOptions = {}): Uint8Array {
  if (pages.length === 0) throw new Error('A TIFF needs at least one page')
  const deflate = options.compression === 'deflate'
  const unique = new Map<string, Strip>()
  const layouts = pages.map((page) => {
    const bytesPerSample = page.samples.BYTES_PER_ELEMENT
    const expected = page.width * page.height * page.channels
    if (page.samples.length !== expected) {
      throw new Error(`Page has ${page.samples.length} samples, expected ${expected}`)
    }
    const bytes = new Uint8Array(
      page.samples.buffer,
      page.samples.byteOffset,
      expected * bytesPerSample,
    )
    const rowsPerStrip = Math.min(options.rowsPerStrip ?? page.height, page.height)
    const rowBytes = page.width * page.channels * bytesPerSample
    const strips: Strip[] = []
    for (let top = 0; top < page.height; top += rowsPerStrip) {
      const raw = bytes.subarray(
        top * rowBytes,
        Math.min(top + rowsPerStrip, page.height) * rowBytes,
      )
      const key = createHash('sha1').update(raw).digest('hex')
      let strip = unique.get(key)
      if (!strip) {
        strip = { data: deflate ? deflateSync(raw) : raw, offset: 0 }
        unique.set(key, strip)
      }
      strips.push(strip)
    }
    const hasExtraSamples = page.channels === 2 || page.channels === 4
    const entries = 12 + (hasExtraSamples ? 1 : 0)
    // Arrays that do not fit in an entry's 4 bytes go before the IFD: per-channel BitsPerSample
    // and SampleFormat, and the strip offsets and byte counts of a page of several strips.
    const channelArrays = page.channels > 2 ? 2 * page.channels * 2 : 0
    const stripArrays = strips.length > 1 ? 2 * 4 * strips.length : 0
    return {
      page,
      bytesPerSample,
      rowsPerStrip,
      strips,
      entries,
      hasExtraSamples,
      channelArrays,
      stripArrays,
    }
  })
  let size = 8
  for (const strip of unique.values()) {
    size += size % 2 // word-align each strip
    strip.offset = size
    size += strip.data.length
  }
  size += size % 2
  const firstPage = size
  for (const layout of layouts) {
    size += layout.channelArrays + layout.stripArrays + 2 + layout.entries * 12 + 4
  }
  const buffer = new ArrayBuffer(size)
  const view = new DataView(buffer)
  const bytes = new Uint8Array(buffer)
  view.setUint16(0, 0x4949, true) // "II"
  view.setUint16(2, 42, true)
  for (const strip of unique.values()) bytes.set(strip.data, strip.offset)
  let offset = firstPage
  let previousNext = 4 // where the offset of the next IFD goes
  for (const layout of layouts) {
    const { page, bytesPerSample, strips, entries, hasExtraSamples } = layout
    let arrayCursor = offset
    const ifdOffset = offset + layout.channelArrays + layout.stripArrays
    view.setUint32(previousNext, ifdOffset, true)
    const isFloat = page.samples instanceof Float32Array
    let cursor = ifdOffset + 2
    view.setUint16(ifdOffset, entries, true)
    const entry = (tag: number, type: number, count: number, value: number | number[]) => {
      view.setUint16(cursor, tag, true)
      view.setUint16(cursor + 2, type, true)
      view.setUint32(cursor + 4, count, true)
      if (Array.isArray(value)) {
        for (const [i, v] of value.slice(0, 2).entries())
          view.setUint16(cursor + 8 + 2 * i, v, true)
      } else if (type === SHORT && count === 1) {
        view.setUint16(cursor + 8, value, true)
      } else {
        view.setUint32(cursor + 8, value, true)
      }
      cursor += 12
    }
    // A per-channel SHORT array: inline when it fits in the entry's 4 bytes, else before the IFD.
    const shortArray = (tag: number, value: number) => {
      if (page.channels <= 2) {
        entry(tag, SHORT, page.channels, [value, value])
        return
      }
      for (let c = 0; c < page.channels; c++) view.setUint16(arrayCursor + 2 * c, value, true)
      entry(tag, SHORT, page.channels, arrayCursor)
      arrayCursor += 2 * page.channels
    }
    // A per-strip LONG array: inline for a single strip, else before the IFD.
    const stripArray = (tag: number, field: (strip: Strip) => number) => {
      if (strips.length === 1) {
        entry(tag, LONG, 1, field(strips[0]))
        return
      }
      strips.forEach((strip, i) => {
        view.setUint32(arrayCursor + 4 * i, field(strip), true)
      })
      entry(tag, LONG, strips.length, arrayCursor)
      arrayCursor += 4 * strips.length
    }
    entry(256, LONG, 1, page.width) // ImageWidth
    entry(257, LONG, 1, page.height) // ImageLength
    shortArray(258, bytesPerSample * 8) // BitsPerSample
    entry(259, SHORT, 1, deflate ? 8 : 1) // Compression: deflate or none
    entry(262, SHORT, 1, page.channels >= 3 ? 2 : 1) // Photometric: RGB or min-is-black
    stripArray(273, (strip) => strip.offset) // StripOffsets
    entry(277, SHORT, 1, page.channels) // SamplesPerPixel
    entry(278, LONG, 1, layout.rowsPerStrip) // RowsPerStrip
    stripArray(279, (strip) => strip.data.length) // StripByteCounts
    entry(284, SHORT, 1, 1) // PlanarConfiguration: interleaved
    entry(296, SHORT, 1, 1) // ResolutionUnit: none
    // ExtraSamples: one unspecified sample (a second fluorescence channel, not alpha).
    if (hasExtraSamples) entry(338, SHORT, 1, 0)
    shortArray(339, isFloat ? 3 : 1) // SampleFormat
    previousNext = cursor
    view.setUint32(cursor, 0, true)
    offset = cursor + 4
  }
  return bytes
}
