// Reads a labelled image folder in the images/ + labels/ layout (an image and a 16-bit instance
// label image of the same size and base name, 0 = background, 1..N = objects) for evaluation
// and benchmarks. Every error names the file at fault.
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'

export interface LabelledImage {
  id: string
  imagePath: string
  width: number
  height: number
  channels: number
  /** Samples as float32, interleaved (channels last), in the image's own units. */
  pixels: Float32Array
  labels: Uint32Array
}

const IMAGE_EXTENSIONS = new Set(['.png', '.tif', '.tiff', '.jpg', '.jpeg'])

export class DatasetError extends Error {
  override name = 'DatasetError'
}

/** The ids (base names) of a folder's images that have a label image, sorted. */
export function listLabelledImages(folder: string): { id: string; image: string; label: string }[] {
  const imagesDir = path.join(folder, 'images')
  const labelsDir = path.join(folder, 'labels')
  for (const dir of [folder, imagesDir, labelsDir]) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new DatasetError(
        `Folder not found: ${dir} (expected images/ and labels/ inside ${folder})`,
      )
    }
  }
  const byBase = (dir: string) =>
    new Map(
      fs
        .readdirSync(dir)
        .filter((name) => IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase()))
        .map((name) => [path.parse(name).name, path.join(dir, name)] as const),
    )
  const images = byBase(imagesDir)
  const labels = byBase(labelsDir)
  const missing = [...images.keys()].filter((id) => !labels.has(id))
  if (missing.length > 0) {
    throw new DatasetError(
      `No label image for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ' …' : ''} in ${labelsDir}`,
    )
  }
  if (images.size === 0) throw new DatasetError(`No images (PNG, TIFF, JPEG) in ${imagesDir}`)
  return [...images.keys()]
    .sort()
    .map((id) => ({ id, image: images.get(id)!, label: labels.get(id)! }))
}

async function decode(file: string, what: 'image' | 'label') {
  try {
    const input = sharp(file, { limitInputPixels: false })
    const meta = await input.metadata()
    const sixteen = meta.depth === 'ushort' || meta.depth === 'short'
    const channels = what === 'label' ? 1 : Math.min(meta.channels ?? 1, 4)
    let pipeline = sharp(file, { limitInputPixels: false })
    if (what === 'label' || channels === 1) {
      if ((meta.channels ?? 1) > 1) pipeline = pipeline.extractChannel(0)
      pipeline = sixteen ? pipeline.toColourspace('grey16') : pipeline.toColourspace('b-w')
    }
    const { data, info } = await pipeline
      .raw(sixteen ? { depth: 'ushort' } : { depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
    const samples = sixteen
      ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    return { width: info.width, height: info.height, channels: info.channels, samples }
  } catch (error) {
    throw new DatasetError(`Cannot read ${what} ${file}: ${(error as Error).message}`)
  }
}

export async function readLabelledImage(entry: {
  id: string
  image: string
  label: string
}): Promise<LabelledImage> {
  const image = await decode(entry.image, 'image')
  const label = await decode(entry.label, 'label')
  if (image.width !== label.width || image.height !== label.height) {
    throw new DatasetError(
      `Label ${entry.label} is ${label.width}×${label.height} but its image ${entry.image} is ${image.width}×${image.height}`,
    )
  }
  return {
    id: entry.id,
    imagePath: entry.image,
    width: image.width,
    height: image.height,
    channels: image.channels,
    pixels: Float32Array.from(image.samples),
    labels: Uint32Array.from(label.samples),
  }
}
