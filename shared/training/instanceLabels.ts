// An image's annotations as one instance label image (0 = background, 1..N = instances), the
// form training sets and label-mask export share. Pure: shapes are rasterised by
// shared/geometry under its pixel-centre rule (ARCHITECTURE decision 3); never reads a document.
import { geometryBounds, pixelWindowOf } from '../geometry/bounds.ts'
import { rasterizeGeometry } from '../geometry/rasterize.ts'
import type { AnnotationRecord } from '../schemas/annotation.ts'

/** Label values are uint16: at most this many instances in one image. */
export const MAX_INSTANCES = 65_535

export interface Instance {
  /** The instance's value in the label image, 1..N. */
  label: number
  classId: number | null
  annotationId: string
}

export interface InstanceLabels {
  width: number
  height: number
  /** Row-major, 0 = background, 1..N = `instances[label - 1]`. */
  labels: Uint16Array
  instances: Instance[]
  /**
   * Annotations that counted but are no instance: by kind for those without an area (box,
   * points, polyline), 'hidden' for one entirely covered by later ones (or outside the image),
   * 'overflow' for those past MAX_INSTANCES.
   */
  skipped: Record<string, number>
  /** Annotations the predicate left out (under `countsForTraining`: suggestions nobody accepted). */
  leftOut: number
}

/**
 * Whether an annotation is ground truth to train on: a person's, or a model suggestion a
 * person accepted. Pending and rejected suggestions never are.
 */
export function countsForTraining(annotation: AnnotationRecord): boolean {
  return annotation.origin.type === 'human' || annotation.review === 'accepted'
}

/** Boxes mark where an object is, not which pixels it has: they are no instance mask. */
const INSTANCE_KINDS = new Set<AnnotationRecord['kind']>(['polygon', 'mask'])

const byCreation = (a: AnnotationRecord, b: AnnotationRecord) =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

export function rasterizeInstanceLabels(
  image: { width: number; height: number },
  annotations: readonly AnnotationRecord[],
  counts: (annotation: AnnotationRecord) => boolean = countsForTraining,
): InstanceLabels {
  const { width, height } = image
  const labels = new Uint16Array(width * height)
  const skipped: Record<string, number> = {}
  const skip = (reason: string) => {
    skipped[reason] = (skipped[reason] ?? 0) + 1
  }
  let leftOut = 0
  const painted: Instance[] = []
  // Pixels held by each label so far; an overwritten label loses them.
  const area = new Float64Array(MAX_INSTANCES + 1)
  // Where annotations overlap, the later one (by createdAt, then id, so every reader agrees)
  // takes the pixels: what a person drew on top of another object is what they saw last.
  for (const annotation of [...annotations].sort(byCreation)) {
    if (!counts(annotation)) {
      leftOut++
      continue
    }
    if (!INSTANCE_KINDS.has(annotation.kind)) {
      skip(annotation.kind)
      continue
    }
    if (painted.length === MAX_INSTANCES) {
      skip('overflow')
      continue
    }
    const label = painted.length + 1
    painted.push({ label, classId: annotation.classId, annotationId: annotation.id })
    // Rasterised in the annotation's own window, clipped to the image: memory grows with the
    // shape, not with the image.
    const window = pixelWindowOf(geometryBounds(annotation))
    const x0 = Math.max(0, window.x)
    const y0 = Math.max(0, window.y)
    const x1 = Math.min(width, window.x + window.width)
    const y1 = Math.min(height, window.y + window.height)
    if (x1 <= x0 || y1 <= y0) continue
    const w = x1 - x0
    const mask = rasterizeGeometry(annotation, w, y1 - y0, { x: x0, y: y0 })
    if (!mask) continue
    for (let row = 0; row < y1 - y0; row++) {
      const source = row * w
      const target = (y0 + row) * width + x0
      for (let col = 0; col < w; col++) {
        if (mask[source + col] === 0) continue
        area[labels[target + col]]--
        labels[target + col] = label
        area[label]++
      }
    }
  }
  // Drop instances left without a pixel and number the rest 1..N again, in the same order.
  const renumber = new Uint16Array(painted.length + 1)
  const instances: Instance[] = []
  for (const instance of painted) {
    if (area[instance.label] <= 0) {
      skip('hidden')
      continue
    }
    renumber[instance.label] = instances.length + 1
    instances.push({ ...instance, label: instances.length + 1 })
  }
  if (instances.length < painted.length) {
    for (let i = 0; i < labels.length; i++) labels[i] = renumber[labels[i]]
  }
  return { width, height, labels, instances, skipped, leftOut }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** The label image as bytes: uint16 little-endian, whatever the host's byte order. */
export function labelBytes(labels: Uint16Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength)
  const bytes = new Uint8Array(labels.byteLength)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < labels.length; i++) view.setUint16(2 * i, labels[i], true)
  return bytes
}

/** Reads labelBytes' form back (a copy). */
export function readLabelBytes(bytes: Uint8Array): Uint16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const labels = new Uint16Array(bytes.byteLength >> 1)
  for (let i = 0; i < labels.length; i++) labels[i] = view.getUint16(2 * i, true)
  return labels
}
