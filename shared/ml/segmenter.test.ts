import { describe, expect, it } from 'vitest'
import { createRandom } from '../random/createRandom.ts'
import { cropPlanes, type Planes } from './segmenter.ts'

/** The definition: every output cell takes the source cell at its place, or 0 outside it. */
function naiveCrop(source: Planes, x0: number, y0: number, width: number, height: number) {
  const data = new Float32Array(source.channels * width * height)
  for (let c = 0; c < source.channels; c++)
    for (let row = 0; row < height; row++)
      for (let col = 0; col < width; col++) {
        const sx = x0 + col
        const sy = y0 + row
        if (sx >= 0 && sy >= 0 && sx < source.width && sy < source.height)
          data[(c * height + row) * width + col] =
            source.data[(c * source.height + sy) * source.width + sx]
      }
  return data
}

describe('cropPlanes', () => {
  it('copies any window, partly or wholly outside the source, as the definition says', () => {
    const random = createRandom(3)
    for (let trial = 0; trial < 200; trial++) {
      const source: Planes = {
        channels: 1 + Math.floor(random() * 3),
        width: 1 + Math.floor(random() * 20),
        height: 1 + Math.floor(random() * 20),
        data: new Float32Array(0),
      }
      source.data = Float32Array.from(
        { length: source.channels * source.width * source.height },
        () => random(),
      )
      const x0 = Math.floor(random() * 40) - 20
      const y0 = Math.floor(random() * 40) - 20
      const width = 1 + Math.floor(random() * 30)
      const height = 1 + Math.floor(random() * 30)
      expect(cropPlanes(source, x0, y0, width, height).data).toEqual(
        naiveCrop(source, x0, y0, width, height),
      )
    }
  })
})
