// Detects an image file's type from its first bytes (never from its name) and checks that the
// name's extension does not contradict it.
import path from 'node:path'
import { HttpError } from '../http/HttpError.ts'

export type ImageFormat = 'png' | 'jpeg' | 'tiff'

const SIGNATURES: { format: string; bytes: number[] }[] = [
  { format: 'png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { format: 'jpeg', bytes: [0xff, 0xd8, 0xff] },
  { format: 'tiff', bytes: [0x49, 0x49, 0x2a, 0x00] },
  { format: 'tiff', bytes: [0x4d, 0x4d, 0x00, 0x2a] },
  { format: 'BigTIFF', bytes: [0x49, 0x49, 0x2b, 0x00] },
  { format: 'BigTIFF', bytes: [0x4d, 0x4d, 0x00, 0x2b] },
  { format: 'GIF', bytes: [0x47, 0x49, 0x46, 0x38] },
  { format: 'BMP', bytes: [0x42, 0x4d] },
  { format: 'PDF', bytes: [0x25, 0x50, 0x44, 0x46] },
  { format: 'ZIP', bytes: [0x50, 0x4b, 0x03, 0x04] },
  { format: 'WebP', bytes: [0x52, 0x49, 0x46, 0x46] },
]

const EXTENSIONS: Record<string, ImageFormat> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.tif': 'tiff',
  '.tiff': 'tiff',
}

const LABEL: Record<ImageFormat, string> = { png: 'PNG', jpeg: 'JPEG', tiff: 'TIFF' }

export function detectFormat(bytes: Uint8Array): string | null {
  for (const { format, bytes: signature } of SIGNATURES) {
    if (signature.every((b, i) => bytes[i] === b)) return format
  }
  return null
}

/** The file's image format, or an HttpError that names the file and says what is wrong. */
export function checkImageFile(name: string, bytes: Uint8Array): ImageFormat {
  if (bytes.length === 0) throw new HttpError(400, `${name} is empty (0 bytes)`)
  const detected = detectFormat(bytes)
  if (detected === null) {
    throw new HttpError(415, `${name} is not a PNG, JPEG or TIFF image (unrecognised content)`)
  }
  if (detected !== 'png' && detected !== 'jpeg' && detected !== 'tiff') {
    throw new HttpError(415, `${name} is a ${detected} file; upload PNG, JPEG or TIFF images`)
  }
  const claimed = EXTENSIONS[path.extname(name).toLowerCase()]
  if (claimed && claimed !== detected) {
    throw new HttpError(
      415,
      `${name} is a ${LABEL[detected]} file, but its name says ${LABEL[claimed]}; rename it or export it again`,
    )
  }
  return detected
}
