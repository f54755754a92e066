// Frames for the detector simulator: deterministic synthetic nuclei (a known large one every Nth
// frame, so a rule's flags can be checked exactly) and the images of a folder, as interleaved
// samples of any stream dtype. Pure but for reading the folder.
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { createRandom } from '../../../shared/random/createRandom.ts'
import type { StagePosition, StreamDtype } from '../../../shared/schemas/streams.ts'
import { generateNuclei } from '../demo/syntheticNuclei.ts'

export type FrameSamples = Uint8Array | Uint16Array | Uint32Array | Float32Array

export interface SimulatedFrame {
  /** Interleaved samples, height × width × channels, of the series' dtype. */
  samples: FrameSamples
  stage?: StagePosition
  metadata?: Record<string, unknown>
}

export interface SyntheticFramesOptions {
  width: number
  height: number
  count: number
  seed: number
  dtype: StreamDtype
  /** Samples per pixel (the nuclei plane repeated); 1 by default. */
  channels?: number
  /** Every largeEvery-th frame (image ids largeEvery−1, 2·largeEvery−1, …) gets one clearly
   * larger nucleus; none when absent or 0. */
  largeEvery?: number
}

export interface SyntheticFrames {
  frames: SimulatedFrame[]
  /** image ids of the frames with the large nucleus. */
  large: Set<number>
  /** Smallest area (pixels) a segmentation of a large nucleus can have (its ellipse shrunk by
   * OUTLINE_SLACK px). */
  largeArea: number
  /** Largest area (pixels) a segmentation of a normal nucleus can have (its ellipse grown by
   * OUTLINE_SLACK px). */
  normalMaxArea: number
}

/** Semi-axes of normal and large nuclei in pixels (the generator's ry is 0.6–1 × rx). */
const NORMAL_RADIUS: [number, number] = [6, 9]
const LARGE_RADIUS: [number, number] = [21, 23]
const ELONGATION_MIN = 0.6
/** Pixels a segmentation's outline may stray from the drawn ellipse (blur, the model's edges);
 * largeArea and normalMaxArea allow for it. */
const OUTLINE_SLACK = 2
/** Clear pixels between two nuclei's reaches. */
const GAP = 12

/** Converts 16-bit-range samples to a dtype (uint8: top byte; uint32: × 65536; float32: / 65535). */
export function convertSamples(samples: Uint16Array, dtype: StreamDtype): FrameSamples {
  switch (dtype) {
    case 'uint16':
      return samples
    case 'uint8':
      return Uint8Array.from(samples, (v) => v >> 8)
    case 'uint32':
      return Uint32Array.from(samples, (v) => v * 65536)
    case 'float32':
      return Float32Array.from(samples, (v) => v / 65535)
  }
}

function interleave(plane: FrameSamples, channels: number): FrameSamples {
  if (channels === 1) return plane
  const out = new (plane.constructor as new (length: number) => FrameSamples)(
    plane.length * channels,
  )
  for (let i = 0; i < plane.length; i++)
    for (let c = 0; c < channels; c++) out[i * channels + c] = plane[i]
  return out
}

interface Placement {
  cx: number
  cy: number
  /** Largest semi-axis the nucleus may have. */
  reach: number
  radius: [number, number]
}

/**
 * Centres for the nuclei of one frame, each at least `gap` pixels clear of the others and fully
 * inside the frame; the large one (if any) first. Fewer than asked when the frame is crowded.
 */
function placeNuclei(
  width: number,
  height: number,
  normal: number,
  withLarge: boolean,
  random: () => number,
): Placement[] {
  const wanted: [number, number][] = [
    ...(withLarge ? [LARGE_RADIUS] : []),
    ...Array.from({ length: normal }, () => NORMAL_RADIUS),
  ]
  const placed: Placement[] = []
  for (const radius of wanted) {
    const reach = radius[1]
    const margin = reach + 3
    if (2 * margin > width || 2 * margin > height) continue
    for (let attempt = 0; attempt < 100; attempt++) {
      const cx = margin + random() * (width - 2 * margin)
      const cy = margin + random() * (height - 2 * margin)
      if (placed.every((p) => Math.hypot(p.cx - cx, p.cy - cy) > p.reach + reach + GAP)) {
        placed.push({ cx, cy, reach, radius })
        break
      }
    }
  }
  return placed
}

/**
 * Deterministic fluorescence frames built from the demo generator (server/src/demo): its
 * background (illumination, shot and read noise) over the whole frame, and each nucleus drawn
 * from a small generated image of that one nucleus, taking the brighter sample around it. A few
 * nuclei of radius 6–9 px per frame, at least 12 px apart; in every largeEvery-th frame one more
 * of radius 21–23 px, so that `object_area ≥ T` with normalMaxArea < T < largeArea flags exactly
 * the `large` frames.
 */
