// A minimal baseline TIFF writer (uncompressed, one strip per page, little endian) for 8/16-bit
// unsigned and 32-bit float samples with 1–4 interleaved channels and any number of pages.
// Used for label-mask export and to make exact test images; it never reads files.

export type TiffSamples = Uint8Array | Uint16Array | Float32Array

export interface TiffPage {
  width: number
  height: number
  channels: number
  samples: TiffSamples
}

const SHORT = 3
const LONG = 4

export function encodeTiff(pages: TiffPage[]): Uint8Array {
  if (pages.length === 0) throw new Error('A TIFF needs at least one page')
  const layouts = pages.map((page) => {
    const bytesPerSample = page.samples.BYTES_PER_ELEMENT
    const expected = page.width * page.height * page.channels
    if (page.samples.length !== expected) {
      throw new Error(`Page has ${page.samples.length} samples, expected ${expected}`)
    }
    const hasExtraSamples = page.channels === 2 || page.channels === 4
    const entries = 12 + (hasExtraSamples ? 1 : 0)
    const ifdSize = 2 + entries * 12 + 4
    // Per-channel arrays (BitsPerSample, SampleFormat) that do not fit in 4 bytes go after the IFD.
    const extra = page.channels > 2 ? 2 * page.channels * 2 : 0
    return {
      page,
      bytesPerSample,
      entries,
      ifdSize,
      extra,
      hasExtraSamples,
      dataSize: expected * bytesPerSample,
    }
  })
  const total = layouts.reduce((sum, l) => sum + l.ifdSize + l.extra + l.dataSize + 1, 8)
  const buffer = new ArrayBuffer(total + pages.length)
  const view = new DataView(buffer)
  const bytes = new Uint8Array(buffer)
  view.setUint16(0, 0x4949, true) // "II"
  view.setUint16(2, 42, true)
  let offset = 8
  view.setUint32(4, offset, true)
  layouts.forEach((layout, index) => {
    const { page, bytesPerSample, entries, ifdSize, extra, hasExtraSamples } = layout
    const ifdOffset = offset
    const extraOffset = ifdOffset + ifdSize
    let dataOffset = extraOffset + extra
    dataOffset += dataOffset % 2 // word-align the strip
    const isFloat = page.samples instanceof Float32Array
    let extraCursor = extraOffset
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
    // A per-channel SHORT array: inline when it fits in the entry's 4 bytes, else after the IFD.
    const shortArray = (tag: number, value: number) => {
      if (page.channels <= 2) {
        entry(tag, SHORT, page.channels, [value, value])
        return
      }
      for (let c = 0; c < page.channels; c++) view.setUint16(extraCursor + 2 * c, value, true)
      entry(tag, SHORT, page.channels, extraCursor)
      extraCursor += 2 * page.channels
    }
    entry(256, LONG, 1, page.width) // ImageWidth
    entry(257, LONG, 1, page.height) // ImageLength
    shortArray(258, bytesPerSample * 8) // BitsPerSample
    entry(259, SHORT, 1, 1) // Compression: none
    entry(262, SHORT, 1, page.channels >= 3 ? 2 : 1) // Photometric: RGB or min-is-black
    entry(273, LONG, 1, dataOffset) // StripOffsets
    entry(277, SHORT, 1, page.channels) // SamplesPerPixel
    entry(278, LONG, 1, page.height) // RowsPerStrip
    entry(279, LONG, 1, layout.dataSize) // StripByteCounts
    entry(284, SHORT, 1, 1) // PlanarConfiguration: interleaved
    entry(296, SHORT, 1, 1) // ResolutionUnit: none
    // ExtraSamples: one unspecified sample (a second fluorescence channel, not alpha).
    if (hasExtraSamples) entry(338, SHORT, 1, 0)
    shortArray(339, isFloat ? 3 : 1) // SampleFormat
    const nextIfd =
      index + 1 < pages.length
        ? dataOffset + layout.dataSize + ((dataOffset + layout.dataSize) % 2)
        : 0
    view.setUint32(cursor, nextIfd, true)
    const source = new Uint8Array(page.samples.buffer, page.samples.byteOffset, layout.dataSize)
    bytes.set(source, dataOffset) // typed arrays are little endian on every platform Node runs on
    offset = nextIfd || dataOffset + layout.dataSize
  })
  return bytes.subarray(0, offset)
}
