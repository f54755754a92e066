// Polygons as rings of flat coordinates ([x0, y0, x1, y1, …], not closed; outer ring first,
// holes after) in continuous image pixels: area, orientation, point-in-polygon and
// Douglas–Peucker simplification that refuses to make rings cross. Pure.

export type Ring = readonly number[]
export type Rings = readonly Ring[]

/**
 * Signed area (shoelace). Positive for rings that run clockwise on screen (y down), which is
 * how maskToPolygons writes outer rings; holes come out negative.
 */
export function signedArea(ring: Ring): number {
  let sum = 0
  const n = ring.length
  for (let i = 0; i < n; i += 2) {
    const j = (i + 2) % n
    sum += ring[i] * ring[j + 1] - ring[j] * ring[i + 1]
  }
  return sum / 2
}

export type Orientation = 'clockwise' | 'counterclockwise'

/** Turning direction as seen on screen (y down); a ring of zero area counts as clockwise. */
export const ringOrientation = (ring: Ring): Orientation =>
  signedArea(ring) >= 0 ? 'clockwise' : 'counterclockwise'

/** Area of a polygon with holes: the outer ring's minus its holes', whatever their direction. */
export function polygonArea(rings: Rings): number {
  if (rings.length === 0) return 0
  let area = Math.abs(signedArea(rings[0]))
  for (let k = 1; k < rings.length; k++) area -= Math.abs(signedArea(rings[k]))
  return area
}

/** The same polygon with the outer ring clockwise on screen and the holes anticlockwise. */
export function orientPolygon(rings: Rings): number[][] {
  return rings.map((ring, k) => {
    const wantPositive = k === 0
    return signedArea(ring) >= 0 === wantPositive ? [...ring] : reverseRing(ring)
  })
}

export function reverseRing(ring: Ring): number[] {
  const out = new Array<number>(ring.length)
  for (let i = 0, j = ring.length - 2; j >= 0; i += 2, j -= 2) {
    out[i] = ring[j]
    out[i + 1] = ring[j + 1]
  }
  return out
}

/**
 * Where the edge (x0, y0)–(x1, y1) crosses the horizontal line at y. Computed from the upper
 * end whichever way the edge runs, so the point-in-polygon test, rasterisation and two
 * polygons sharing an edge all get the same number and agree on every tie.
 */
export function crossingX(x0: number, y0: number, x1: number, y1: number, y: number): number {
  return y0 < y1 ? x0 + ((x1 - x0) * (y - y0)) / (y1 - y0) : x1 + ((x0 - x1) * (y - y1)) / (y0 - y1)
}

/**
 * Even-odd point-in-ring test with the rasterisation's half-open rule: a point on a left or
 * top edge is in, on a right or bottom edge out.
 */
export function insideRing(ring: Ring, x: number, y: number): boolean {
  let inside = false
  for (let i = 0, j = ring.length - 2; i < ring.length; j = i, i += 2) {
    const yi = ring[i + 1]
    const yj = ring[j + 1]
    if (yi > y !== yj > y && x < crossingX(ring[i], yi, ring[j], yj, y)) inside = !inside
  }
  return inside
}

/** Even-odd over all rings, the rule rasterizePolygon uses: inside the outer ring, not in a hole. */
export function insidePolygon(rings: Rings, x: number, y: number): boolean {
  let inside = false
  for (const ring of rings) if (insideRing(ring, x, y)) inside = !inside
  return inside
}

/**
 * Distance from p to the segment a–b (not to its line: a vertex beyond an end of the chord that
 * replaces it must count its distance to the end, or dropping it can move the outline by more
 * than the tolerance).
 */
function distanceToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number) {
  const dx = bx - ax
  const dy = by - ay
  const squared = dx * dx + dy * dy
  const t =
    squared === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / squared))
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy))
}

/** Indices of the vertices Douglas–Peucker keeps on a closed ring (at least three, in order). */
function keptVertices(ring: Ring, tolerance: number): number[] {
  const n = ring.length / 2
  if (n <= 3 || tolerance <= 0) return Array.from({ length: n }, (_, i) => i)
  // A closed ring has no end points to anchor on: split it at vertex 0 and the vertex farthest
  // from it, and simplify both halves.
  let far = 0
  let best = -1
  for (let i = 1; i < n; i++) {
    const d = (ring[2 * i] - ring[0]) ** 2 + (ring[2 * i + 1] - ring[1]) ** 2
    if (d > best) {
      best = d
      far = i
    }
  }
  const keep = new Uint8Array(n)
  keep[0] = 1
  keep[far] = 1
  const stack = [0, far, far, n]
  while (stack.length > 0) {
    const b = stack.pop()!
    const a = stack.pop()!
    const bi = b % n
    let index = -1
    let distance = tolerance
    for (let i = a + 1; i < b; i++) {
      const d = distanceToSegment(
        ring[2 * i],
        ring[2 * i + 1],
        ring[2 * a],
        ring[2 * a + 1],
        ring[2 * bi],
        ring[2 * bi + 1],
      )
      if (d > distance) {
        distance = d
        index = i
      }
    }
    if (index >= 0) {
      keep[index] = 1
      stack.push(a, index, index, b)
    }
  }
  const kept: number[] = []
  for (let i = 0; i < n; i++) if (keep[i]) kept.push(i)
  if (kept.length >= 3) return kept
  // Only two vertices survived (a thin sliver): add the one farthest from their chord.
  let third = -1
  let thirdDistance = -1
  for (let i = 1; i < n; i++) {
    if (i === far) continue
    const d = distanceToSegment(
      ring[2 * i],
      ring[2 * i + 1],
      ring[0],
      ring[1],
      ring[2 * far],
      ring[2 * far + 1],
    )
    if (d > thirdDistance) {
      thirdDistance = d
      third = i
    }
  }
  return [0, Math.min(far, third), Math.max(far, third)]
}

