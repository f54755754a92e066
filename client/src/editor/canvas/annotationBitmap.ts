// A bitmap cache of the static annotations for one camera: while the camera moves, the last
// bitmap is drawn moved and scaled (one drawImage per frame); once the camera rests, the
// annotations in view (plus a margin) are drawn again at full quality.
import type { AnnotationRecord } from '../../../../shared/schemas/annotation.ts'
import type { Camera } from '../core/Editor.ts'
import type { Bounds } from '../core/spatialIndex.ts'
import { type DrawStyle, drawAnnotations } from './drawAnnotations.ts'

const MARGIN = 0.25
const REST_MS = 120

export class AnnotationBitmap {
  private canvas = document.createElement('canvas')
  private rendered: { camera: Camera; version: string; width: number; height: number } | null = null
  private restTimer: ReturnType<typeof setTimeout> | null = null
  /** How many annotations the last full render drew. */
  drawnCount = 0

  /**
   * Draws the annotations for `camera` into a screen-space context. Returns true when the
   * drawing is a moved stale bitmap, so the caller knows a sharp render will follow.
   */
  draw(
    ctx: CanvasRenderingContext2D,
    camera: Camera,
    view: { width: number; height: number },
    version: string,
    query: (area: Bounds) => AnnotationRecord[],
    style: Omit<DrawStyle, 'scale'>,
    requestRedraw: () => void,
  ): boolean {
    const r = this.rendered
    const fresh =
      r !== null &&
      r.version === version &&
      r.width === view.width &&
      r.height === view.height &&
      r.camera.scale === camera.scale &&
      r.camera.x === camera.x &&
      r.camera.y === camera.y
    const stale =
      r !== null && r.version === version && r.width === view.width && r.height === view.height
    if (!fresh && !stale) this.render(camera, view, version, query, style)
    const c = this.rendered!.camera
    const k = camera.scale / c.scale
    const mx = view.width * MARGIN
    const my = view.height * MARGIN
    // Bitmap pixel (px, py) shows image point ((px - mx - c.x) / c.scale, …).
    ctx.drawImage(
      this.canvas,
      camera.x - (c.x + mx) * k,
      camera.y - (c.y + my) * k,
      this.canvas.width * k,
      this.canvas.height * k,
    )
    if (!fresh && stale) {
      if (this.restTimer) clearTimeout(this.restTimer)
      this.restTimer = setTimeout(() => {
        this.restTimer = null
        this.render(camera, view, version, query, style)
        requestRedraw()
      }, REST_MS)
      return true
    }
    return false
  }

  private render(
    camera: Camera,
    view: { width: number; height: number },
    version: string,
    query: (area: Bounds) => AnnotationRecord[],
    style: Omit<DrawStyle, 'scale'>,
  ) {
    const mx = view.width * MARGIN
    const my = view.height * MARGIN
    this.canvas.width = Math.ceil(view.width + 2 * mx)
    this.canvas.height = Math.ceil(view.height + 2 * my)
    const ctx = this.canvas.getContext('2d')!
    ctx.setTransform(camera.scale, 0, 0, camera.scale, camera.x + mx, camera.y + my)
    const area = {
      minX: (-mx - camera.x) / camera.scale,
      minY: (-my - camera.y) / camera.scale,
      maxX: (view.width + mx - camera.x) / camera.scale,
      maxY: (view.height + my - camera.y) / camera.scale,
    }
    this.drawnCount = drawAnnotations(ctx, query(area), { ...style, scale: camera.scale })
    this.rendered = { camera, version, width: view.width, height: view.height }
  }

  /** Forget the bitmap (colours changed). */
  invalidate() {
    this.rendered = null
  }
}
