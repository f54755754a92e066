// Shapes to binary masks under ARCHITECTURE decision 3: a pixel (row r, column c) covers
// [c, c+1) × [r, r+1) and is filled when its centre (c + ½, r + ½) lies inside the shape.
// Edges are half-open (a centre on a left or top edge is in, on a right or bottom edge out),
// so shapes that share an edge never both claim a pixel. Pure.
import type { Geometry } from '../schemas/annotation.ts'
import { firstCentreAtOrAfter } from './bounds.ts'
import { decodeMaskRle } from './mask.ts'
import { crossingX, type Rings } from './polygon.ts'

/** The output window: its top-left pixel in the image (default 0, 0), whole pixels. */
export interface RasterOrigin {
  x?: number
  y?: number
}

/**
 * Fills the pixels of a width × height window whose centres lie inside the polygon (even-odd
 * over all rings, so holes are cut out), row-major, 1 inside. Scanline over an edge table
 * sorted by top end: cost grows with rows × active edges, not rows × all edges.
 */
export function rasterizePolygon(
  rings: Rings,
  width: number,
  height: number,
  origin: RasterOrigin = {},
): Uint8Array {
  const ox = origin.x ?? 0
  const oy = origin.y ?? 0
  const mask = new Uint8Array(width * height)
  // Non-horizontal edges as [x0, y0, x1, y1], upper end first.
  const edges: [number, number, number, number][] = []
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 2; i < ring.length; j = i, i += 2) {
      const x0 = ring[j]
      const y0 = ring[j + 1]
      const x1 = ring[i]
      const y1 = ring[i + 1]
      if (y0 === y1) continue
      edges.push(y0 < y1 ? [x0, y0, x1, y1] : [x1, y1, x0, y0])
    }
  }
  edges.sort((a, b) => a[1] - b[1])
  let next = 0
  let active: [number, number, number, number][] = []
  const crossings: number[] = []
  for (let row = 0; row < height; row++) {
    const y = oy + row + 0.5
    // An edge counts on rows whose centre line lies in [yTop, yBottom).
    while (next < edges.length && edges[next][1] <= y) active.push(edges[next++])
    active = active.filter((e) => e[3] > y)
    if (active.length === 0) continue
    crossings.length = 0
    for (const e of active) crossings.push(crossingX(e[0], e[1], e[2], e[3], y))
    crossings.sort((a, b) => a - b)
    const rowStart = row * width
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      // Centres ox + c + ½ with left <= centre < right.
      const from = Math.max(0, firstCentreAtOrAfter(crossings[k]) - ox)
      const to = Math.min(width, firstCentreAtOrAfter(crossings[k + 1]) - ox)
      if (to > from) mask.fill(1, rowStart + from, rowStart + to)
    }
  }
  return mask
}

export interface Box {
  x: number
  y: number
  width: number
  height: number
}

/** Fills the pixels whose centres lie in [x, x + width) × [y, y + height). */
export function rasterizeBox(
  box: Box,
  width: number,
  height: number,
  origin: RasterOrigin = {},
): Uint8Array {
  const ox = origin.x ?? 0
  const oy = origin.y ?? 0
  const mask = new Uint8Array(width * height)
  const fromCol = Math.max(0, firstCentreAtOrAfter(box.x) - ox)
  const toCol = Math.min(width, firstCentreAtOrAfter(box.x + box.width) - ox)
  const fromRow = Math.max(0, firstCentreAtOrAfter(box.y) - oy)
  const toRow = Math.min(height, firstCentreAtOrAfter(box.y + box.height) - oy)
  if (toCol <= fromCol) return mask
  for (let row = fromRow; row < toRow; row++)
    mask.fill(1, row * width + fromCol, row * width + toCol)
  return mask
}

/**
 * The pixels an annotation covers in a window of the image: polygons and boxes by their
 * centres, masks as stored. Points and polylines cover no area: null.
 */
export function rasterizeGeometry(
  geometry: Geometry,
  width: number,
  height: number,
  origin: RasterOrigin = {},
): Uint8Array | null {
  switch (geometry.kind) {
    case 'polygon':
      return rasterizePolygon(geometry.geometry.rings, width, height, origin)
    case 'box':
      return rasterizeBox(geometry.geometry, width, height, origin)
    case 'mask': {
      const ox = origin.x ?? 0
      const oy = origin.y ?? 0
      const part = decodeMaskRle(geometry.geometry)
      const out = new Uint8Array(width * height)
      const fromCol = Math.max(0, part.x - ox)
      const toCol = Math.min(width, part.x + part.width - ox)
      if (toCol <= fromCol) return out
      for (
        let row = Math.max(0, part.y - oy);
        row < Math.min(height, part.y + part.height - oy);
        row++
      ) {
        const source = (row + oy - part.y) * part.width + (fromCol + ox - part.x)
        out.set(part.data.subarray(source, source + toCol - fromCol), row * width + fromCol)
      }
      return out
    }
    case 'points':
    case 'polyline':
      return null
  }
}
