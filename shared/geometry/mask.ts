// Raster masks: a binary image inside its bounding box, stored compactly as run lengths over
// the box in row-major order, alternating background and foreground, starting with background
// (the MaskGeometry of shared/schemas/annotation.ts; rle.ts converts it to COCO RLE). Pixel
// (row r, column c) of the image covers [c, c+1) × [r, r+1) (ARCHITECTURE decision 3). Pure.

export interface BinaryMask {
  /** Image position of the mask's top-left pixel. */
  x: number
  y: number
  width: number
  height: number
  /** 1 = foreground, row-major. */
  data: Uint8Array
}

export interface MaskRle {
  x: number
  y: number
  width: number
  height: number
  counts: number[]
}

export function encodeMaskRle(mask: BinaryMask): MaskRle {
  const counts: number[] = []
  let current = 0
  let run = 0
  for (let i = 0; i < mask.data.length; i++) {
    const v = mask.data[i] ? 1 : 0
    if (v === current) run++
    else {
      counts.push(run)
      current = v
      run = 1
    }
  }
  counts.push(run)
  return { x: mask.x, y: mask.y, width: mask.width, height: mask.height, counts }
}

export function decodeMaskRle(rle: MaskRle): BinaryMask {
  const data = new Uint8Array(rle.width * rle.height)
  let position = 0
  rle.counts.forEach((count, k) => {
    if (k % 2 === 1) data.fill(1, position, position + count)
    position += count
  })
  return { x: rle.x, y: rle.y, width: rle.width, height: rle.height, data }
}

/** Foreground runs as row segments (for drawing): [column, row, length] in image pixels. */
export function maskRowRuns(rle: MaskRle): [number, number, number][] {
  const runs: [number, number, number][] = []
  let position = 0
  rle.counts.forEach((count, k) => {
    if (k % 2 === 1) {
      let start = position
      const end = position + count
      while (start < end) {
        const row = Math.floor(start / rle.width)
        const column = start - row * rle.width
        const length = Math.min(end - start, rle.width - column)
        runs.push([rle.x + column, rle.y + row, length])
        start += length
      }
    }
    position += count
  })
  return runs
}

/** The pixels whose centres lie within `radius` of any point of a stroke (round brush). */
export function rasterizeStroke(points: number[], radius: number): BinaryMask {
  let minX = Infinity
  let minY = Infinity
  let maxX = -Infinity
  let maxY = -Infinity
  for (let i = 0; i < points.length; i += 2) {
    minX = Math.min(minX, points[i])
    maxX = Math.max(maxX, points[i])
    minY = Math.min(minY, points[i + 1])
    maxY = Math.max(maxY, points[i + 1])
  }
  const x = Math.floor(minX - radius)
  const y = Math.floor(minY - radius)
  const width = Math.ceil(maxX + radius) - x + 1
  const height = Math.ceil(maxY + radius) - y + 1
  const data = new Uint8Array(width * height)
  const r2 = radius * radius
  const stamp = (px: number, py: number) => {
    for (
      let row = Math.max(0, Math.floor(py - radius - y));
      row <= Math.min(height - 1, Math.ceil(py + radius - y));
      row++
    ) {
      const cy = y + row + 0.5
      for (
        let col = Math.max(0, Math.floor(px - radius - x));
        col <= Math.min(width - 1, Math.ceil(px + radius - x));
        col++
      ) {
        const cx = x + col + 0.5
        if ((cx - px) ** 2 + (cy - py) ** 2 <= r2) data[row * width + col] = 1
      }
    }
  }
  for (let i = 0; i < points.length; i += 2) {
    stamp(points[i], points[i + 1])
    if (i >= 2) {
      // Fill the gap between samples of a fast stroke.
      const dx = points[i] - points[i - 2]
      const dy = points[i + 1] - points[i - 1]
      const steps = Math.ceil(Math.hypot(dx, dy) / Math.max(0.5, radius / 2))
      for (let s = 1; s < steps; s++)
        stamp(points[i - 2] + (dx * s) / steps, points[i - 1] + (dy * s) / steps)
    }
  }
  return { x, y, width, height, data }
}

/** Combines two masks (union or a minus b) and crops the result to its content; null if empty. */
export function combineMasks(
  a: BinaryMask | null,
  b: BinaryMask,
  operation: 'union' | 'subtract',
): BinaryMask | null {
  const parts = a ? [a, b] : [b]
  const x = Math.min(...parts.map((m) => m.x))
  const y = Math.min(...parts.map((m) => m.y))
  const width = Math.max(...parts.map((m) => m.x + m.width)) - x
  const height = Math.max(...parts.map((m) => m.y + m.height)) - y
  const data = new Uint8Array(width * height)
  const paint = (m: BinaryMask, value: 0 | 1) => {
    for (let row = 0; row < m.height; row++) {
      for (let col = 0; col < m.width; col++) {
        if (m.data[row * m.width + col]) data[(m.y - y + row) * width + (m.x - x + col)] = value
      }
    }
  }
  if (operation === 'union') {
    if (a) paint(a, 1)
    paint(b, 1)
  } else {
    if (!a) return null
    paint(a, 1)
    paint(b, 0)
  }
  return cropMask({ x, y, width, height, data })
}

export function cropMask(mask: BinaryMask): BinaryMask | null {
  let minRow = mask.height
  let maxRow = -1
  let minCol = mask.width
  let maxCol = -1
  for (let row = 0; row < mask.height; row++) {
    for (let col = 0; col < mask.width; col++) {
      if (!mask.data[row * mask.width + col]) continue
      if (row < minRow) minRow = row
      if (row > maxRow) maxRow = row
      if (col < minCol) minCol = col
      if (col > maxCol) maxCol = col
    }
  }
  if (maxRow < 0) return null
  const width = maxCol - minCol + 1
  const height = maxRow - minRow + 1
  const data = new Uint8Array(width * height)
  for (let row = 0; row < height; row++) {
    data.set(
      mask.data.subarray(
        (minRow + row) * mask.width + minCol,
        (minRow + row) * mask.width + minCol + width,
      ),
      row * width,
    )
  }
  return { x: mask.x + minCol, y: mask.y + minRow, width, height, data }
}

export const maskArea = (mask: BinaryMask) => mask.data.reduce((sum, v) => sum + v, 0)
