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
  const { channels, width: cw, height: ch } = coarse
  const width = cw * stride
  const height = ch * stride
  if (details.channels !== channels - 1)
    throw new Error(`coarse has ${channels} channels for ${details.channels} detail channels`)
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
