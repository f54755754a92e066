// Interactive segmentation of one image with one model version, the same in the browser's worker
// and in Node: the image is encoded in windows (tiles of the card's tile size for the background
// pass, or a small window around a click that lands where no encoded window reaches), features
// are cached per window (least recently used go first), each object's clicks run only the click
// decoder on a crop of its window, and each tile's automatic proposals come from the same
// encoder pass. Coordinates are image pixels; scheduling (what runs when) belongs to the caller.

import { maskToPolygons } from '../geometry/maskToPolygons.ts'
import { insidePolygon, polygonArea } from '../geometry/polygon.ts'
import type { ChannelStats } from '../schemas/images.ts'
import type { Click } from './clickSimulation.ts'
import { normalizeImage } from './normalization.ts'
import type { EncodedImage, Segmenter } from './segmenter.ts'

export interface Rect {
  x: number
  y: number
  width: number
  height: number
}

export interface RawImage {
  width: number
  height: number
  channels: number
  /** Interleaved samples (height × width × channels), any numeric type. */
  samples: ArrayLike<number>
  /** Whole-image statistics per channel (normalisation uses the image's, never a tile's). */
  stats: readonly ChannelStats[]
}

export interface ObjectMask {
  /** Where the mask lies in the image (inside the image). */
  rect: Rect
  /** 1 = object, row-major over rect. */
  mask: Uint8Array
  /** The connected part under the first positive click (else the largest), as polygon rings
   * in image coordinates (outer first, then holes); null when the mask is empty. */
  rings: number[][] | null
  /** Whether this click had to encode a window first. */
  encoded: boolean
}

/** Milliseconds spent in each step of the latest encode and the latest click. */
export interface SessionTimings {
  encodeMs: number
  proposeMs: number
  decodeMs: number
  /** Of decodeMs: the decoder graph alone, and the full-resolution refinement. */
  decoderGraphMs: number
  refineMs: number
  maskMs: number
}

export interface ProposalShape {
  rings: number[][]
  score: number
  area: number
  bbox: Rect
}

interface EncodedWindow {
  key: string
  rect: Rect
  encoded: EncodedImage
  lastUsed: number
}

interface ObjectState {
  windowKey: string
  /** Decoder crop in window coordinates. */
  crop: Rect
  lowRes: Float32Array
}

/** A point is served by a window when every window side that is not an image side is at least
 * this far away, so the object around it is inside the window with its context. */
export const CONTEXT_MARGIN = 64
/** Extra context around the click crop when a click has to encode its own window. */
const CLICK_WINDOW_MARGIN = 32
/** Polygon simplification of click masks and proposals, in pixels. */
export const POLYGON_TOLERANCE = 0.5

const keyOf = (r: Rect) => `${r.x},${r.y},${r.width},${r.height}`

/** Window starts along one axis: tiles of `size` overlapping by `overlap`, covering [0, length). */
function tileStarts(length: number, size: number, overlap: number): number[] {
  if (length <= size) return [0]
  const step = Math.max(1, size - overlap)
  const starts: number[] = []
  for (let s = 0; s + size < length; s += step) starts.push(s)
  starts.push(length - size)
  return starts
}

/** Boundaries that split an axis among its tiles: the middle of each overlap. */
function tileCores(starts: number[], size: number, length: number): [number, number][] {
  return starts.map((s, i) => [
    i === 0 ? 0 : Math.round((s + starts[i - 1] + size) / 2),
    i === starts.length - 1 ? length : Math.round((starts[i + 1] + s + size) / 2),
  ])
}

export interface Tile {
  rect: Rect
  /** The part of the image this tile answers for (tiles' cores partition the image). */
  core: Rect
}

