// Binary mask → polygons with holes, by following pixel edges: rasterising the traced polygons
// at pixel centres gives back the mask exactly; optional simplification then smooths the
// staircase. Each polygon is one 4-connected component (diagonal touches are split). The click
// tool turns a predicted mask into a polygon annotation with this, so it must stay fast. Pure.
import { signedArea, simplifyPolygon } from './polygon.ts'

export interface PolygonRings {
  /** Outer ring first (clockwise on screen), then holes (anticlockwise); flat [x0, y0, …]. */
  rings: number[][]
}

export interface MaskToPolygonsOptions {
  /** Image position of the mask's top-left pixel, added to every vertex. */
  originX?: number
  originY?: number
  /** Douglas–Peucker tolerance in pixels; 0 (default) keeps the exact pixel outline. */
  tolerance?: number
}

// Directions: 0 right (+x), 1 down (+y), 2 left (−x), 3 up (−y).
const RIGHT = 1
const DOWN = 2
const LEFT = 4
const UP = 8

export function maskToPolygons(
  mask: Uint8Array,
  width: number,
  height: number,
  options: MaskToPolygonsOptions = {},
): PolygonRings[] {
  const stride = width + 1
  // Outgoing boundary edges per grid corner, as a set of direction bits. Edges run with the
  // foreground on their right, so outer rings turn clockwise on screen and holes the other way.
  const out = new Uint8Array(stride * (height + 1))
  for (let y = 0; y < height; y++) {
    const row = y * width
    const corner = y * stride
    for (let x = 0; x < width; x++) {
      if (mask[row + x] === 0) continue
      const c = corner + x
      if (y === 0 || mask[row - width + x] === 0) out[c] |= RIGHT // top edge
      if (x === width - 1 || mask[row + x + 1] === 0) out[c + 1] |= DOWN // right edge
      if (y === height - 1 || mask[row + width + x] === 0) out[c + stride + 1] |= LEFT // bottom
      if (x === 0 || mask[row + x - 1] === 0) out[c + stride] |= UP // left edge
    }
  }
  const ox = options.originX ?? 0
  const oy = options.originY ?? 0
  const tolerance = options.tolerance ?? 0
  // To simplify, start from the edges' midpoints rather than the pixel corners: that outline
  // rasterises to the same mask, but its staircase zigzags by 0.35 px instead of 0.7 px, so a
  // tolerance of half a pixel already straightens it.
  const midpoints = tolerance > 0
  const step = [1, stride, -1, -stride]
  const halfX = [0.5, 0, -0.5, 0]
  const halfY = [0, 0.5, 0, -0.5]
  const used = new Uint8Array(out.length)
  const polygons: PolygonRings[] = []
  /** Per polygon, a pixel of its component (to find the owners of holes). */
  const seeds: number[] = []
  const holes: { ring: number[]; pixel: number }[] = []
  for (let start = 0; start < out.length; start++) {
    let free = out[start] & ~used[start]
    while (free !== 0) {
      const startDirection = 31 - Math.clz32(free & -free)
      const ring: number[] = []
      let corner = start
      let direction = startDirection
      let previous = -1
      // Each edge has exactly one successor: at a corner where two boundaries touch
      // diagonally, turning right first keeps each loop on its own pixel, so loops never merge.
      for (;;) {
        used[corner] |= 1 << direction
        const from = corner
        corner += step[direction]
        const bits = out[corner]
        const right = (direction + 1) & 3
        const next =
          bits & (1 << right) ? right : bits & (1 << direction) ? direction : (direction + 3) & 3
        if (midpoints) {
          // The first and last midpoint of each straight run; those between are collinear.
          if (direction !== previous || next !== direction) {
            const fy = (from / stride) | 0
            ring.push(from - fy * stride + halfX[direction] + ox, fy + halfY[direction] + oy)
          }
        } else if (next !== direction) {
          const cy = (corner / stride) | 0
          ring.push(corner - cy * stride + ox, cy + oy)
        }
        if (corner === start && next === startDirection) break
        previous = direction
        direction = next
      }
      // The pixel on the right of the first edge belongs to the ring's component.
      const sy = (start / stride) | 0
      const sx = start - sy * stride
      const px = startDirection === 0 || startDirection === 3 ? sx : sx - 1
      const py = startDirection <= 1 ? sy : sy - 1
      if (signedArea(ring) > 0) {
        polygons.push({ rings: [ring] })
        seeds.push(py * width + px)
      } else holes.push({ ring, pixel: py * width + px })
      free = out[start] & ~used[start]
    }
  }
  if (holes.length > 0) assignHoles(mask, width, height, polygons, seeds, holes)
  return tolerance > 0
    ? polygons.map((p) => ({ rings: simplifyPolygon(p.rings, tolerance, { balanced: true }) }))
    : polygons
}

/**
 * Gives each hole to the polygon of its component. Components come from runs of foreground
 * per row united with the overlapping runs of the row above (4-connectivity): a blob has a
 * few runs per row, so this costs far less than labelling every pixel.
 */
function assignHoles(
  mask: Uint8Array,
  width: number,
  height: number,
  polygons: PolygonRings[],
  seeds: number[],
  holes: { ring: number[]; pixel: number }[],
) {
  const runStart: number[] = []
  const runEnd: number[] = []
  const parent: number[] = []
  const firstRunOfRow = new Int32Array(height + 1)
  const find = (run: number) => {
    let r = run
    while (parent[r] !== r) {
      parent[r] = parent[parent[r]]
      r = parent[r]
    }
    return r
  }
  let above = 0
  let aboveEnd = 0
  for (let y = 0; y < height; y++) {
    firstRunOfRow[y] = runStart.length
    const row = y * width
    let x = 0
    let q = above
    for (;;) {
      while (x < width && mask[row + x] === 0) x++
      if (x >= width) break
      const start = x
      while (x < width && mask[row + x] !== 0) x++
      const run = runStart.length
      runStart.push(start)
      runEnd.push(x)
      parent.push(run)
      // Runs above that end before this one starts cannot touch this or any later run.
      while (q < aboveEnd && runEnd[q] <= start) q++
      for (let r = q; r < aboveEnd && runStart[r] < x; r++) parent[find(r)] = find(run)
    }
    above = firstRunOfRow[y]
    aboveEnd = runStart.length
  }
  firstRunOfRow[height] = runStart.length
  const componentOf = (pixel: number) => {
    const y = (pixel / width) | 0
    const x = pixel - y * width
    let r = firstRunOfRow[y]
    while (runEnd[r] <= x) r++
    return find(r)
  }
  const polygonOf = new Map<number, number>()
  for (let k = 0; k < seeds.length; k++) polygonOf.set(componentOf(seeds[k]), k)
  for (const hole of holes) polygons[polygonOf.get(componentOf(hole.pixel))!].rings.push(hole.ring)
}