export interface SimplifyOptions {
  /**
   * Move each kept vertex so that the new edges run through the middle of the vertices they
   * replace, not along the chord between kept ones. Plain Douglas–Peucker cuts every convex
   * bend inwards and so shrinks blobs by up to the tolerance all round; balancing removes that
   * bias (vertices move by at most the tolerance). Off: the result is a subset of the vertices.
   */
  balanced?: boolean
}

/** Douglas–Peucker simplification of one closed ring; keeps at least three vertices. */
export function simplifyRing(
  ring: Ring,
  tolerance: number,
  options: SimplifyOptions = {},
): number[] {
  const kept = keptVertices(ring, tolerance)
  const out: number[] = []
  for (const i of kept) out.push(ring[2 * i], ring[2 * i + 1])
  if (!options.balanced || kept.length === ring.length / 2) return out
  return balanceRing(ring, kept, out, tolerance)
}

/** Offsets each simplified edge by the mean signed distance of the vertices it replaced. */
function balanceRing(ring: Ring, kept: number[], simple: number[], tolerance: number): number[] {
  const n = ring.length / 2
  const m = kept.length
  // Per simplified edge k (kept[k] → kept[k+1]): unit normal to its left and mean offset.
  const nx = new Float64Array(m)
  const ny = new Float64Array(m)
  const offset = new Float64Array(m)
  for (let k = 0; k < m; k++) {
    const a = kept[k]
    const b = k + 1 < m ? kept[k + 1] : kept[0] + n
    const ax = simple[2 * k]
    const ay = simple[2 * k + 1]
    const dx = simple[(2 * k + 2) % (2 * m)] - ax
    const dy = simple[(2 * k + 3) % (2 * m)] - ay
    const length = Math.hypot(dx, dy)
    if (length === 0) continue
    nx[k] = -dy / length
    ny[k] = dx / length
    let sum = 0
    for (let i = a + 1; i < b; i++) {
      const j = i % n
      sum += (ring[2 * j] - ax) * nx[k] + (ring[2 * j + 1] - ay) * ny[k]
    }
    offset[k] = b - a > 1 ? sum / (b - a - 1) : 0
  }
  const out = simple.slice()
  for (let k = 0; k < m; k++) {
    const p = (k + m - 1) % m
    // Where the two offset edges meet; a miter, exact when both offsets are equal.
    const cos = nx[p] * nx[k] + ny[p] * ny[k]
    if (cos < -0.5) continue // a hairpin: the miter would shoot off
    let sx = (nx[p] * offset[p] + nx[k] * offset[k]) / (1 + cos)
    let sy = (ny[p] * offset[p] + ny[k] * offset[k]) / (1 + cos)
    const shift = Math.hypot(sx, sy)
    if (shift > tolerance) {
      sx *= tolerance / shift
      sy *= tolerance / shift
    }
    out[2 * k] += sx
    out[2 * k + 1] += sy
  }
  return out
}

const orient = (ax: number, ay: number, bx: number, by: number, cx: number, cy: number) =>
  Math.sign((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))

/** Whether segments ab and cd cross or overlap along a line; touching at an end does not count. */
function segmentsCross(
  ax: number,
  ay: number,
  bx: number,
  by: number,
  cx: number,
  cy: number,
  dx: number,
  dy: number,
): boolean {
  const o1 = orient(ax, ay, bx, by, cx, cy)
  const o2 = orient(ax, ay, bx, by, dx, dy)
  const o3 = orient(cx, cy, dx, dy, ax, ay)
  const o4 = orient(cx, cy, dx, dy, bx, by)
  if (o1 * o2 < 0 && o3 * o4 < 0) return true
  if (o1 !== 0 || o2 !== 0) return false
  // Collinear: overlapping by more than a point?
  const horizontal = Math.abs(bx - ax) + Math.abs(dx - cx) >= Math.abs(by - ay) + Math.abs(dy - cy)
  const [p0, p1, q0, q1] = horizontal ? [ax, bx, cx, dx] : [ay, by, cy, dy]
  return Math.min(Math.max(p0, p1), Math.max(q0, q1)) > Math.max(Math.min(p0, p1), Math.min(q0, q1))
}

