import { describe, expect, it } from 'vitest'
import { countTiffPages } from './countTiffPages.ts'
import { encodeTiff } from './encodeTiff.ts'

const pages = (count: number) =>
  encodeTiff(
    Array.from({ length: count }, (_, k) => ({
      width: 3,
      height: 2,
      channels: 1,
      samples: new Uint8Array(6).fill(k),
    })),
  )

/** The offsets of each page's directory, following the chain from the header. */
function directories(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const offsets: number[] = []
  for (let at = view.getUint32(4, true); at !== 0; ) {
    offsets.push(at)
    at = view.getUint32(at + 2 + 12 * view.getUint16(at, true), true)
  }
  return offsets
}

describe('countTiffPages', () => {
  it('counts the pages of a TIFF, and stops one past the limit', () => {
    expect(countTiffPages(pages(1), 256)).toBe(1)
    expect(countTiffPages(pages(5), 256)).toBe(5)
    expect(countTiffPages(pages(5), 5)).toBe(5)
    expect(countTiffPages(pages(9), 3)).toBe(4)
  })

  it('ends a chain that loops back on itself instead of walking it for ever', () => {
    const bytes = pages(3)
    const [first, , last] = directories(bytes)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    view.setUint32(last + 2 + 12 * view.getUint16(last, true), first, true)
    expect(countTiffPages(bytes, 1_000_000)).toBe(3)
  })

  it('ends a chain that points past the end of the file', () => {
    const bytes = pages(2)
    const [, second] = directories(bytes)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    view.setUint32(second + 2 + 12 * view.getUint16(second, true), bytes.length + 10, true)
    expect(countTiffPages(bytes, 256)).toBe(2)
    expect(countTiffPages(bytes.subarray(0, 6), 256)).toBe(0)
  })
})
