// Binary mask → polygons with holes, by following pixel edges: rasterising the traced polygons
// at pixel centres gives back the mask exactly; optional simplification then smooths the
// staircase. Diagonal pinches are split so that each polygon is one 4-connected component.
// The click tool turns a predicted mask into a polygon annotation with this. Pure.
import { insideRing, signedArea, simplifyRing } from './polygon.ts'

// Directions: 0 right (+x), 1 down (+y), 2 left (−x), 3 up (−y).
const DX = [1, 0, -1, 0]
const DY = [0, 1, 0, -1]

export interface PolygonRings {
  /** Outer ring first, then holes; flat [x0, y0, …] in image pixels (mask origin added). */
  rings: number[][]
}

export function maskToPolygons(
  mask: Uint8Array,
  width: number,
  height: number,
  options: { originX?: number; originY?: number; tolerance?: number } = {},
): PolygonRings[] {
  const stride = width + 1
  const inside = (x: number, y: number) =>
    x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] !== 0
  // Outgoing boundary edges per grid corner, as a 4-bit set of directions; the foreground is
  // always on the right of an edge (outer rings run clockwise on screen, holes anticlockwise).
  const out = new Uint8Array(stride * (height + 1))
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!inside(x, y)) continue
      if (!inside(x, y - 1)) out[y * stride + x] |= 1 << 0 // top edge, left → right
      if (!inside(x + 1, y)) out[y * stride + x + 1] |= 1 << 1 // right edge, top → bottom
      if (!inside(x, y + 1)) out[(y + 1) * stride + x + 1] |= 1 << 2 // bottom edge, right → left
      if (!inside(x - 1, y)) out[(y + 1) * stride + x] |= 1 << 3 // left edge, bottom → top
    }
  }
  const ox = options.originX ?? 0
  const oy = options.originY ?? 0
  const outers: number[][] = []
  const holes: number[][] = []
  // Pairing at each corner is fixed (turn right first), so every loop closes on its own start.
  const unused = out.slice()
  for (let start = 0; start < out.length; start++) {
    while (unused[start]) {
      let direction = Math.log2(unused[start] & -unused[start])
      let corner = start
      const ring: number[] = []
      let previous = -1
      for (;;) {
        unused[corner] &= ~(1 << direction)
        if (direction !== previous)
          ring.push((corner % stride) + ox, Math.floor(corner / stride) + oy)
        previous = direction
        corner += DX[direction] + DY[direction] * stride
        const turn = direction
        const next = [(turn + 1) % 4, turn, (turn + 3) % 4].find((d) => out[corner] & (1 << d))
        if (next === undefined || !(unused[corner] & (1 << next))) break
        direction = next
      }
      if (ring.length >= 6) (signedArea(ring) > 0 ? outers : holes).push(ring)
    }
  }
  const polygons: PolygonRings[] = outers.map((ring) => ({ rings: [ring] }))
  for (const hole of holes) {
    // A point just inside the foreground around the hole (the right of its first edge).
    const [x0, y0, x1, y1] = hole
    const length = Math.hypot(x1 - x0, y1 - y0)
    const px = (x0 + x1) / 2 - ((y1 - y0) / length) * 0.25
    const py = (y0 + y1) / 2 + ((x1 - x0) / length) * 0.25
    let owner: PolygonRings | null = null
    let ownerArea = Infinity
    for (const polygon of polygons) {
      const area = signedArea(polygon.rings[0])
      if (area < ownerArea && insideRing(polygon.rings[0], px, py)) {
        owner = polygon
        ownerArea = area
      }
    }
    owner?.rings.push(hole)
  }
  const tolerance = options.tolerance ?? 0
  return tolerance > 0
    ? polygons.map((p) => ({ rings: p.rings.map((r) => simplifyRing(r, tolerance)) }))
    : polygons
}