/**
 * Indices of the rings that cross themselves or another ring of the polygon. Segments go into
 * the cells of a uniform grid about one mean segment long, and only segments sharing a cell
 * are compared, so the cost stays near-linear even for a large outline with many holes.
 */
export function crossingRings(rings: Rings): Set<number> {
  let count = 0
  let totalLength = 0
  let minX = Infinity
  let minY = Infinity
  let maxX = -Infinity
  let maxY = -Infinity
  for (const ring of rings) {
    const n = ring.length / 2
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n
      totalLength +=
        Math.abs(ring[2 * j] - ring[2 * i]) + Math.abs(ring[2 * j + 1] - ring[2 * i + 1])
      minX = Math.min(minX, ring[2 * i])
      maxX = Math.max(maxX, ring[2 * i])
      minY = Math.min(minY, ring[2 * i + 1])
      maxY = Math.max(maxY, ring[2 * i + 1])
    }
    count += n
  }
  const crossing = new Set<number>()
  if (count < 3) return crossing
  const cell = Math.max(totalLength / count, 1e-9)
  const columns = Math.min(1024, Math.floor((maxX - minX) / cell) + 1)
  const rows = Math.min(1024, Math.floor((maxY - minY) / cell) + 1)
  const sx = columns / (maxX - minX + cell)
  const sy = rows / (maxY - minY + cell)
  // Segment s: ring ringOf[s], from vertex indexOf[s] to the next one.
  const ringOf = new Int32Array(count)
  const indexOf = new Int32Array(count)
  const cells = new Map<number, number[]>()
  let s = 0
  rings.forEach((ring, r) => {
    const n = ring.length / 2
    for (let i = 0; i < n; i++, s++) {
      const j = (i + 1) % n
      ringOf[s] = r
      indexOf[s] = i
      const c0 = Math.floor((Math.min(ring[2 * i], ring[2 * j]) - minX) * sx)
      const c1 = Math.floor((Math.max(ring[2 * i], ring[2 * j]) - minX) * sx)
      const r0 = Math.floor((Math.min(ring[2 * i + 1], ring[2 * j + 1]) - minY) * sy)
      const r1 = Math.floor((Math.max(ring[2 * i + 1], ring[2 * j + 1]) - minY) * sy)
      for (let row = r0; row <= r1; row++) {
        for (let col = c0; col <= c1; col++) {
          const key = row * columns + col
          const list = cells.get(key)
          if (list) list.push(s)
          else cells.set(key, [s])
        }
      }
    }
  })
  for (const list of cells.values()) {
    for (let p = 0; p < list.length; p++) {
      const a = list[p]
      const ra = rings[ringOf[a]]
      const na = ra.length / 2
      const ia = indexOf[a]
      const ja = (ia + 1) % na
      for (let q = p + 1; q < list.length; q++) {
        const b = list[q]
        if (ringOf[a] === ringOf[b] && crossing.has(ringOf[a])) continue
        if (ringOf[a] === ringOf[b]) {
          // Neighbouring segments share a vertex by construction.
          const gap = Math.abs(indexOf[b] - ia)
          if (gap === 1 || gap === na - 1) continue
        }
        const rb = rings[ringOf[b]]
        const ib = indexOf[b]
        const jb = (ib + 1) % (rb.length / 2)
        const crosses = segmentsCross(
          ra[2 * ia],
          ra[2 * ia + 1],
          ra[2 * ja],
          ra[2 * ja + 1],
          rb[2 * ib],
          rb[2 * ib + 1],
          rb[2 * jb],
          rb[2 * jb + 1],
        )
        if (crosses) {
          crossing.add(ringOf[a])
          crossing.add(ringOf[b])
        }
      }
    }
  }
  return crossing
}

/**
 * Simplifies every ring of a polygon with Douglas–Peucker. A ring that would then cross
 * itself or another ring is simplified again with half the tolerance, down to its original
 * vertices, so simplification never turns a valid polygon into a self-intersecting one.
 */
export function simplifyPolygon(
  rings: Rings,
  tolerance: number,
  options: SimplifyOptions = {},
): number[][] {
  if (tolerance <= 0) return rings.map((ring) => [...ring])
  const tolerances = rings.map(() => tolerance)
  const out = rings.map((ring) => simplifyRing(ring, tolerance, options))
  // A lone triangle cannot cross itself (most specks of a noisy mask end up as one).
  if (out.length === 1 && out[0].length <= 6) return out
  for (;;) {
    const crossing = crossingRings(out)
    let changed = false
    for (const k of crossing) {
      if (tolerances[k] === 0) continue
      tolerances[k] = tolerances[k] < tolerance / 4 ? 0 : tolerances[k] / 2
      out[k] = simplifyRing(rings[k], tolerances[k], options)
      changed = true
    }
    if (!changed) return out
  }
}
