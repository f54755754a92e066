// Deterministic synthetic fluorescence images of nuclei with exact instance labels: touching
// ellipses of varied size and brightness on an uneven background, blurred, with shot noise,
// as 16-bit samples. A pixel belongs to a nucleus when its centre lies inside the ellipse.
// Pure: the same spec always gives the same pixels, so tests can regenerate the labels.
import { createRandom } from '../../../shared/random/createRandom.ts'

export interface NucleiSpec {
  seed: number
  width: number
  height: number
  /** 1: nuclei; 2: nuclei plus a dimmer, wider "cytoplasm" channel. */
  channels: 1 | 2
  count: number
  /** Range of the ellipses' semi-axes in pixels. */
  radius: [number, number]
}

export interface Nucleus {
  label: number
  cx: number
  cy: number
  rx: number
  ry: number
  angle: number
  brightness: number
}

export interface SyntheticImage {
  spec: NucleiSpec
  /** Interleaved uint16 samples. */
  pixels: Uint16Array
  /** Instance labels, 0 = background. */
  labels: Uint16Array
  nuclei: Nucleus[]
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
}

/** Normalised elliptical distance of a point to a nucleus (< 1 inside). */
function ellipseDistance(n: Nucleus, x: number, y: number, grow = 1): number {
  const dx = x - n.cx
  const dy = y - n.cy
  const c = Math.cos(n.angle)
  const s = Math.sin(n.angle)
  const u = (dx * c + dy * s) / (n.rx * grow)
  const v = (-dx * s + dy * c) / (n.ry * grow)
  return u * u + v * v
}

function boxBlur(plane: Float32Array, width: number, height: number, radius: number) {
  const tmp = new Float32Array(plane.length)
  const size = 2 * radius + 1
  for (let y = 0; y < height; y++) {
    let sum = 0
    for (let x = -radius; x <= radius; x++)
      sum += plane[y * width + Math.min(width - 1, Math.max(0, x))]
    for (let x = 0; x < width; x++) {
      tmp[y * width + x] = sum / size
      sum +=
        plane[y * width + Math.min(width - 1, x + radius + 1)] -
        plane[y * width + Math.max(0, x - radius)]
    }
  }
  for (let x = 0; x < width; x++) {
    let sum = 0
    for (let y = -radius; y <= radius; y++)
      sum += tmp[Math.min(height - 1, Math.max(0, y)) * width + x]
    for (let y = 0; y < height; y++) {
      plane[y * width + x] = sum / size
      sum +=
        tmp[Math.min(height - 1, y + radius + 1) * width + x] -
        tmp[Math.max(0, y - radius) * width + x]
    }
  }
}

export function generateNuclei(spec: NucleiSpec): SyntheticImage {
  const { width, height, channels } = spec
  const random = createRandom(spec.seed)
  const nuclei: Nucleus[] = []
  // Place nuclei; some deliberately near a previous one so that they touch.
  for (let attempt = 0; nuclei.length < spec.count && attempt < spec.count * 50; attempt++) {
    const rx = spec.radius[0] + random() * (spec.radius[1] - spec.radius[0])
    const ry = rx * (0.6 + 0.4 * random())
    const near =
      nuclei.length > 0 && random() < 0.3 ? nuclei[Math.floor(random() * nuclei.length)] : null
    const angle = random() * Math.PI
    const cx = near
      ? near.cx + (near.rx + rx) * 0.95 * Math.cos(angle * 2)
      : rx + random() * (width - 2 * rx)
    const cy = near
      ? near.cy + (near.ry + ry) * 0.95 * Math.sin(angle * 2)
      : ry + random() * (height - 2 * ry)
    const candidate = {
      label: nuclei.length + 1,
      cx,
      cy,
      rx,
      ry,
      angle,
      brightness: 0.35 + 0.65 * random(),
    }
    if (cx < rx || cy < ry || cx > width - rx || cy > height - ry) continue
    // Touching is fine, overlapping centres are not.
    const overlaps = nuclei.some(
      (n) => ellipseDistance(n, cx, cy, 1.3) < 1 || ellipseDistance(candidate, n.cx, n.cy, 1.3) < 1,
    )
    if (!overlaps) nuclei.push(candidate)
  }
  const labels = new Uint16Array(width * height)
  const signal = new Float32Array(width * height)
  const cytoplasm = new Float32Array(width * height)
  for (const n of nuclei) {
    const reach = Math.max(n.rx, n.ry) * 2
    const x0 = Math.max(0, Math.floor(n.cx - reach))
    const x1 = Math.min(width - 1, Math.ceil(n.cx + reach))
    const y0 = Math.max(0, Math.floor(n.cy - reach))
    const y1 = Math.min(height - 1, Math.ceil(n.cy + reach))
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const i = y * width + x
        const d = ellipseDistance(n, x + 0.5, y + 0.5)
        if (d < 1) {
          // The nearer nucleus (in its own scale) wins a contested pixel.
          const owner = labels[i] ? nuclei[labels[i] - 1] : null
          if (!owner || d < ellipseDistance(owner, x + 0.5, y + 0.5)) labels[i] = n.label
          const texture = 0.85 + 0.15 * Math.sin(x * 0.7 + n.label) * Math.cos(y * 0.6 - n.label)
          signal[i] = Math.max(signal[i], n.brightness * texture * (1 - 0.25 * d))
        }
        const dc = ellipseDistance(n, x + 0.5, y + 0.5, 1.8)
        if (dc < 1) cytoplasm[i] = Math.max(cytoplasm[i], 0.3 * n.brightness * (1 - dc))
      }
    }
  }
  boxBlur(signal, width, height, 1)
  boxBlur(cytoplasm, width, height, 2)
  const pixels = new Uint16Array(width * height * channels)
  const phase = random() * Math.PI
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x
      // Uneven illumination: a slow gradient plus a broad bump.
      const background = 0.04 + 0.03 * (x / width) + 0.02 * Math.sin((y / height) * Math.PI + phase)
      const planes =
        channels === 1 ? [signal[i]] : [signal[i], cytoplasm[i] + 0.5 * signal[i] * 0.2]
      for (let c = 0; c < channels; c++) {
        const expected = (background + planes[c]) * 30000 + 300
        // Shot noise: variance proportional to the signal, plus camera read noise.
        const noisy = expected + gaussian(random) * Math.sqrt(expected * 2) + gaussian(random) * 40
        pixels[i * channels + c] = Math.max(0, Math.min(65535, Math.round(noisy)))
      }
    }
  }
  return { spec, pixels, labels, nuclei }
}
