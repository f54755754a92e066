// fast-check generators of binary masks for the geometry property tests: pixel noise (many
// components, holes, diagonal touches) and smooth blobs (unions of ellipses, with holes).
import fc from 'fast-check'

export interface SizedMask {
  width: number
  height: number
  data: Uint8Array
}

/** Uniform pixel noise: every pixel independently on or off. */
export const noiseMask = (maxSide = 16) =>
  fc
    .record({
      width: fc.integer({ min: 1, max: maxSide }),
      height: fc.integer({ min: 1, max: maxSide }),
    })
    .chain(({ width, height }) =>
      fc
        .uint8Array({ minLength: width * height, maxLength: width * height, max: 1 })
        .map((data): SizedMask => ({ width, height, data })),
    )

/** An ellipse with radii in [minRadius, maxRadius], its centre anywhere on the mask. */
const ellipse = (side: number, minRadius: number, maxRadius: number) =>
  fc.record({
    cx: fc.double({ min: 0, max: side, noNaN: true }),
    cy: fc.double({ min: 0, max: side, noNaN: true }),
    rx: fc.double({ min: minRadius, max: maxRadius, noNaN: true }),
    ry: fc.double({ min: minRadius, max: maxRadius, noNaN: true }),
  })

/** The same, placed so that it lies wholly inside the mask. */
const insideEllipse = (side: number, minRadius: number, maxRadius: number) =>
  ellipse(1, minRadius, maxRadius).map((e) => ({
    ...e,
    cx: e.rx + e.cx * (side - 2 * e.rx),
    cy: e.ry + e.cy * (side - 2 * e.ry),
  }))

type Ellipse = { cx: number; cy: number; rx: number; ry: number }
const covers = (e: Ellipse, x: number, y: number) =>
  ((x - e.cx) / e.rx) ** 2 + ((y - e.cy) / e.ry) ** 2 <= 1

/**
 * Blob-like objects: a union of ellipses (radii minRadius..maxRadius) minus a few holes of
 * holeRadius at most, drawn at pixel centres on a side × side mask. With `inside`, the
 * ellipses lie wholly inside the mask (else the border may cut them anywhere).
 */
export const blobMask = (options: {
  side: number
  minRadius: number
  maxRadius: number
  maxBlobs: number
  maxHoles: number
  holeRadius: number
  inside?: boolean
}) =>
  fc
    .record({
      blobs: fc.array(
        (options.inside ? insideEllipse : ellipse)(
          options.side,
          options.minRadius,
          options.maxRadius,
        ),
        {
          minLength: 1,
          maxLength: options.maxBlobs,
        },
      ),
      holes: fc.array(ellipse(options.side, 1, Math.max(1, options.holeRadius)), {
        maxLength: options.maxHoles,
      }),
    })
    .map(({ blobs, holes }): SizedMask => {
      const { side } = options
      const data = new Uint8Array(side * side)
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const px = x + 0.5
          const py = y + 0.5
          data[y * side + x] =
            blobs.some((e) => covers(e, px, py)) && !holes.some((e) => covers(e, px, py)) ? 1 : 0
        }
      }
      return { width: side, height: side, data }
    })
