// Canvas painters for annotations, in image coordinates under the camera transform. Static
// annotations are batched into one path per class colour and only those in view are drawn,
// which keeps 10,000 polygons fluid. Work is bounded by what an entry holds (vertices, mask
// runs), never by its size in pixels: a mask beyond the limits is drawn as its box.
import { ANNOTATION_LIMITS } from '../../../../shared/doc/index.ts'
import type { AnnotationRecord } from '../../../../shared/schemas/annotation.ts'
import { forEachMaskRect } from './maskRects.ts'

export interface DrawStyle {
  colorOf(classId: number | null): string
  scale: number
}

function tracePath(ctx: CanvasRenderingContext2D, a: AnnotationRecord, scale: number) {
  switch (a.kind) {
    case 'polygon':
      for (const ring of a.geometry.rings) {
        ctx.moveTo(ring[0], ring[1])
        for (let i = 2; i < ring.length; i += 2) ctx.lineTo(ring[i], ring[i + 1])
        // An explicit segment back to the start rather than closePath(): Skia's closePath on a
        // path of thousands of sub-paths costs time proportional to the whole path.
        ctx.lineTo(ring[0], ring[1])
      }
      break
    case 'box':
      ctx.rect(a.geometry.x, a.geometry.y, a.geometry.width, a.geometry.height)
      break
    case 'mask': {
      const g = a.geometry
      // The editor never hands over such a mask (it skips entries the image does not allow);
      // should one come, its box is enough.
      if (
        g.width * g.height > ANNOTATION_LIMITS.maxMaskPixels ||
        g.counts.length > ANNOTATION_LIMITS.maxMaskRuns
      )
        ctx.rect(g.x, g.y, g.width, g.height)
      else forEachMaskRect(g, (x, y, width, height) => ctx.rect(x, y, width, height))
      break
    }
    case 'polyline': {
      const p = a.geometry.points
      ctx.moveTo(p[0], p[1])
      for (let i = 2; i < p.length; i += 2) ctx.lineTo(p[i], p[i + 1])
      break
    }
    case 'points': {
      const p = a.geometry.points
      const r = 4 / scale
      for (let i = 0; i < p.length; i += 2) {
        ctx.moveTo(p[i] + r, p[i + 1])
        ctx.arc(p[i], p[i + 1], r, 0, Math.PI * 2)
      }
      break
    }
  }
}

/** Draws annotations grouped by colour; model suggestions dashed. Returns how many were drawn. */
export function drawAnnotations(
  ctx: CanvasRenderingContext2D,
  annotations: AnnotationRecord[],
  style: DrawStyle,
): number {
  const groups = new Map<string, AnnotationRecord[]>()
  for (const a of annotations) {
    const key = `${style.colorOf(a.classId)}|${a.origin.type === 'model' && a.review === 'pending' ? 'dash' : 'solid'}`
    const group = groups.get(key)
    if (group) group.push(a)
    else groups.set(key, [a])
  }
  ctx.lineWidth = 1.5 / style.scale
  ctx.lineJoin = 'round'
  for (const [key, group] of groups) {
    const [color, dash] = key.split('|')
    ctx.setLineDash(dash === 'dash' ? [6 / style.scale, 4 / style.scale] : [])
    ctx.beginPath()
    for (const a of group) tracePath(ctx, a, style.scale)
    ctx.globalAlpha = 0.18
    ctx.fillStyle = color
    ctx.fill('evenodd')
    ctx.globalAlpha = 1
    ctx.strokeStyle = color
    ctx.stroke()
  }
  ctx.setLineDash([])
  return annotations.length
}

/** Outline and vertex handles of selected or hovered annotations. */
export function drawHighlight(
  ctx: CanvasRenderingContext2D,
  annotations: AnnotationRecord[],
  scale: number,
  color: string,
  handles: boolean,
) {
  if (annotations.length === 0) return
  ctx.lineWidth = 3 / scale
  ctx.strokeStyle = color
  ctx.beginPath()
  for (const a of annotations) tracePath(ctx, a, scale)
  ctx.stroke()
  if (!handles) return
  const size = 6 / scale
  ctx.fillStyle = '#ffffff'
  ctx.lineWidth = 1 / scale
  for (const a of annotations) {
    const flat =
      a.kind === 'polygon'
        ? a.geometry.rings.flat()
        : a.kind === 'polyline'
          ? a.geometry.points
          : []
    for (let i = 0; i < flat.length; i += 2) {
      ctx.fillRect(flat[i] - size / 2, flat[i + 1] - size / 2, size, size)
      ctx.strokeRect(flat[i] - size / 2, flat[i + 1] - size / 2, size, size)
    }
  }
}
