// A raster mask as few rectangles for drawing: each foreground run becomes at most three (the
// rest of its first row, the whole rows it covers, the start of its last row), so the work is
// bounded by the number of runs, never by the mask's rows or pixels. Pure.
import type { MaskRle } from '../../../../shared/geometry/mask.ts'

/** Calls `rect` with image x, y, width, height for each rectangle of the mask's foreground. */
export function forEachMaskRect(
  mask: MaskRle,
  rect: (x: number, y: number, width: number, height: number) => void,
): void {
  const { width, counts } = mask
  const total = width * mask.height
  let position = 0
  for (let k = 0; k < counts.length && position < total; k++) {
    const start = position
    position += counts[k]
    const end = Math.min(position, total)
    if (k % 2 === 0 || end <= start) continue
    const firstRow = Math.floor(start / width)
    const firstColumn = start - firstRow * width
    const lastRow = Math.floor((end - 1) / width)
    const lastEnd = end - lastRow * width
    if (firstRow === lastRow) {
      rect(mask.x + firstColumn, mask.y + firstRow, end - start, 1)
      continue
    }
    let fullFrom = firstRow
    let fullTo = lastRow
    if (firstColumn > 0) {
      rect(mask.x + firstColumn, mask.y + firstRow, width - firstColumn, 1)
      fullFrom++
    }
    if (lastEnd < width) {
      rect(mask.x, mask.y + lastRow, lastEnd, 1)
      fullTo--
    }
    if (fullTo >= fullFrom) rect(mask.x, mask.y + fullFrom, width, fullTo - fullFrom + 1)
  }
}
