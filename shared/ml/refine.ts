// The click decoder's last step, run by the runtime instead of inside the ONNX graph: the coarse
// output (1 + D channels at 1/stride) is upsampled bilinearly with half-pixel centres (PyTorch
// align_corners=False, edge-clamped, as ONNX Resize pytorch_half_pixel) and the full-resolution
// mask logit is up[0] + Σ_k up[k]·details[k−1]. Done separably over rows here: it is elementwise
// and a few milliseconds in JavaScript, where ONNX Runtime's wasm Resize took most of a click.
import type { Planes } from './segmenter.ts'

/** Source index pairs and weights of 1-D bilinear upsampling by `factor` (half-pixel). */
function axisWeights(inSize: number, factor: number, outSize: number) {
  const lo = new Int32Array(outSize)
  const hi = new Int32Array(outSize)
  const weight = new Float32Array(outSize)
  for (let o = 0; o < outSize; o++) {
    const source = Math.max(0, (o + 0.5) / factor - 0.5)
    const i0 = Math.min(Math.floor(source), inSize - 1)
    lo[o] = i0
    hi[o] = Math.min(i0 + 1, inSize - 1)
    weight[o] = source - i0
  }
  return { lo, hi, weight }
}

/** Sizes of a refinement: the coarse map's and the full-resolution crop's. */
function refinedSize(coarse: Planes, details: Planes, stride: number) {
  const { channels, width: cw, height: ch } = coarse
  if (details.channels !== channels - 1)
    throw new Error(`coarse has ${channels} channels for ${details.channels} detail channels`)
  return { channels, cw, ch, width: cw * stride, height: ch * stride }
}

/**
 * Full-resolution mask logits over a crop (width × height, multiples of `stride` of the coarse
 * map) whose top-left is (x0, y0) in the details planes; detail samples outside them count 0.
 */
export function refineWithDetails(
  coarse: Planes,
  details: Planes,
  x0: number,
  y0: number,
  stride: number,
): Float32Array {
  const { channels, cw, ch, width, height } = refinedSize(coarse, details, stride)
  const xs = axisWeights(cw, stride, width)
  const ys = axisWeights(ch, stride, height)
  const source = coarse.data
  const { lo: xLo, hi: xHi, weight: xWeight } = xs
  // Horizontal pass: every coarse row of every channel to full width.
  const rows = new Float32Array(channels * ch * width)
  for (let cr = 0; cr < channels * ch; cr++) {
    const from = cr * cw
    const to = cr * width
    for (let x = 0; x < width; x++) {
      const a = source[from + xLo[x]]
      rows[to + x] = a + (source[from + xHi[x]] - a) * xWeight[x]
    }
  }
  // Vertical pass, weighted by the details as it goes.
  const out = new Float32Array(width * height)
  const detail = details.data
  const dw = details.width
  const dh = details.height
  const plane = dw * dh
  const xStart = Math.max(0, -x0)
  const xEnd = Math.min(width, dw - x0)
  for (let y = 0; y < height; y++) {
    const t = ys.weight[y]
    const dy = y0 + y
    const outRow = y * width
    let a = ys.lo[y] * width
    let b = ys.hi[y] * width
    for (let x = 0; x < width; x++) out[outRow + x] = rows[a + x] + (rows[b + x] - rows[a + x]) * t
    if (dy < 0 || dy >= dh) continue
    for (let c = 1; c < channels; c++) {
      a += ch * width
      b += ch * width
      const d = (c - 1) * plane + dy * dw + x0
      for (let x = xStart; x < xEnd; x++) {
        const ra = rows[a + x]
        out[outRow + x] += (ra + (rows[b + x] - ra) * t) * detail[d + x]
      }
    }
  }
  return out
}

/** Smallest and largest value per channel and block (see blockRange). */
export interface BlockRange {
  min: Planes
  max: Planes
}

/** Per channel, the smallest and largest value in each stride × stride block (partial blocks at
 * the edges). */
export function blockRange(planes: Planes, stride: number): BlockRange {
  const width = Math.ceil(planes.width / stride)
  const height = Math.ceil(planes.height / stride)
  const min = new Float32Array(planes.channels * width * height).fill(Number.POSITIVE_INFINITY)
  const max = new Float32Array(planes.channels * width * height).fill(Number.NEGATIVE_INFINITY)
  const { width: pw, height: ph } = planes
  for (let c = 0; c < planes.channels; c++) {
    const base = c * pw * ph
    const out = c * width * height
    for (let y = 0; y < ph; y++) {
      const row = out + Math.floor(y / stride) * width
      const from = base + y * pw
      for (let x = 0; x < pw; x++) {
        const v = planes.data[from + x]
        const i = row + Math.floor(x / stride)
        if (v < min[i]) min[i] = v
        if (v > max[i]) max[i] = v
      }
    }
  }
  const shape = { channels: planes.channels, width, height }
  return { min: { data: min, ...shape }, max: { data: max, ...shape } }
}

/**
 * Per channel and cell, the smallest and largest value over the cell's 3 × 3 neighbourhood
 * (clamped at the edges): `low` and `high`, both channels × height × width.
 */