/** The background tiling of an image: one tile when it fits, else overlapping tiles. */
export function planTiles(width: number, height: number, size: number, overlap: number): Tile[] {
  const xs = tileStarts(width, size, overlap)
  const ys = tileStarts(height, size, overlap)
  const tw = Math.min(size, width)
  const th = Math.min(size, height)
  const xCores = tileCores(xs, tw, width)
  const yCores = tileCores(ys, th, height)
  const tiles: Tile[] = []
  ys.forEach((y, j) => {
    xs.forEach((x, i) => {
      tiles.push({
        rect: { x, y, width: tw, height: th },
        core: {
          x: xCores[i][0],
          y: yCores[j][0],
          width: xCores[i][1] - xCores[i][0],
          height: yCores[j][1] - yCores[j][0],
        },
      })
    })
  })
  return tiles
}

const contains = (r: Rect, x: number, y: number) =>
  x >= r.x && y >= r.y && x < r.x + r.width && y < r.y + r.height
export const intersects = (a: Rect, b: Rect) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height

export class ImageSession {
  readonly tiles: Tile[]
  private windows = new Map<string, EncodedWindow>()
  private proposals = new Map<string, ProposalShape[]>()
  private objects = new Map<number, ObjectState>()
  private clock = 0
  readonly timings: SessionTimings = {
    encodeMs: 0,
    proposeMs: 0,
    decodeMs: 0,
    decoderGraphMs: 0,
    refineMs: 0,
    maskMs: 0,
  }

  constructor(
    readonly segmenter: Segmenter,
    readonly image: RawImage,
    /** Encoded windows kept at once (a 512² tile of v0 takes about 12 MB). */
    readonly maxWindows = 16,
  ) {
    const { tileSize } = segmenter.card.input
    const overlap = Number((segmenter.card.input as { tileOverlap?: unknown }).tileOverlap ?? 64)
    this.tiles = planTiles(image.width, image.height, tileSize, overlap)
    if (image.samples.length !== image.width * image.height * image.channels)
      throw new Error('The image samples do not match its size and channels')
  }

  get version() {
    return this.segmenter.card.version
  }

  /** Tiles not encoded yet (or evicted), the ones nearest to `focus` first. */
  pendingTiles(focus?: Rect): Tile[] {
    const pending = this.tiles.filter((t) => !this.proposals.has(keyOf(t.rect)))
    if (!focus) return pending
    const cx = focus.x + focus.width / 2
    const cy = focus.y + focus.height / 2
    const distance = (t: Tile) => {
      const visible = intersects(t.rect, focus) ? 0 : 1e9
      return (
        visible + Math.hypot(t.rect.x + t.rect.width / 2 - cx, t.rect.y + t.rect.height / 2 - cy)
      )
    }
    return pending.sort((a, b) => distance(a) - distance(b))
  }

  /** Whether every tile is encoded and its proposals known. */
  get complete() {
    return this.tiles.every((t) => this.proposals.has(keyOf(t.rect)))
  }

  /** Encodes one background tile (features cached, proposals kept). */
  async encodeTile(tile: Tile): Promise<void> {
    const window = await this.encodeWindow(tile.rect)
    const started = performance.now()
    this.proposals.set(keyOf(tile.rect), this.tileProposals(window, tile.core))
    this.timings.proposeMs = performance.now() - started
  }

  /** Proposals whose box centre is inside `area`, from tiles encoded so far. */
  proposalsIn(area: Rect): ProposalShape[] {
    const out: ProposalShape[] = []
    for (const list of this.proposals.values()) {
      for (const p of list) {
        if (contains(area, p.bbox.x + p.bbox.width / 2, p.bbox.y + p.bbox.height / 2)) out.push(p)
      }
    }
    return out
  }

  /** Tiles whose cores meet `area` and that have no proposals yet. */
  tilesMissingFor(area: Rect): Tile[] {
    return this.tiles.filter((t) => intersects(t.core, area) && !this.proposals.has(keyOf(t.rect)))
  }

  /** Forgets an object's click history (after accept or discard). */
  forget(objectKey: number) {
    this.objects.delete(objectKey)
  }

