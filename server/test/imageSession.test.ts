// The interactive session the browser's worker runs, here on onnxruntime-node with the shipped
// model v0: a click on a nucleus of a demo image gives its mask, later clicks refine the same
// object, a click outside any encoded window encodes only a small window, and the tiles of a
// large image give proposals without duplicates where tiles overlap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { maskIoU } from '../../shared/geometry/iou.ts'
import { rasterizePolygon } from '../../shared/geometry/rasterize.ts'
import { ImageSession, planTiles } from '../../shared/ml/imageSession.ts'
import { computeChannelStats } from '../../shared/ml/normalization.ts'
import type { Segmenter } from '../../shared/ml/segmenter.ts'
import { generateNuclei, type SyntheticImage } from '../src/demo/syntheticNuclei.ts'
import { loadSegmenter, SHIPPED_MODEL_DIR } from '../src/models/loadModel.ts'

let segmenter: Segmenter
beforeAll(async () => {
  segmenter = await loadSegmenter(SHIPPED_MODEL_DIR, 1)
})
afterAll(async () => {
  await segmenter?.release()
})

function rawOf(image: SyntheticImage) {
  const { width, height, channels } = image.spec
  const stats = Array.from({ length: channels }, (_, c) => {
    const plane = new Float64Array(width * height)
    for (let i = 0; i < plane.length; i++) plane[i] = image.pixels[i * channels + c]
    return computeChannelStats(plane)
  })
  return { width, height, channels, samples: image.pixels, stats }
}

/** IoU of the polygon (rasterised at pixel centres) with one label of the image. */
function iouWithLabel(rings: number[][], image: SyntheticImage, label: number) {
  const { width, height } = image.spec
  const predicted = rasterizePolygon(rings, width, height)
  const truth = new Uint8Array(width * height)
  for (let i = 0; i < truth.length; i++) truth[i] = image.labels[i] === label ? 1 : 0
  return maskIoU(predicted, truth)
}

describe('planTiles', () => {
  it('covers the image with tiles whose cores partition it exactly', () => {
    for (const [w, h] of [
      [300, 200],
      [512, 512],
      [1100, 600],
      [2048, 1500],
    ]) {
      const tiles = planTiles(w, h, 512, 64)
      const covered = new Uint8Array(w * h)
      for (const t of tiles) {
        expect(t.rect.x + t.rect.width).toBeLessThanOrEqual(w)
        expect(t.rect.y + t.rect.height).toBeLessThanOrEqual(h)
        for (let y = t.core.y; y < t.core.y + t.core.height; y++)
          for (let x = t.core.x; x < t.core.x + t.core.width; x++) covered[y * w + x]++
        // A core lies inside its tile.
        expect(t.core.x).toBeGreaterThanOrEqual(t.rect.x)
        expect(t.core.x + t.core.width).toBeLessThanOrEqual(t.rect.x + t.rect.width)
      }
      expect(covered.every((c) => c === 1)).toBe(true)
    }
    expect(planTiles(512, 512, 512, 64)).toHaveLength(1)
  })
})

