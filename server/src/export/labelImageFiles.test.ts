import fc from 'fast-check'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { encodeTiff } from '../images/encodeTiff.ts'
import { decodeLabelImage, encodeLabelPng, encodeLabelTiff } from './labelImageFiles.ts'

const labelImage = fc
  .record({ width: fc.integer({ min: 1, max: 24 }), height: fc.integer({ min: 1, max: 24 }) })
  .chain(({ width, height }) =>
    fc
      .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 65535 })), {
        minLength: width * height,
        maxLength: width * height,
      })
      .map((values) => ({ width, height, labels: Uint16Array.from(values) })),
  )

/** The PNG header: bit depth and colour type from IHDR. */
const pngHeader = (png: Uint8Array) => ({ bitDepth: png[24], colourType: png[25] })

describe('label image files', () => {
  it('writes 16-bit greyscale PNG and TIFF and reads both back exactly', async () => {
    await fc.assert(
      fc.asyncProperty(labelImage, async ({ width, height, labels }) => {
        const png = await encodeLabelPng(labels, width, height)
        expect(pngHeader(png)).toEqual({ bitDepth: 16, colourType: 0 })
        const tiff = await encodeLabelTiff(labels, width, height)
        for (const file of [png, tiff]) {
          const decoded = await decodeLabelImage(file)
          expect(decoded.width).toBe(width)
          expect(decoded.height).toBe(height)
          expect(Array.from(decoded.labels)).toEqual(Array.from(labels))
        }
      }),
      { numRuns: 30 },
    )
  })

  it('keeps 16 bits as sharp itself decodes the PNG (not only our reader)', async () => {
    const labels = Uint16Array.from([0, 1, 255, 256, 65535, 40000])
    const png = await encodeLabelPng(labels, 3, 2)
    const meta = await sharp(png).metadata()
    expect(meta).toMatchObject({ format: 'png', channels: 1, depth: 'ushort', space: 'grey16' })
    const tiffMeta = await sharp(await encodeLabelTiff(labels, 3, 2)).metadata()
    expect(tiffMeta).toMatchObject({ format: 'tiff', channels: 1, depth: 'ushort' })
  })

  it('promotes 8-bit label images to uint16', async () => {
    const values = Uint8Array.from([0, 1, 2, 255, 7, 0])
    const png = await sharp(values, { raw: { width: 3, height: 2, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer()
    expect(pngHeader(png)).toEqual({ bitDepth: 8, colourType: 0 })
    const tiff = encodeTiff([{ width: 3, height: 2, channels: 1, samples: values }])
    for (const file of [png, tiff]) {
      const decoded = await decodeLabelImage(file)
      expect(decoded.labels).toEqual(Uint16Array.from(values))
    }
  })

  it('reads integer-valued float TIFFs and grey stored as RGB, refuses colour and many pages', async () => {
    const floats = Float32Array.from([0, 3, 70000, 1])
    await expect(
      decodeLabelImage(encodeTiff([{ width: 2, height: 2, channels: 1, samples: floats }])),
    ).rejects.toThrow('label value 70000 is not an integer from 0 to 65535')
    floats[2] = 12
    const fromFloat = await decodeLabelImage(
      encodeTiff([{ width: 2, height: 2, channels: 1, samples: floats }]),
    )
    expect(fromFloat.labels).toEqual(Uint16Array.from([0, 3, 12, 1]))

    const grey = await sharp(Uint8Array.from([5, 5, 5, 9, 9, 9]), {
      raw: { width: 2, height: 1, channels: 3 },
    })
      .png()
      .toBuffer()
    expect((await decodeLabelImage(grey)).labels).toEqual(Uint16Array.from([5, 9]))

    const colour = await sharp(Uint8Array.from([255, 0, 0, 0, 255, 0]), {
      raw: { width: 2, height: 1, channels: 3 },
    })
      .png()
      .toBuffer()
    await expect(decodeLabelImage(colour)).rejects.toThrow(/label image is in colour/)

    const page = { width: 1, height: 1, channels: 1, samples: Uint16Array.from([1]) }
    await expect(decodeLabelImage(encodeTiff([page, page]))).rejects.toThrow(/2 pages/)
    await expect(decodeLabelImage(new Uint8Array([1, 2, 3]))).rejects.toThrow()
  })

  it('refuses labels that do not fit the stated size', async () => {
    await expect(encodeLabelPng(new Uint16Array(5), 2, 2)).rejects.toThrow(
      '5 labels for a 2 × 2 image',
    )
  })
})
