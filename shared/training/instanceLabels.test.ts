import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMaskRle, encodeMaskRle } from '../geometry/mask.ts'
import { rasterizePolygon } from '../geometry/rasterize.ts'
import type { AnnotationRecord } from '../schemas/annotation.ts'
import {
  countsForTraining,
  labelBytes,
  MAX_INSTANCES,
  rasterizeInstanceLabels,
  readLabelBytes,
} from './instanceLabels.ts'

type Shape = Pick<AnnotationRecord, 'kind' | 'geometry'>

function annotation(id: string, shape: Shape, fields: Partial<AnnotationRecord> = {}) {
  return {
    id,
    ...shape,
    classId: 1,
    author: 1,
    updatedBy: 1,
    createdAt: 1,
    updatedAt: 1,
    origin: { type: 'human' },
    review: 'accepted',
    attributes: {},
    ...fields,
  } as AnnotationRecord
}

const rectangle = (x: number, y: number, w: number, h: number): Shape => ({
  kind: 'polygon',
  geometry: { rings: [[x, y, x + w, y, x + w, y + h, x, y + h]] },
})
const suggestion = (review: AnnotationRecord['review']): Partial<AnnotationRecord> => ({
  origin: { type: 'model', modelVersion: 'v1', score: 0.9 },
  author: null,
  review,
})
const at = (labels: Uint16Array, width: number, x: number, y: number) => labels[y * width + x]

