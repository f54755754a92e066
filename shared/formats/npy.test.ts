import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  NPY_DTYPES,
  type NpyArray,
  type NpyDtype,
  NpyFormatError,
  readNpy,
  writeNpy,
} from './npy.ts'

// Written by numpy 1.24's np.save (and write_array with version (2, 0) for the last).
const NUMPY_FILES = {
  float32:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAADAPwAAAMAAAFBAAACAfwAAAIA=',
  uint8:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAv8=',
  scalarUint16:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPHUyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoHAA==',
  fortranUint16:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPHUyJywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMiksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAIAAwD//w==',
  version2Int32:
    'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8aTQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAQAAAAIAAAA=',
}
const numpyFile = (name: keyof typeof NUMPY_FILES) =>
  new Uint8Array(Buffer.from(NUMPY_FILES[name], 'base64'))

/** An array of the dtype with a random shape (up to 4 axes, some of size 0 or 1) and values. */
function arbitraryArray(dtype: NpyDtype): fc.Arbitrary<NpyArray> {
  return fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 4 }).chain((shape) => {
    const count = shape.reduce((a, b) => a * b, 1)
    const { array } = NPY_DTYPES[dtype]
    return fc
      .uint8Array({
        minLength: count * array.BYTES_PER_ELEMENT,
        maxLength: count * array.BYTES_PER_ELEMENT,
      })
      .map((bytes) => ({ dtype, shape, data: new array(bytes.buffer, 0, count) }) as NpyArray)
  })
}

describe('npy', () => {
  it('round-trips every dtype and shape bit for bit, data aligned to 64 bytes', () => {
    const dtypes = Object.keys(NPY_DTYPES) as NpyDtype[]
    fc.assert(
      fc.property(fc.constantFrom(...dtypes).chain(arbitraryArray), (array) => {
        const bytes = writeNpy(array)
        expect((bytes.length - array.data.byteLength) % 64).toBe(0)
        const read = readNpy(bytes)
        expect(read.dtype).toBe(array.dtype)
        expect(read.shape).toEqual(array.shape)
        // Compared as bytes, so NaN payloads and −0 count too.
        const bytesOf = (a: NpyArray) => [
          ...new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength),
        ]
        expect(bytesOf(read)).toEqual(bytesOf(array))
      }),
      { numRuns: 300 },
    )
  })

  it('reads what numpy writes: float32, uint8, a 0-d uint16 and a version 2.0 int32 file', () => {
    const floats = readNpy(numpyFile('float32'))
    expect(floats).toMatchObject({ dtype: 'float32', shape: [2, 3] })
    expect([...floats.data]).toEqual([0, 1.5, -2, 3.25, Number.POSITIVE_INFINITY, -0])
    expect(readNpy(numpyFile('uint8'))).toMatchObject({ dtype: 'uint8', shape: [3] })
    expect([...readNpy(numpyFile('uint8')).data]).toEqual([1, 2, 255])
    const scalar = readNpy(numpyFile('scalarUint16'))
    expect(scalar).toMatchObject({ dtype: 'uint16', shape: [] })
    expect([...scalar.data]).toEqual([7])
    const version2 = readNpy(numpyFile('version2Int32'))
    expect(version2).toMatchObject({ dtype: 'int32', shape: [3] })
    expect([...version2.data]).toEqual([0, 1, 2])
  })

  it('writes the header numpy expects for one axis, no axes and several', () => {
    const header = (array: NpyArray) => {
      const bytes = writeNpy(array)
      return new TextDecoder('latin1').decode(bytes.subarray(10, 10 + bytes[8] + 256 * bytes[9]))
    }
    expect(header({ dtype: 'uint8', shape: [3], data: new Uint8Array(3) })).toMatch(
      /^\{'descr': '\|u1', 'fortran_order': False, 'shape': \(3,\), \} *\n$/,
    )
    expect(header({ dtype: 'uint16', shape: [], data: new Uint16Array(1) })).toContain(
      "'shape': ()",
    )
    expect(header({ dtype: 'float32', shape: [1, 2, 4, 4], data: new Float32Array(32) })).toContain(
      "'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 4, 4)",
    )
  })

  it('reads from a Node Buffer (a view into a shared pool)', () => {
    const bytes = writeNpy({ dtype: 'uint16', shape: [3], data: new Uint16Array([1, 300, 65535]) })
    // Small Buffers share one pool: a copy made with Buffer's slice would read other bytes.
    const pooled = Buffer.from(bytes)
    expect(pooled.byteOffset > 0 || pooled.buffer.byteLength > pooled.length).toBe(true)
    expect([...readNpy(pooled).data]).toEqual([1, 300, 65535])
  })

  it('reads from a view at any offset of a larger buffer', () => {
    const bytes = writeNpy({ dtype: 'float32', shape: [2], data: new Float32Array([1.25, -3]) })
    const shifted = new Uint8Array(bytes.length + 3)
    shifted.set(bytes, 3)
    expect([...readNpy(shifted.subarray(3)).data]).toEqual([1.25, -3])
  })

  it('refuses what it cannot read or write', () => {
    expect(() => readNpy(numpyFile('fortranUint16'))).toThrow(/Fortran/)
    expect(() => readNpy(new Uint8Array([1, 2, 3]))).toThrow(NpyFormatError)
    const bigEndian = writeNpy({ dtype: 'float32', shape: [1], data: new Float32Array(1) })
    bigEndian[10 + "{'descr': '".length] = '>'.charCodeAt(0)
    expect(() => readNpy(bigEndian)).toThrow(/unsupported dtype >f4/)
    const truncated = writeNpy({ dtype: 'float32', shape: [4], data: new Float32Array(4) })
    expect(() => readNpy(truncated.subarray(0, truncated.length - 1))).toThrow(/fewer/)
    expect(() => writeNpy({ dtype: 'float32', shape: [3], data: new Float32Array(4) })).toThrow(
      /holds 3 values/,
    )
    expect(() => writeNpy({ dtype: 'uint16', shape: [4], data: new Float32Array(4) })).toThrow(
      /not uint16/,
    )
  })
})