  /**
   * The object's mask after its clicks so far (image coordinates; the first must be positive).
   * Reuses the object's window and previous logits while its clicks stay inside its crop.
   */
  async click(objectKey: number, clicks: readonly Click[]): Promise<ObjectMask> {
    if (clicks.length === 0) throw new Error('An object needs at least one click')
    const { segmenter } = this
    const anchor = clicks[0]
    let state = this.objects.get(objectKey)
    let window = state ? this.windows.get(state.windowKey) : undefined
    const inside = (w: EncodedWindow, crop: Rect) =>
      clicks.every((c) => contains(crop, c.x - w.rect.x, c.y - w.rect.y))
    if (!state || !window || !inside(window, state.crop)) {
      state = undefined
      window = undefined
    }
    let encoded = false
    if (!window) {
      window = this.windowServing(anchor.x, anchor.y)
      if (!window) {
        window = await this.encodeWindow(this.clickWindow(anchor.x, anchor.y))
        encoded = true
      }
    }
    window.lastUsed = ++this.clock
    let crop = state?.crop
    if (!crop) {
      // Centre the crop on the clicks (all of them fit when they are close enough).
      const cx = clicks.reduce((s, c) => s + c.x, 0) / clicks.length - window.rect.x
      const cy = clicks.reduce((s, c) => s + c.y, 0) / clicks.length - window.rect.y
      crop = segmenter.cropAround(window.encoded, cx, cy)
    }
    const local = clicks.map((c) => ({
      x: c.x - window.rect.x,
      y: c.y - window.rect.y,
      positive: c.positive,
    }))
    const decodeStarted = performance.now()
    const result = await segmenter.decode(window.encoded, crop, local, state?.lowRes ?? null)
    this.objects.set(objectKey, { windowKey: window.key, crop, lowRes: result.lowRes })
    const maskStarted = performance.now()
    const mask = this.maskOf(window, crop, result.logits, anchor)
    this.timings.decodeMs = maskStarted - decodeStarted
    this.timings.decoderGraphMs = segmenter.lastDecode.runMs
    this.timings.refineMs = segmenter.lastDecode.refineMs
    this.timings.maskMs = performance.now() - maskStarted
    return { ...mask, encoded }
  }