describe('rasterizeInstanceLabels', () => {
  it('leaves the hole of a polygon background, as shared/geometry rasterises it', () => {
    const rings = [
      [1, 1, 9, 1, 9, 9, 1, 9],
      [3, 3, 6, 3, 6, 6, 3, 6],
    ]
    const result = rasterizeInstanceLabels({ width: 10, height: 10 }, [
      annotation('a', { kind: 'polygon', geometry: { rings } }),
    ])
    expect(result.instances).toEqual([{ label: 1, classId: 1, annotationId: 'a' }])
    expect(Array.from(result.labels)).toEqual(Array.from(rasterizePolygon(rings, 10, 10)))
    expect(at(result.labels, 10, 4, 4)).toBe(0)
    expect(at(result.labels, 10, 2, 2)).toBe(1)
    expect(at(result.labels, 10, 0, 0)).toBe(0)
  })

  it('places a mask as stored, clipped to the image', () => {
    const data = new Uint8Array([0, 1, 1, 1, 1, 0, 0, 1, 1])
    const mask = encodeMaskRle({ x: 8, y: 1, width: 3, height: 3, data })
    const result = rasterizeInstanceLabels({ width: 10, height: 5 }, [
      annotation('m', { kind: 'mask', geometry: mask }),
    ])
    const expected = new Uint16Array(50)
    const decoded = decodeMaskRle(mask)
    for (let row = 0; row < 3; row++)
      for (
        let col = 0;
        col < 2;
        col++ // column 10 lies outside the image
      )
        expected[(1 + row) * 10 + 8 + col] = decoded.data[row * 3 + col]
    expect(Array.from(result.labels)).toEqual(Array.from(expected))
    expect(result.instances).toHaveLength(1)
  })

  it('skips boxes, points and polylines and counts them by kind', () => {
    const result = rasterizeInstanceLabels({ width: 10, height: 10 }, [
      annotation('b', { kind: 'box', geometry: { x: 1, y: 1, width: 4, height: 4 } }),
      annotation('b2', { kind: 'box', geometry: { x: 2, y: 2, width: 4, height: 4 } }),
      annotation('p', { kind: 'points', geometry: { points: [1, 1] } }),
      annotation('l', { kind: 'polyline', geometry: { points: [1, 1, 5, 5] } }),
      annotation('r', rectangle(6, 6, 2, 2)),
    ])
    expect(result.skipped).toEqual({ box: 2, points: 1, polyline: 1 })
    expect(result.instances.map((i) => i.annotationId)).toEqual(['r'])
    expect(result.labels.filter((v) => v !== 0)).toHaveLength(4)
  })

  it('leaves out pending and rejected suggestions and counts an accepted one', () => {
    const annotations = [
      annotation('pending', rectangle(0, 0, 3, 3), suggestion('pending')),
      annotation('rejected', rectangle(3, 0, 3, 3), suggestion('rejected')),
      annotation('accepted', rectangle(6, 0, 3, 3), suggestion('accepted')),
      annotation('human', rectangle(0, 5, 3, 3)),
    ]
    expect(annotations.map(countsForTraining)).toEqual([false, false, true, true])
    const result = rasterizeInstanceLabels({ width: 10, height: 10 }, annotations)
    expect(result.leftOut).toBe(2)
    expect(result.instances.map((i) => i.annotationId)).toEqual(['accepted', 'human'])
    expect(at(result.labels, 10, 1, 1)).toBe(0)
    expect(at(result.labels, 10, 4, 1)).toBe(0)
    expect(at(result.labels, 10, 7, 1)).toBe(1)
    expect(at(result.labels, 10, 1, 6)).toBe(2)
  })

  it('gives overlapping pixels to the later annotation, whatever the input order', () => {
    const first = annotation('z-first', rectangle(0, 0, 6, 6), { createdAt: 1 })
    // Same time as `later-b`: the id decides.
    const laterA = annotation('later-a', rectangle(3, 3, 6, 6), { createdAt: 2 })
    const laterB = annotation('later-b', rectangle(5, 5, 4, 4), { createdAt: 2 })
    for (const order of [
      [first, laterA, laterB],
      [laterB, laterA, first],
    ]) {
      const { labels, instances } = rasterizeInstanceLabels({ width: 10, height: 10 }, order)
      expect(instances.map((i) => i.annotationId)).toEqual(['z-first', 'later-a', 'later-b'])
      expect(at(labels, 10, 1, 1)).toBe(1)
      expect(at(labels, 10, 4, 4)).toBe(2) // first and later-a: later-a
      expect(at(labels, 10, 5, 5)).toBe(3) // all three: later-b
      expect(at(labels, 10, 8, 3)).toBe(2)
    }
  })

  it('drops an instance covered entirely by later ones, numbering the rest 1..N', () => {
    const result = rasterizeInstanceLabels({ width: 10, height: 10 }, [
      annotation('small', rectangle(2, 2, 2, 2), { createdAt: 1, classId: 5 }),
      annotation('big', rectangle(0, 0, 6, 6), { createdAt: 2, classId: 6 }),
      annotation('outside', rectangle(20, 20, 3, 3), { createdAt: 3 }),
      annotation('last', rectangle(7, 7, 2, 2), { createdAt: 4, classId: 7 }),
    ])
    expect(result.skipped).toEqual({ hidden: 2 })
    expect(result.instances).toEqual([
      { label: 1, classId: 6, annotationId: 'big' },
      { label: 2, classId: 7, annotationId: 'last' },
    ])
    expect(new Set(result.labels)).toEqual(new Set([0, 1, 2]))
    expect(at(result.labels, 10, 8, 8)).toBe(2)
  })

  it('keeps the class of each instance, a missing class included', () => {
    const result = rasterizeInstanceLabels({ width: 10, height: 10 }, [
      annotation('a', rectangle(0, 0, 2, 2), { createdAt: 1, classId: 3 }),
      annotation('b', rectangle(4, 4, 2, 2), { createdAt: 2, classId: null }),
      annotation('c', rectangle(7, 7, 2, 2), { createdAt: 3, classId: 9 }),
    ])
    expect(result.instances.map((i) => [i.label, i.classId])).toEqual([
      [1, 3],
      [2, null],
      [3, 9],
    ])
    expect(at(result.labels, 10, 5, 5)).toBe(2)
  })

  it('counts instances past the uint16 range as overflow', () => {
    const width = 256
    const annotations = Array.from({ length: MAX_INSTANCES + 2 }, (_, i) =>
      annotation(`p${i}`, rectangle(i % width, Math.floor(i / width) % width, 1, 1), {
        createdAt: i,
      }),
    )
    const result = rasterizeInstanceLabels({ width, height: width }, annotations)
    expect(result.instances).toHaveLength(MAX_INSTANCES)
    expect(result.skipped).toEqual({ overflow: 2 })
    expect(result.labels[MAX_INSTANCES - 1]).toBe(MAX_INSTANCES)
  })

  it('holds, for random rectangles, the latest covering instance at every pixel', () => {
    const rect = fc.record({
      x: fc.integer({ min: -3, max: 12 }),
      y: fc.integer({ min: -3, max: 12 }),
      w: fc.integer({ min: 1, max: 6 }),
      h: fc.integer({ min: 1, max: 6 }),
      createdAt: fc.integer({ min: 0, max: 5 }),
    })
    fc.assert(
      fc.property(fc.array(rect, { maxLength: 12 }), (rects) => {
        const size = 12
        const annotations = rects.map((r, i) =>
          annotation(`id${String(i).padStart(2, '0')}`, rectangle(r.x, r.y, r.w, r.h), {
            createdAt: r.createdAt,
          }),
        )
        const { labels, instances, skipped } = rasterizeInstanceLabels(
          { width: size, height: size },
          annotations,
        )
        const ordered = [...annotations].sort(
          (a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id),
        )
        const owner = new Array<string | null>(size * size).fill(null)
        for (const a of ordered) {
          const mask = rasterizePolygon((a.geometry as { rings: number[][] }).rings, size, size)
          mask.forEach((v, i) => {
            if (v) owner[i] = a.id
          })
        }
        const ids = new Set(owner.filter((o) => o !== null))
        expect(instances.map((i) => i.label)).toEqual(instances.map((_, k) => k + 1))
        expect(new Set(instances.map((i) => i.annotationId))).toEqual(ids)
        expect(instances.length + (skipped.hidden ?? 0)).toBe(annotations.length)
        owner.forEach((id, i) => {
          expect(labels[i] === 0 ? null : instances[labels[i] - 1].annotationId).toBe(id)
        })
      }),
    )
  })
})

describe('labelBytes', () => {
  it('writes uint16 little-endian and reads it back', () => {
    const labels = new Uint16Array([0, 1, 0x0102, 65535])
    const bytes = labelBytes(labels)
    expect(Array.from(bytes)).toEqual([0, 0, 1, 0, 2, 1, 255, 255])
    expect(Array.from(readLabelBytes(bytes))).toEqual(Array.from(labels))
  })
})