describe('ImageSession on the shipped model', () => {
  const demo = generateNuclei({
    seed: 11,
    width: 512,
    height: 512,
    channels: 1,
    count: 40,
    radius: [9, 16],
  })

  it('segments a clicked nucleus with one click, before and after the image is encoded', async () => {
    const session = new ImageSession(segmenter, rawOf(demo))
    // Nuclei whose centre is clear of the image border and of other nuclei.
    const clear = demo.nuclei.filter(
      (n) =>
        n.cx > 40 &&
        n.cy > 40 &&
        n.cx < 472 &&
        n.cy < 472 &&
        demo.labels[Math.round(n.cy) * 512 + Math.round(n.cx)] === n.label,
    )
    expect(clear.length).toBeGreaterThan(10)
    const first = await session.click(1, [{ x: clear[0].cx, y: clear[0].cy, positive: true }])
    expect(first.encoded).toBe(true)
    expect(first.rings).not.toBeNull()
    // That window was small (the click crop plus a margin), not the whole image.
    expect(session.complete).toBe(false)
    await session.encodeTile(session.pendingTiles()[0])
    expect(session.complete).toBe(true)
    const ious: number[] = []
    for (const [k, n] of clear.slice(0, 10).entries()) {
      const result = await session.click(100 + k, [{ x: n.cx, y: n.cy, positive: true }])
      expect(result.encoded).toBe(false)
      ious.push(iouWithLabel(result.rings!, demo, n.label))
    }
    ious.sort((a, b) => a - b)
    expect(ious[Math.floor(ious.length / 2)]).toBeGreaterThanOrEqual(0.8)
  })

  it('refines an object with a negative click, reusing its window and crop', async () => {
    const session = new ImageSession(segmenter, rawOf(demo))
    await session.encodeTile(session.tiles[0])
    const n = demo.nuclei.find((m) => m.cx > 60 && m.cy > 60 && m.cx < 450 && m.cy < 450)!
    const one = await session.click(7, [{ x: n.cx, y: n.cy, positive: true }])
    const area = one.mask.reduce((s, v) => s + v, 0)
    // A negative click on the object's own centre must shrink it.
    const two = await session.click(7, [
      { x: n.cx, y: n.cy, positive: true },
      { x: n.cx + 1, y: n.cy, positive: false },
    ])
    expect(two.encoded).toBe(false)
    expect(two.mask.reduce((s, v) => s + v, 0)).toBeLessThan(area)
  })

  it('makes every clicked pixel follow its click, keeping the polygon to the first object', async () => {
    const session = new ImageSession(segmenter, rawOf(demo))
    await session.encodeTile(session.tiles[0])
    const n = demo.nuclei.find((m) => m.cx > 100 && m.cy > 100 && m.cx < 400 && m.cy < 400)!
    const start = { x: Math.floor(n.cx), y: Math.floor(n.cy), positive: true }
    // A background pixel inside the object's crop, at least 6 px from every nucleus pixel.
    let far: { x: number; y: number } | null = null
    for (let dy = -60; dy <= 60 && !far; dy += 3)
      for (let dx = -60; dx <= 60 && !far; dx += 3) {
        const x = start.x + dx
        const y = start.y + dy
        let clear = true
        for (let v = -6; v <= 6 && clear; v++)
          for (let u = -6; u <= 6 && clear; u++)
            if (demo.labels[(y + v) * 512 + x + u]) clear = false
        if (clear) far = { x, y }
      }
    expect(far).not.toBeNull()
    const at = (
      r: { rect: { x: number; y: number; width: number }; mask: Uint8Array },
      p: { x: number; y: number },
    ) => r.mask[(p.y - r.rect.y) * r.rect.width + (p.x - r.rect.x)]
    const one = await session.click(9, [start])
    expect(at(one, far!)).toBe(0)
    const two = await session.click(9, [start, { ...far!, positive: true }])
    expect(at(two, far!)).toBe(1)
    // The polygon is still the clicked nucleus alone, not the lone pixel far from it.
    expect(iouWithLabel(two.rings!, demo, n.label)).toBeGreaterThan(0.7)
    // A negative click on the first click's pixel removes it; the later click wins.
    const three = await session.click(9, [
      start,
      { ...far!, positive: true },
      { ...start, positive: false },
    ])
    expect(at(three, start)).toBe(0)
  })

  it('gives proposals over tiles of a large image without duplicates in the overlaps', async () => {
    const big = generateNuclei({
      seed: 5,
      width: 1000,
      height: 560,
      channels: 1,
      count: 90,
      radius: [8, 14],
    })
    const session = new ImageSession(segmenter, rawOf(big))
    expect(session.tiles.length).toBeGreaterThan(1)
    for (const tile of session.pendingTiles({ x: 0, y: 0, width: 100, height: 100 }))
      await session.encodeTile(tile)
    const proposals = session.proposalsIn({ x: 0, y: 0, width: 1000, height: 560 })
    expect(proposals.length).toBeGreaterThan(60)
    // No two proposals cover the same nucleus (IoU of their rasterised polygons below 0.5).
    const masks = proposals.map((p) => rasterizePolygon(p.rings, 1000, 560))
    let duplicates = 0
    for (let i = 0; i < masks.length; i++)
      for (let j = i + 1; j < masks.length; j++) {
        const a = proposals[i].bbox
        const b = proposals[j].bbox
        const overlap =
          a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
        if (overlap && maskIoU(masks[i], masks[j]) >= 0.5) duplicates++
      }
    expect(duplicates).toBe(0)
    for (const p of proposals) expect(p.score).toBeGreaterThan(0)
  })
})
