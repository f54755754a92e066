// Counts the pages of a classic TIFF by walking the chain of image file directories in its header
// bytes, stopping past a limit, so that a file of a million pages is refused before libvips (which
// walks them all to count) reads any of it. Reads no pixel data; never throws on a bad chain.

/** The number of pages, or limit + 1 when there are more than limit. */
export function countTiffPages(bytes: Uint8Array, limit: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const littleEndian = bytes[0] === 0x49
  const seen = new Set<number>()
  let offset = bytes.length >= 8 ? view.getUint32(4, littleEndian) : 0
  let pages = 0
  // A chain that is cut short or loops back ends the walk; libvips then reports what is wrong.
  while (offset !== 0 && offset + 2 <= bytes.length && !seen.has(offset) && pages <= limit) {
    seen.add(offset)
    pages++
    const next = offset + 2 + 12 * view.getUint16(offset, littleEndian)
    offset = next + 4 <= bytes.length ? view.getUint32(next, littleEndian) : 0
  }
  return pages
}
