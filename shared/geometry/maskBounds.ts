// Where a stored mask's foreground pixels lie against an image: their bounds inside it, and
// whether any lies outside. Walks the runs, not the pixels. Pure.
import type { Bounds } from './bounds.ts'
import type { MaskRle } from './mask.ts'

/**
 * The bounds of a mask's foreground pixels inside a width × height image, in image pixels;
 * null when none lies inside. Walks the runs, not the pixels (a run over several rows covers
 * whole rows in between), so the cost is the run count plus the box height.
 */
export function maskPixelBounds(
  mask: MaskRle,
  imageWidth: number,
  imageHeight: number,
): Bounds | null {
  const { x, y, width, counts } = mask
  const rowFrom = Math.max(0, -y)
  const rowTo = Math.min(mask.height, imageHeight - y) - 1
  const colFrom = Math.max(0, -x)
  const colTo = Math.min(width, imageWidth - x) - 1
  if (rowTo < rowFrom || colTo < colFrom) return null
  let minCol = Infinity
  let maxCol = -1
  let minRow = Infinity
  let maxRow = -1
  let position = 0
  for (let k = 0; k < counts.length; k++) {
    const count = counts[k]
    if (k % 2 === 1 && count > 0) {
      const first = position
      const last = position + count - 1
      const r0 = Math.floor(first / width)
      const r1 = Math.floor(last / width)
      for (let row = Math.max(r0, rowFrom); row <= Math.min(r1, rowTo); row++) {
        const c0 = Math.max(row === r0 ? first - r0 * width : 0, colFrom)
        const c1 = Math.min(row === r1 ? last - r1 * width : width - 1, colTo)
        if (c0 > c1) continue
        if (c0 < minCol) minCol = c0
        if (c1 > maxCol) maxCol = c1
        if (row < minRow) minRow = row
        if (row > maxRow) maxRow = row
      }
    }
    position += count
  }
  if (maxRow < 0) return null
  return { minX: x + minCol, minY: y + minRow, maxX: x + maxCol + 1, maxY: y + maxRow + 1 }
}

/** Whether any foreground pixel of a mask lies outside a width × height image. */
export function maskLeavesImage(mask: MaskRle, imageWidth: number, imageHeight: number): boolean {
  const { x, y, width, height } = mask
  if (x >= 0 && y >= 0 && x + width <= imageWidth && y + height <= imageHeight) return false
  const own = maskPixelBounds({ ...mask, x: 0, y: 0 }, width, height)
  if (!own) return false
  return (
    x + own.minX < 0 || y + own.minY < 0 || x + own.maxX > imageWidth || y + own.maxY > imageHeight
  )
}
