// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher's lower-envelope method):
// for every pixel inside a mask, the distance to the nearest pixel outside it. Pure.

const INF = 1e20

/** Squared distances along one line, in place (f holds 0 or INF). */
function transform1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array) {
  let k = 0
  v[0] = 0
  z[0] = -INF
  z[1] = INF
  for (let q = 1; q < n; q++) {
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k])
    while (s <= z[k]) {
      k--
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k])
    }
    k++
    v[k] = q
    z[k] = s
    z[k + 1] = INF
  }
  k = 0
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++
    d[q] = (q - v[k]) * (q - v[k]) + f[v[k]]
  }
}

/**
 * Distance of each inside pixel to the nearest outside pixel (0 outside). With
 * `borderIsOutside`, the image is treated as surrounded by background, so objects touching the
 * edge have their largest distance away from it (as click simulation wants).
 */
export function distanceTransform(
  mask: Uint8Array,
  width: number,
  height: number,
  borderIsOutside = true,
): Float32Array {
  const pad = borderIsOutside ? 1 : 0
  const w = width + 2 * pad
  const h = height + 2 * pad
  const grid = new Float64Array(w * h)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const ix = x - pad
      const iy = y - pad
      const inside = ix >= 0 && iy >= 0 && ix < width && iy < height && mask[iy * width + ix] !== 0
      grid[y * w + x] = inside ? INF : 0
    }
  }
  const n = Math.max(w, h)
  const f = new Float64Array(n)
  const d = new Float64Array(n)
  const v = new Int32Array(n)
  const z = new Float64Array(n + 1)
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) f[y] = grid[y * w + x]
    transform1d(f, h, d, v, z)
    for (let y = 0; y < h; y++) grid[y * w + x] = d[y]
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) f[x] = grid[y * w + x]
    transform1d(f, w, d, v, z)
    for (let x = 0; x < w; x++) grid[y * w + x] = d[x]
  }
  const out = new Float32Array(width * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const value = grid[(y + pad) * w + x + pad]
      out[y * width + x] = value >= INF ? Number.POSITIVE_INFINITY : Math.sqrt(value)
    }
  }
  return out
}
