// Polygons as rings of flat coordinates ([x0, y0, x1, y1, …], not closed; outer ring first,
// holes after): signed area, point-in-polygon, rasterisation at pixel centres (ARCHITECTURE
// decision 3) and Douglas–Peucker simplification. Pure.

/** Signed area (shoelace); positive for rings that run clockwise on screen (y down). */
export function signedArea(ring: readonly number[]): number {
  let sum = 0
  const n = ring.length
  for (let i = 0; i < n; i += 2) {
    const j = (i + 2) % n
    sum += ring[i] * ring[j + 1] - ring[j] * ring[i + 1]
  }
  return sum / 2
}

/** Even-odd point-in-ring test. */
export function insideRing(ring: readonly number[], x: number, y: number): boolean {
  let inside = false
  for (let i = 0, j = ring.length - 2; i < ring.length; j = i, i += 2) {
    const yi = ring[i + 1]
    const yj = ring[j + 1]
    if (yi > y !== yj > y && x < ((ring[j] - ring[i]) * (y - yi)) / (yj - yi) + ring[i])
      inside = !inside
  }
  return inside
}

/** Fills the pixels whose centres lie inside the polygon (even-odd over all rings). */
export function rasterizePolygon(
  rings: readonly (readonly number[])[],
  width: number,
  height: number,
): Uint8Array {
  const mask = new Uint8Array(width * height)
  const crossings: number[] = []
  for (let row = 0; row < height; row++) {
    const y = row + 0.5
    crossings.length = 0
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 2; i < ring.length; j = i, i += 2) {
        const yi = ring[i + 1]
        const yj = ring[j + 1]
        if (yi > y !== yj > y)
          crossings.push(ring[i] + ((ring[j] - ring[i]) * (y - yi)) / (yj - yi))
      }
    }
    crossings.sort((a, b) => a - b)
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      // Pixel centres c + 0.5 with a <= c + 0.5 < b.
      const from = Math.max(0, Math.ceil(crossings[k] - 0.5))
      const to = Math.min(width - 1, Math.ceil(crossings[k + 1] - 0.5) - 1)
      for (let col = from; col <= to; col++) mask[row * width + col] = 1
    }
  }
  return mask
}

function perpendicularDistance(
  px: number,
  py: number,
  ax: number,
  ay: number,
  bx: number,
  by: number,
) {
  const dx = bx - ax
  const dy = by - ay
  const length = Math.hypot(dx, dy)
  if (length === 0) return Math.hypot(px - ax, py - ay)
  return Math.abs(dy * px - dx * py + bx * ay - by * ax) / length
}

/** Douglas–Peucker simplification of a closed ring; keeps at least three vertices. */
export function simplifyRing(ring: readonly number[], tolerance: number): number[] {
  const n = ring.length / 2
  if (n <= 3 || tolerance <= 0) return [...ring]
  // Split the closed ring at its first vertex and the vertex farthest from it.
  let far = 0
  let best = -1
  for (let i = 1; i < n; i++) {
    const d = Math.hypot(ring[2 * i] - ring[0], ring[2 * i + 1] - ring[1])
    if (d > best) {
      best = d
      far = i
    }
  }
  const keep = new Uint8Array(n)
  keep[0] = 1
  keep[far] = 1
  const stack: [number, number][] = [
    [0, far],
    [far, n],
  ]
  while (stack.length > 0) {
    const [a, b] = stack.pop()!
    const bi = b % n
    let index = -1
    let distance = tolerance
    for (let i = a + 1; i < b; i++) {
      const d = perpendicularDistance(
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
      stack.push([a, index], [index, b])
    }
  }
  const out: number[] = []
  for (let i = 0; i < n; i++) if (keep[i]) out.push(ring[2 * i], ring[2 * i + 1])
  if (out.length < 6) {
    // Degenerate: keep three spread vertices.
    const third = Math.floor(n / 3)
    return [
      ring[0],
      ring[1],
      ring[2 * third],
      ring[2 * third + 1],
      ring[4 * third],
      ring[4 * third + 1],
    ]
  }
  return out
}