  private maskOf(window: EncodedWindow, crop: Rect, logits: Float32Array, anchor: Click) {
    const threshold = this.segmenter.card.clickEncoding.maskThreshold
    // The crop may reach into the padding beyond the image: clip it.
    const x0 = window.rect.x + crop.x
    const y0 = window.rect.y + crop.y
    const width = Math.min(crop.width, this.image.width - x0, window.rect.width - crop.x)
    const height = Math.min(crop.height, this.image.height - y0, window.rect.height - crop.y)
    const mask = new Uint8Array(width * height)
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        mask[y * width + x] = logits[y * crop.width + x] > threshold ? 1 : 0
      }
    }
    const parts = maskToPolygons(mask, width, height, {
      originX: x0,
      originY: y0,
      tolerance: POLYGON_TOLERANCE,
    })
    const clicked = parts.find((p) => insidePolygon(p.rings, anchor.x, anchor.y))
    const largest = parts.reduce<(typeof parts)[number] | null>(
      (best, p) => (!best || polygonArea(p.rings) > polygonArea(best.rings) ? p : best),
      null,
    )
    return {
      rect: { x: x0, y: y0, width, height },
      mask,
      rings: (clicked ?? largest)?.rings ?? null,
    }
  }

  /** The cached window that gives the point the most context, if one gives it enough. */
  private windowServing(x: number, y: number): EncodedWindow | undefined {
    let best: EncodedWindow | undefined
    let bestRoom = -1
    for (const w of this.windows.values()) {
      const r = w.rect
      if (!contains(r, x, y)) continue
      const sides = [
        r.x === 0 ? Infinity : x - r.x,
        r.y === 0 ? Infinity : y - r.y,
        r.x + r.width >= this.image.width ? Infinity : r.x + r.width - x,
        r.y + r.height >= this.image.height ? Infinity : r.y + r.height - y,
      ]
      const room = Math.min(...sides)
      if (room >= CONTEXT_MARGIN && room > bestRoom) {
        best = w
        bestRoom = room
      }
    }
    return best
  }

  /** A window centred on a click: the click crop plus a margin, inside the image. */
  private clickWindow(x: number, y: number): Rect {
    const size = this.segmenter.card.input.clickCropSize + 2 * CLICK_WINDOW_MARGIN
    const width = Math.min(size, this.image.width)
    const height = Math.min(size, this.image.height)
    const left = Math.max(0, Math.min(this.image.width - width, Math.round(x - width / 2)))
    const top = Math.max(0, Math.min(this.image.height - height, Math.round(y - height / 2)))
    return { x: left, y: top, width, height }
  }

  private async encodeWindow(rect: Rect): Promise<EncodedWindow> {
    const key = keyOf(rect)
    const cached = this.windows.get(key)
    if (cached) return cached
    const { image } = this
    const channels = image.channels
    const samples = new Float64Array(rect.width * rect.height * channels)
    for (let row = 0; row < rect.height; row++) {
      const from = ((rect.y + row) * image.width + rect.x) * channels
      const to = row * rect.width * channels
      for (let i = 0; i < rect.width * channels; i++) samples[to + i] = image.samples[from + i]
    }
    const started = performance.now()
    const { channels: modelChannels, polarity } = this.segmenter.card.input
    const data = normalizeImage(
      samples,
      rect.width,
      rect.height,
      channels,
      image.stats,
      modelChannels,
      polarity,
    )
    const encoded = await this.segmenter.encode({
      data,
      channels: modelChannels,
      height: rect.height,
      width: rect.width,
    })
    this.timings.encodeMs = performance.now() - started
    const window = { key, rect, encoded, lastUsed: ++this.clock }
    this.windows.set(key, window)
    this.evict()
    return window
  }

  private evict() {
    while (this.windows.size > this.maxWindows) {
      let oldest: EncodedWindow | undefined
      for (const w of this.windows.values()) if (!oldest || w.lastUsed < oldest.lastUsed) oldest = w
      if (!oldest) return
      this.windows.delete(oldest.key)
    }
  }

  private tileProposals(window: EncodedWindow, core: Rect): ProposalShape[] {
    const { labels, proposals } = this.segmenter.propose(window.encoded)
    const { rect } = window
    const out: ProposalShape[] = []
    for (const p of proposals) {
      const cx = rect.x + p.bbox.x + p.bbox.width / 2
      const cy = rect.y + p.bbox.y + p.bbox.height / 2
      if (!contains(core, cx, cy)) continue
      const mask = new Uint8Array(p.bbox.width * p.bbox.height)
      for (let y = 0; y < p.bbox.height; y++) {
        for (let x = 0; x < p.bbox.width; x++) {
          const label = labels[(p.bbox.y + y) * rect.width + p.bbox.x + x]
          mask[y * p.bbox.width + x] = label === p.id ? 1 : 0
        }
      }
      const parts = maskToPolygons(mask, p.bbox.width, p.bbox.height, {
        originX: rect.x + p.bbox.x,
        originY: rect.y + p.bbox.y,
        tolerance: POLYGON_TOLERANCE,
      })
      if (parts.length === 0) continue
      const largest = parts.reduce((best, q) =>
        polygonArea(q.rings) > polygonArea(best.rings) ? q : best,
      )
      out.push({
        rings: largest.rings,
        score: p.score,
        area: p.area,
        bbox: {
          x: rect.x + p.bbox.x,
          y: rect.y + p.bbox.y,
          width: p.bbox.width,
          height: p.bbox.height,
        },
      })
    }
    return out
  }
}