function neighbourhoodRanges(planes: Planes) {
  const { channels, width, height, data } = planes
  const cells = width * height
  const low = new Float32Array(channels * cells)
  const high = new Float32Array(channels * cells)
  const rowLow = new Float32Array(cells)
  const rowHigh = new Float32Array(cells)
  for (let c = 0; c < channels; c++) {
    const base = c * cells
    // Along rows, then along columns.
    for (let y = 0; y < height; y++) {
      const row = y * width
      for (let x = 0; x < width; x++) {
        const v = data[base + row + x]
        const l = data[base + row + Math.max(0, x - 1)]
        const r = data[base + row + Math.min(width - 1, x + 1)]
        rowLow[row + x] = Math.min(v, l, r)
        rowHigh[row + x] = Math.max(v, l, r)
      }
    }
    for (let y = 0; y < height; y++) {
      const up = Math.max(0, y - 1) * width
      const row = y * width
      const down = Math.min(height - 1, y + 1) * width
      for (let x = 0; x < width; x++) {
        low[base + row + x] = Math.min(rowLow[up + x], rowLow[row + x], rowLow[down + x])
        high[base + row + x] = Math.max(rowHigh[up + x], rowHigh[row + x], rowHigh[down + x])
      }
    }
  }
  return { low, high }
}

/**
 * Mask logits as refineWithDetails gives them wherever the mask's edge can be; elsewhere a bound
 * on the same side of `threshold`, so `logit > threshold` is the same mask. Each output block of
 * stride × stride pixels interpolates only the 3 × 3 coarse cells around its own, so by interval
 * arithmetic its logits lie within [min up[0] + Σ_k min(up[k]·details[k−1]), max up[0] +
 * Σ_k max(up[k]·details[k−1])], the extremes taken over those cells and the block's details.
 * Blocks whose interval lies on one side of the threshold (clear background and the inside of
 * the object) are filled with its nearer end; only those the edge may cross are computed.
 * `detailRange` is blockRange(details, stride); (x0, y0) are multiples of stride.
 */
export function refineMaskLogits(
  coarse: Planes,
  details: Planes,
  detailRange: BlockRange,
  x0: number,
  y0: number,
  stride: number,
  threshold: number,
): Float32Array {
  const { channels, cw, ch, width, height } = refinedSize(coarse, details, stride)
  const cells = cw * ch
  const { low: lows, high: highs } = neighbourhoodRanges(coarse)
  const xs = axisWeights(cw, stride, width)
  const ys = axisWeights(ch, stride, height)
  const out = new Float32Array(width * height)
  const source = coarse.data
  const detail = details.data
  const dw = details.width
  const dh = details.height
  const plane = dw * dh
  const bw = detailRange.max.width
  const bh = detailRange.max.height
  const bx0 = x0 / stride
  const by0 = y0 / stride
  const fill = (bx: number, by: number, value: number) => {
    for (let y = by * stride; y < (by + 1) * stride; y++)
      out.fill(value, y * width + bx * stride, y * width + (bx + 1) * stride)
  }
  for (let by = 0; by < ch; by++) {
    for (let bx = 0; bx < cw; bx++) {
      const cell = by * cw + bx
      let high = highs[cell]
      let low = lows[cell]
      const gx = bx0 + bx
      const gy = by0 + by
      // A block outside the details planes (which are whole blocks) gets no detail term.
      if (gx >= 0 && gy >= 0 && gx < bw && gy < bh) {
        for (let k = 1; k < channels; k++) {
          const b = ((k - 1) * bh + gy) * bw + gx
          const dMin = detailRange.min.data[b]
          const dMax = detailRange.max.data[b]
          const uMax = highs[k * cells + cell]
          const uMin = lows[k * cells + cell]
          const p1 = uMin * dMin
          const p2 = uMin * dMax
          const p3 = uMax * dMin
          const p4 = uMax * dMax
          high += Math.max(p1, p2, p3, p4)
          low += Math.min(p1, p2, p3, p4)
        }
      }
      if (high <= threshold - 1e-4) {
        fill(bx, by, high)
        continue
      }
      if (low > threshold + 1e-4) {
        fill(bx, by, low)
        continue
      }
      for (let y = by * stride; y < (by + 1) * stride; y++) {
        const ya = ys.lo[y] * cw
        const yb = ys.hi[y] * cw
        const ty = ys.weight[y]
        const dy = y0 + y
        for (let x = bx * stride; x < (bx + 1) * stride; x++) {
          const xa = xs.lo[x]
          const xb = xs.hi[x]
          const tx = xs.weight[x]
          const dx = x0 + x
          const inside = dx >= 0 && dy >= 0 && dx < dw && dy < dh
          let value = 0
          for (let c = 0; c < channels; c++) {
            const base = c * cells
            const top =
              source[base + ya + xa] + (source[base + ya + xb] - source[base + ya + xa]) * tx
            const bottom =
              source[base + yb + xa] + (source[base + yb + xb] - source[base + yb + xa]) * tx
            const up = top + (bottom - top) * ty
            if (c === 0) value = up
            else if (inside) value += up * detail[(c - 1) * plane + dy * dw + dx]
          }
          out[y * width + x] = value
        }
      }
    }
  }
  return out
}
