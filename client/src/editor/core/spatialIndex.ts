// A uniform grid over annotation bounds: which annotations may intersect a rectangle (drawing
// only what is in view) or contain a point (hit tests without Konva's hit canvas). Pure. Whatever
// bounds it is given (huge, far away, not finite), an insert or a query visits a bounded number
// of cells: cells are clamped to an extent, and what would span too many is checked one by one.

export interface Bounds {
  minX: number
  minY: number
  maxX: number
  maxY: number
}

/** An item spanning more cells than this is kept in a list checked by every query instead. */
export const MAX_CELLS_PER_ITEM = 1024
/** A query over more cells than this (or than there are items) checks every item instead. */
const MAX_CELLS_PER_QUERY = 4096
/** Cell indices are clamped to ±this, so keys stay exact integers (2^21 × 2^21 cells). */
const CELL_LIMIT = 2 ** 20
const CELL_SPAN = 2 * CELL_LIMIT + 1

interface CellRange {
  x0: number
  y0: number
  columns: number
  rows: number
}

export class SpatialIndex<T> {
  private readonly cells = new Map<number, T[]>()
  private readonly bounds = new Map<T, Bounds>()
  /** Items too large (or with bounds not finite) for the grid: checked by every query. */
  private readonly large: T[] = []

  /**
   * `extent`: where items are expected (the image and its margin); bounds beyond it are clamped
   * to its edge cells, which keeps far-away items findable and the grid small.
   */
  constructor(
    private readonly cellSize = 128,
    private readonly extent: Bounds | null = null,
  ) {}

  /** The cells a rectangle covers, clamped to the extent and the cell limit; null if not finite. */
  private cellRange(b: Bounds): CellRange | null {
    const e = this.extent
    const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v))
    const cellX = (x: number) => this.cell(e ? clamp(x, e.minX, e.maxX) : x)
    const cellY = (y: number) => this.cell(e ? clamp(y, e.minY, e.maxY) : y)
    const x0 = cellX(b.minX)
    const x1 = cellX(b.maxX)
    const y0 = cellY(b.minY)
    const y1 = cellY(b.maxY)
    if (!Number.isFinite(x0 + x1 + y0 + y1) || x1 < x0 || y1 < y0) return null
    return { x0, y0, columns: x1 - x0 + 1, rows: y1 - y0 + 1 }
  }

  private cell(v: number) {
    return Math.min(CELL_LIMIT, Math.max(-CELL_LIMIT, Math.floor(v / this.cellSize)))
  }

  private key(cx: number, cy: number) {
    return (cx + CELL_LIMIT) * CELL_SPAN + (cy + CELL_LIMIT)
  }

  insert(item: T, b: Bounds) {
    this.bounds.set(item, b)
    const range = this.cellRange(b)
    if (!range || range.columns * range.rows > MAX_CELLS_PER_ITEM) {
      this.large.push(item)
      return
    }
    // Integer counters: a cell index near a float's precision limit never stalls the loop.
    for (let i = 0; i < range.columns; i++) {
      for (let j = 0; j < range.rows; j++) {
        const k = this.key(range.x0 + i, range.y0 + j)
        const cell = this.cells.get(k)
        if (cell) cell.push(item)
        else this.cells.set(k, [item])
      }
    }
  }

  private intersects(item: T, area: Bounds) {
    const b = this.bounds.get(item)!
    return b.maxX >= area.minX && b.minX <= area.maxX && b.maxY >= area.minY && b.minY <= area.maxY
  }

  /** Items whose bounds intersect the rectangle, each once. */
  query(area: Bounds): T[] {
    const range = this.cellRange(area)
    if (!range) return []
    const cellCount = range.columns * range.rows
    if (cellCount > Math.max(MAX_CELLS_PER_QUERY, this.bounds.size)) {
      // Cheaper (and bounded) to check every item than to visit every cell.
      return [...this.bounds.keys()].filter((item) => this.intersects(item, area))
    }
    const seen = new Set<T>()
    const out: T[] = []
    for (let i = 0; i < range.columns; i++) {
      for (let j = 0; j < range.rows; j++) {
        for (const item of this.cells.get(this.key(range.x0 + i, range.y0 + j)) ?? []) {
          if (seen.has(item)) continue
          seen.add(item)
          if (this.intersects(item, area)) out.push(item)
        }
      }
    }
    for (const item of this.large) if (this.intersects(item, area)) out.push(item)
    return out
  }

  get size() {
    return this.bounds.size
  }
}
