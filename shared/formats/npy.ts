// NumPy .npy files (format 1.0 written; 1.0, 2.0 and 3.0 read): one little-endian array in C
// order with its dtype and shape, as numpy.save writes and numpy.load reads. Pure: bytes in,
// bytes out; it never touches files and never reads Fortran-ordered or big-endian data.

/** The dtypes read and written, by their NumPy names. */
export const NPY_DTYPES = {
  uint8: { descr: '|u1', array: Uint8Array },
  int8: { descr: '|i1', array: Int8Array },
  uint16: { descr: '<u2', array: Uint16Array },
  int16: { descr: '<i2', array: Int16Array },
  uint32: { descr: '<u4', array: Uint32Array },
  int32: { descr: '<i4', array: Int32Array },
  float32: { descr: '<f4', array: Float32Array },
  float64: { descr: '<f8', array: Float64Array },
} as const

export type NpyDtype = keyof typeof NPY_DTYPES
export type NpyData = InstanceType<(typeof NPY_DTYPES)[NpyDtype]['array']>

/** An n-dimensional array: values in C (row-major) order and the size of each axis. */
export interface NpyArray {
  dtype: NpyDtype
  shape: readonly number[]
  data: NpyData
}

export class NpyFormatError extends Error {
  override name = 'NpyFormatError'
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] // \x93NUMPY
/** numpy aligns the data to 64 bytes (magic, version, header length and header together). */
const ALIGNMENT = 64
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

function dtypeOfData(data: NpyData): NpyDtype {
  for (const [dtype, { array }] of Object.entries(NPY_DTYPES)) {
    if (data instanceof array) return dtype as NpyDtype
  }
  throw new NpyFormatError('unsupported typed array')
}

function elementCount(shape: readonly number[]): number {
  let count = 1
  for (const size of shape) {
    if (!Number.isInteger(size) || size < 0) throw new NpyFormatError(`bad axis size ${size}`)
    count *= size
  }
  return count
}

/** The array as the bytes of a .npy file, format version 1.0. */
export function writeNpy(array: NpyArray): Uint8Array {
  if (!LITTLE_ENDIAN_HOST) throw new NpyFormatError('writing .npy needs a little-endian host')
  if (dtypeOfData(array.data) !== array.dtype)
    throw new NpyFormatError(`data is not ${array.dtype}`)
  const count = elementCount(array.shape)
  if (count !== array.data.length)
    throw new NpyFormatError(
      `shape (${array.shape}) holds ${count} values, not ${array.data.length}`,
    )
  // A one-axis shape needs the trailing comma of a Python tuple: (5,).
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`
  const dict = `{'descr': '${NPY_DTYPES[array.dtype].descr}', 'fortran_order': False, 'shape': ${shape}, }`
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1
  const padding = (ALIGNMENT - (unpadded % ALIGNMENT)) % ALIGNMENT
  const header = `${dict}${' '.repeat(padding)}\n`
  if (header.length > 0xffff) throw new NpyFormatError('too many axes for a version 1.0 header')
  const bytes = new Uint8Array(MAGIC.length + 4 + header.length + array.data.byteLength)
  bytes.set(MAGIC, 0)
  bytes[6] = 1 // major version
  bytes[7] = 0 // minor version
  bytes[8] = header.length & 0xff
  bytes[9] = header.length >> 8
  for (let i = 0; i < header.length; i++) bytes[10 + i] = header.charCodeAt(i)
  bytes.set(
    new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength),
    10 + header.length,
  )
  return bytes
}

/** The value of one key of the header's Python dict literal, as text. */
function headerValue(header: string, key: string): string {
  const match = new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|\\([^)]*\\)|True|False)`).exec(
    header,
  )
  if (!match) throw new NpyFormatError(`the header has no ${key}`)
  return match[1]
}

/** The array a .npy file holds; NpyFormatError when it is not one this reader supports. */
export function readNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((value, i) => bytes[i] !== value))
    throw new NpyFormatError('not a .npy file (no \\x93NUMPY magic)')
  const major = bytes[6]
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let headerStart: number
  let headerLength: number
  if (major === 1) {
    headerLength = view.getUint16(8, true)
    headerStart = 10
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyFormatError('truncated header')
    headerLength = view.getUint32(8, true)
    headerStart = 12
  } else {
    throw new NpyFormatError(`unsupported .npy version ${major}.${bytes[7]}`)
  }
  const dataStart = headerStart + headerLength
  if (dataStart > bytes.length) throw new NpyFormatError('truncated header')
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, dataStart),
  )
  const descr = headerValue(header, 'descr').slice(1, -1)
  const dtype = (Object.keys(NPY_DTYPES) as NpyDtype[]).find(
    (name) =>
      NPY_DTYPES[name].descr === descr ||
      // One-byte types carry no byte order; numpy may write '<u1' or '|u1'.
      (NPY_DTYPES[name].descr.startsWith('|') && descr === `<${NPY_DTYPES[name].descr.slice(1)}`),
  )
  if (!dtype) throw new NpyFormatError(`unsupported dtype ${descr} (little-endian numbers only)`)
  if (headerValue(header, 'fortran_order') !== 'False')
    throw new NpyFormatError('Fortran-ordered arrays are not supported')
  const shapeText = headerValue(header, 'shape').slice(1, -1).trim()
  const shape =
    shapeText === ''
      ? []
      : shapeText
          .split(',')
          .filter((part) => part.trim() !== '')
          .map(Number)
  const count = elementCount(shape)
  const { array } = NPY_DTYPES[dtype]
  const byteLength = count * array.BYTES_PER_ELEMENT
  if (dataStart + byteLength > bytes.length)
    throw new NpyFormatError(`the data holds fewer than the ${count} values of its shape`)
  if (!LITTLE_ENDIAN_HOST && array.BYTES_PER_ELEMENT > 1)
    throw new NpyFormatError('reading .npy needs a little-endian host')
  // A copy: the file's bytes need not be aligned for the typed array. (Not bytes.slice(): on a
  // Node Buffer that is a view into a shared pool, not a copy.)
  const copy = new Uint8Array(byteLength)
  copy.set(bytes.subarray(dataStart, dataStart + byteLength))
  return { dtype, shape, data: new array(copy.buffer, 0, count) as NpyData }
}