export function syntheticFrames(options: SyntheticFramesOptions): SyntheticFrames {
  const { width, height, count, seed, dtype } = options
  const channels = options.channels ?? 1
  const largeEvery = options.largeEvery ?? 0
  const nucleiPerFrame = Math.max(1, Math.min(24, Math.round((width * height) / 9000)))
  const frames: SimulatedFrame[] = []
  const large = new Set<number>()
  for (let index = 0; index < count; index++) {
    const random = createRandom(seed * 7919 + index)
    const pixels = generateNuclei({
      seed: Math.floor(random() * 2 ** 31),
      width,
      height,
      channels: 1,
      count: 0,
      radius: NORMAL_RADIUS,
    }).pixels
    const withLarge = largeEvery > 0 && (index + 1) % largeEvery === 0
    const placements = placeNuclei(width, height, nucleiPerFrame, withLarge, random)
    if (withLarge) {
      if (placements[0]?.radius !== LARGE_RADIUS)
        throw new Error(`a ${width}×${height} frame has no room for a large nucleus`)
      large.add(index)
    }
    for (const placement of placements) drawNucleus(pixels, width, placement, random)
    frames.push({ samples: interleave(convertSamples(pixels, dtype), channels) })
  }
  return {
    frames,
    large,
    largeArea: Math.floor(
      Math.PI *
        (LARGE_RADIUS[0] - OUTLINE_SLACK) *
        (LARGE_RADIUS[0] * ELONGATION_MIN - OUTLINE_SLACK),
    ),
    normalMaxArea: Math.ceil(Math.PI * (NORMAL_RADIUS[1] + OUTLINE_SLACK) ** 2),
  }
}

/** Generates one nucleus in a small image and draws it, centred on the placement, into `pixels`
 * where it is brighter (its ellipse grown to cover the generator's blur). */
function drawNucleus(
  pixels: Uint16Array,
  width: number,
  placement: Placement,
  random: () => number,
) {
  const half = placement.reach + 3
  const tile = 2 * half
  const one = generateNuclei({
    seed: Math.floor(random() * 2 ** 31),
    width: tile,
    height: tile,
    channels: 1,
    count: 1,
    radius: placement.radius,
  })
  const nucleus = one.nuclei[0]
  if (!nucleus) return
  // Shift so the nucleus's own centre lands on the placement.
  const dx = Math.round(placement.cx - nucleus.cx)
  const dy = Math.round(placement.cy - nucleus.cy)
  const cos = Math.cos(nucleus.angle)
  const sin = Math.sin(nucleus.angle)
  const height = pixels.length / width
  for (let y = 0; y < tile; y++) {
    for (let x = 0; x < tile; x++) {
      const u = ((x + 0.5 - nucleus.cx) * cos + (y + 0.5 - nucleus.cy) * sin) / (nucleus.rx + 2)
      const v = (-(x + 0.5 - nucleus.cx) * sin + (y + 0.5 - nucleus.cy) * cos) / (nucleus.ry + 2)
      if (u * u + v * v >= 1) continue
      const tx = x + dx
      const ty = y + dy
      if (tx < 0 || ty < 0 || tx >= width || ty >= height) continue
      const i = ty * width + tx
      pixels[i] = Math.max(pixels[i], one.pixels[y * tile + x])
    }
  }
}

const IMAGE_EXTENSIONS = new Set(['.png', '.tif', '.tiff', '.jpg', '.jpeg'])

/**
 * Frames from a folder of images (an `images/` subfolder when there is one), in name order:
 * grey, centre-cropped or zero-padded to the shape, scaled from the file's range to the dtype's.
 */
export async function folderFrames(
  dir: string,
  options: { shape: [number, number]; dtype: StreamDtype; channels: number; limit?: number },
): Promise<SimulatedFrame[]> {
  const imagesDir = fs.existsSync(path.join(dir, 'images')) ? path.join(dir, 'images') : dir
  if (!fs.existsSync(imagesDir) || !fs.statSync(imagesDir).isDirectory())
    throw new Error(`${dir} is not a folder of images`)
  const files = fs
    .readdirSync(imagesDir)
    .filter((name) => IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase()))
    .sort()
    .slice(0, options.limit ?? Number.POSITIVE_INFINITY)
  if (files.length === 0) throw new Error(`${imagesDir} holds no PNG, TIFF or JPEG images`)
  const [height, width] = options.shape
  const frames: SimulatedFrame[] = []
  for (const name of files) {
    const file = path.join(imagesDir, name)
    const { data, info } = await sharp(file)
      .greyscale()
      .toColourspace('grey16')
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true })
      .catch((error: Error) => {
        throw new Error(`${file}: ${error.message}`)
      })
    const source = new Uint16Array(
      data.buffer,
      data.byteOffset,
      info.width * info.height * info.channels,
    )
    const stride = info.channels
    const plane = new Uint16Array(width * height)
    const offsetX = Math.floor((info.width - width) / 2)
    const offsetY = Math.floor((info.height - height) / 2)
    for (let y = 0; y < height; y++) {
      const sy = y + offsetY
      if (sy < 0 || sy >= info.height) continue
      for (let x = 0; x < width; x++) {
        const sx = x + offsetX
        if (sx >= 0 && sx < info.width)
          plane[y * width + x] = source[(sy * info.width + sx) * stride]
      }
    }
    frames.push({
      samples: interleave(convertSamples(plane, options.dtype), options.channels),
      metadata: { file: name },
    })
  }
  return frames
}
