// A uniform grid over annotation bounds: which annotations may intersect a rectangle (drawing
// only what is in view) or contain a point (hit tests without Konva's hit canvas). Pure.

export interface Bounds {
  minX: number
  minY: number
  maxX: number
  maxY: number
}

export class SpatialIndex<T> {
  private readonly cells = new Map<number, T[]>()
  private readonly bounds = new Map<T, Bounds>()

  constructor(private readonly cellSize = 128) {}

  private key(cx: number, cy: number) {
    return cx * 73_856_093 + cy
  }

  insert(item: T, b: Bounds) {
    this.bounds.set(item, b)
    const s = this.cellSize
    for (let cx = Math.floor(b.minX / s); cx <= Math.floor(b.maxX / s); cx++) {
      for (let cy = Math.floor(b.minY / s); cy <= Math.floor(b.maxY / s); cy++) {
        const k = this.key(cx, cy)
        const cell = this.cells.get(k)
        if (cell) cell.push(item)
        else this.cells.set(k, [item])
      }
    }
  }

  /** Items whose bounds intersect the rectangle, each once. */
  query(area: Bounds): T[] {
    const s = this.cellSize
    const seen = new Set<T>()
    const out: T[] = []
    for (let cx = Math.floor(area.minX / s); cx <= Math.floor(area.maxX / s); cx++) {
      for (let cy = Math.floor(area.minY / s); cy <= Math.floor(area.maxY / s); cy++) {
        for (const item of this.cells.get(this.key(cx, cy)) ?? []) {
          if (seen.has(item)) continue
          seen.add(item)
          const b = this.bounds.get(item)!
          if (
            b.maxX >= area.minX &&
            b.minX <= area.maxX &&
            b.maxY >= area.minY &&
            b.minY <= area.maxY
          )
            out.push(item)
        }
      }
    }
    return out
  }

  get size() {
    return this.bounds.size
  }
}
