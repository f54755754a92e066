// The annotations of an image's Y.Doc as the editor reads them: each entry checked by the
// record's schema and the image's rules (shared/doc), those that fail kept aside with their
// reason, the rest in a spatial index for drawing what is in view and hit tests. Reads only.
import type * as Y from 'yjs'
import {
  allowedArea,
  annotationsOf,
  type ImageExtent,
  listAnnotations,
  readAnnotation,
} from '../../../../shared/doc/index.ts'
import type { AnnotationRecord } from '../../../../shared/schemas/annotation.ts'
import { boundsOf, hitTest, type Point } from './geometryOf.ts'
import { type Bounds, SpatialIndex } from './spatialIndex.ts'

/** An entry of the doc that is not drawn: malformed, or not allowed on the image. */
export interface SkippedEntry {
  id: string
  reason: string
}

export class AnnotationView {
  /** Where geometry may lie on the image (null without an image). */
  readonly area: Bounds | null
  private byId = new Map<string, AnnotationRecord>()
  private skippedById = new Map<string, string>()
  private index: SpatialIndex<string> | null = null
  /** The annotations, a new array after each change (a snapshot for React). */
  list: AnnotationRecord[] = []

  constructor(
    private readonly doc: Y.Doc,
    private readonly image: ImageExtent | null,
  ) {
    this.area = image ? allowedArea(image) : null
  }

  /**
   * Re-reads the changed entries (all of them when `ids` is absent). Returns whether the
   * skipped entries changed.
   */
  refresh(ids?: Iterable<string>): boolean {
    const image = this.image ?? undefined
    let skippedChanged = false
    const skip = (id: string, error: string) => {
      const reason = error.startsWith(`${id}: `) ? error.slice(id.length + 2) : error
      if (this.skippedById.get(id) !== reason) skippedChanged = true
      this.skippedById.set(id, reason)
    }
    if (!ids) {
      const { parsed, failed } = listAnnotations(this.doc, image)
      this.byId = new Map(parsed.map((a) => [a.id, a]))
      skippedChanged = this.skippedById.size > 0
      this.skippedById = new Map()
      for (const { id, error } of failed) skip(id, error)
    } else {
      const entries = annotationsOf(this.doc)
      for (const id of ids) {
        const read = entries.has(id) ? readAnnotation(id, entries.get(id), image) : null
        if (read?.parsed) this.byId.set(id, read.parsed)
        else this.byId.delete(id)
        if (read?.error !== undefined) skip(id, read.error)
        else if (this.skippedById.delete(id)) skippedChanged = true
      }
    }
    this.list = [...this.byId.values()]
    this.index = null
    return skippedChanged
  }

  get(id: string): AnnotationRecord | undefined {
    return this.byId.get(id)
  }

  has(id: string): boolean {
    return this.byId.has(id)
  }

  isSkipped(id: string): boolean {
    return this.skippedById.has(id)
  }

  skipped(): SkippedEntry[] {
    return [...this.skippedById].map(([id, reason]) => ({ id, reason }))
  }

  private spatialIndex(): SpatialIndex<string> {
    if (!this.index) {
      const index = new SpatialIndex<string>(128, this.area)
      for (const a of this.list) index.insert(a.id, boundsOf(a))
      this.index = index
    }
    return this.index
  }

  /** Annotations whose bounds intersect an area of the image. */
  annotationsIn(area: Bounds): AnnotationRecord[] {
    return this.spatialIndex()
      .query(area)
      .map((id) => this.byId.get(id)!)
  }

  /** The topmost annotation within `tolerance` image pixels of a point, or null. */
  annotationAt(point: Point, tolerance: number): string | null {
    const candidates = this.annotationsIn({
      minX: point.x - tolerance,
      minY: point.y - tolerance,
      maxX: point.x + tolerance,
      maxY: point.y + tolerance,
    })
    // Smallest first: a click inside a nucleus inside a cell picks the nucleus.
    candidates.sort((a, b) => {
      const ba = boundsOf(a)
      const bb = boundsOf(b)
      return (ba.maxX - ba.minX) * (ba.maxY - ba.minY) - (bb.maxX - bb.minX) * (bb.maxY - bb.minY)
    })
    return candidates.find((a) => hitTest(a, point, tolerance))?.id ?? null
  }
}
