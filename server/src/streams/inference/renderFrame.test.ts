import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { OUTLINE_COLOR, renderFramePng } from './renderFrame.ts'

/** A dark frame with a bright square object (label 1) at [x0, x0 + side)². */
function squareFrame(width: number, height: number, x0: number, side: number, channels = 1) {
  const samples = new Uint16Array(width * height * channels)
  const labels = new Uint32Array(width * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= x0 && x < x0 + side && y >= x0 && y < x0 + side
      const i = y * width + x
      if (inside) labels[i] = 1
      for (let c = 0; c < channels; c++)
        samples[i * channels + c] = (inside ? 30000 : 1000) + ((x * 7 + y * 13 + c) % 50)
    }
  }
  return { frame: { width, height, channels, samples }, labels }
}

async function pixelsOf(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true })
  const at = (x: number, y: number) => {
    const i = (y * info.width + x) * info.channels
    return [data[i], data[i + 1], data[i + 2]]
  }
  return { info, at }
}

describe('renderFramePng', () => {
  it('draws the objects outlines over the auto-contrasted frame', async () => {
    const { frame, labels } = squareFrame(300, 200, 50, 40)
    const png = await renderFramePng(frame, labels)
    expect(png.subarray(1, 4).toString()).toBe('PNG')
    const { info, at } = await pixelsOf(png)
    expect([info.width, info.height]).toEqual([300, 200])
    expect(at(50, 70)).toEqual([...OUTLINE_COLOR]) // left edge of the square
    expect(at(89, 60)).toEqual([...OUTLINE_COLOR]) // right edge
    const inside = at(70, 70)
    expect(inside[0]).toBeGreaterThan(200) // bright, grey
    expect(new Set(inside).size).toBe(1)
    const background = at(10, 10)
    expect(background[0]).toBeLessThan(40)
    expect(new Set(background).size).toBe(1)
  })

  it('without labels draws no outline', async () => {
    const { frame } = squareFrame(300, 200, 50, 40)
    const { at } = await pixelsOf(await renderFramePng(frame, null))
    expect(new Set(at(50, 70)).size).toBe(1)
  })

  it('composites channels in the channel colours', async () => {
    const { frame, labels } = squareFrame(120, 100, 30, 30, 2)
    // Channel 1 dark everywhere: the square shows in channel 0's colour (green) only.
    for (let i = 1; i < frame.samples.length; i += 2) frame.samples[i] = (i * 31) % 100
    const { at } = await pixelsOf(await renderFramePng(frame, labels))
    const [r, g, b] = at(45, 45)
    expect(g).toBeGreaterThan(200)
    expect(Math.max(r, b)).toBeLessThan(g / 2)
    expect(at(30, 45)).toEqual([...OUTLINE_COLOR])
  })

  it('downscales to maxSide and keeps the outlines visible', async () => {
    const { frame, labels } = squareFrame(2400, 1200, 400, 600)
    const { info, at } = await pixelsOf(await renderFramePng(frame, labels, { maxSide: 600 }))
    expect([info.width, info.height]).toEqual([600, 300])
    // The square covers [100, 250) in output pixels.
    expect(at(100, 175)).toEqual([...OUTLINE_COLOR])
    expect(at(175, 175)).not.toEqual([...OUTLINE_COLOR])
  })

  it('renders float32 and uint32 frames', async () => {
    const { frame, labels } = squareFrame(64, 48, 10, 20)
    for (const samples of [Float32Array.from(frame.samples), Uint32Array.from(frame.samples)]) {
      const { info, at } = await pixelsOf(await renderFramePng({ ...frame, samples }, labels))
      expect([info.width, info.height]).toEqual([64, 48])
      expect(at(20, 20)[0]).toBeGreaterThan(200)
      expect(at(10, 20)).toEqual([...OUTLINE_COLOR])
    }
  })
})
