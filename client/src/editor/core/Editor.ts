// The editor's core, without React or Konva: the image's Y.Doc (read and written only through
// shared/doc), local UI state (tool, selection, camera, class), per-user undo, and the input
// handling that tools build on. Renderers subscribe and draw; they never change state directly.
// Entries the image does not allow are skipped (listed, never drawn or hit-tested), and the
// editor's own writes stay inside what the image allows; a refused write becomes a message.
import * as Y from 'yjs'
import {
  ANNOTATION_LIMITS,
  acceptSuggestion,
  annotationsOf,
  createAnnotation,
  deleteAnnotation,
  geometryProblem,
  type ImageExtent,
  modelOrigin,
  observeAnnotations,
  reviewOf,
  setReviewDecision,
  type TransactionOrigin,
  updateClass,
  updateGeometry,
  userOrigin,
} from '../../../../shared/doc/index.ts'
import { boxIoU } from '../../../../shared/geometry/iou.ts'
import {
  combineMasks,
  cropMask,
  decodeMaskRle,
  encodeMaskRle,
  rasterizeStroke,
} from '../../../../shared/geometry/mask.ts'
import type { Click } from '../../../../shared/ml/clickSimulation.ts'
import type { Rect } from '../../../../shared/ml/imageSession.ts'
import type {
  AnnotationKind,
  AnnotationOrigin,
  AnnotationRecord,
  Geometry,
} from '../../../../shared/schemas/annotation.ts'
import { AnnotationView, type SkippedEntry } from './annotationView.ts'
import type { AssistedObject, SegmentationAssist } from './assist.ts'
import { checkCombinedSize, strokeInside } from './brushStroke.ts'
import { boundsOf, type Point, translateGeometry } from './geometryOf.ts'
import { clampOffset, clampPoint, unionBounds } from './placement.ts'
import { clickOrigin, isSuggestion } from './provenance.ts'
import type { Bounds } from './spatialIndex.ts'
import { TOOL_BY_ID, type ToolId, type ToolPointerEvent } from './tools/index.ts'

export type { SkippedEntry } from './annotationView.ts'

export interface Camera {
  /** Screen position of image point (0, 0), and screen pixels per image pixel. */
  x: number
  y: number
  scale: number
}

export interface Gesture {
  origin?: Point
  offset?: Point
  points?: number[]
  cursor?: Point
  /** A vertex being dragged (or inserted) on annotation `id`. */
  vertex?: { id: string; list: number; index: number; inserted: boolean }
}

export interface EditorState {
  toolId: ToolId
  /** Dotted state of the active tool, e.g. "polygon.drawing". */
  toolState: string
  gesture: Gesture | null
  selection: string[]
  hoverId: string | null
  camera: Camera
  classId: number | null
  readOnly: boolean
  /** Radius of the brush and eraser, in image pixels. */
  brushRadius: number
  /** Version of the model behind the click tool and Auto; null while none is ready. */
  assistVersion: string | null
  /** The object the click tool is segmenting. */
  assisted: AssistedObject | null
  /** Entries of the doc that are not drawn: malformed, or not allowed on this image. */
  skipped: SkippedEntry[]
  /** Why the last write was refused, until the next one succeeds or it is dismissed. */
  message: string | null
}

export interface EditorOptions {
  readOnly: boolean
  classId: number | null
  /**
   * The image's size: entries it does not allow are skipped and writes are kept inside it.
   * Absent only where a headless test drives tools without an image.
   */
  image?: ImageExtent
  /** Accept and reject annotations and suggestions (reviewers, owners); default: !readOnly. */
  canReview?: boolean
  /** Delete skipped entries (owners). */
  canDeleteSkipped?: boolean
}

export type ClipboardEntry = Geometry & {
  classId: number | null
  attributes: AnnotationRecord['attributes']
}

const clipboardEntryOf = (a: AnnotationRecord) =>
  ({
    kind: a.kind,
    geometry: a.geometry,
    classId: a.classId,
    attributes: a.attributes,
  }) as ClipboardEntry

/** Copy and paste work across images of a tab: the clipboard outlives one editor. */
const clipboard: ClipboardEntry[] = []

export class Editor {
  readonly origin: TransactionOrigin
  /**
   * The same user, untracked by undo: deleting a skipped entry must not be undoable, since undo
   * would write the broken entry back.
   */
  private readonly untrackedOrigin: TransactionOrigin
  readonly undoManager: Y.UndoManager
  readonly image: ImageExtent | null
  /** Where geometry may lie on the image (null without an image). */
  readonly area: Bounds | null
  readonly rights: { review: boolean; deleteSkipped: boolean }
  private listeners = new Set<() => void>()
  /** The doc's entries as read with the image's rules: annotations, and those skipped. */
  private readonly view: AnnotationView
  private stopObserving: () => void
  /** Bumped on every change of the annotations; renderers compare it. */
  annotationsVersion = 0
  /** Class shortcut keys of the project (key → class id). */
  private classShortcuts = new Map<string, number>()
  state: EditorState

  constructor(
    readonly doc: Y.Doc,
    readonly userId: number,
    options: EditorOptions,
  ) {
    this.origin = userOrigin(userId)
    this.untrackedOrigin = userOrigin(userId)
    this.image = options.image ? { width: options.image.width, height: options.image.height } : null
    this.view = new AnnotationView(doc, this.image)
    this.area = this.view.area
    this.rights = {
      review: !options.readOnly && (options.canReview ?? true),
      deleteSkipped: !options.readOnly && (options.canDeleteSkipped ?? false),
    }
    this.undoManager = new Y.UndoManager([annotationsOf(doc), reviewOf(doc)], {
      trackedOrigins: new Set([this.origin]),
      captureTimeout: 400,
    })
    this.state = {
      toolId: 'select',
      toolState: 'select.idle',
      gesture: null,
      selection: [],
      hoverId: null,
      camera: { x: 0, y: 0, scale: 1 },
      classId: options.classId,
      readOnly: options.readOnly,
      brushRadius: 6,
      assistVersion: null,
      assisted: null,
      skipped: [],
      message: null,
    }
    this.refresh()
    this.stopObserving = observeAnnotations(doc, (change) => this.refresh(change.ids))
  }

  destroy() {
    this.stopObserving()
    this.undoManager.destroy()
    this.listeners.clear()
  }

  // Subscription (React reads through useSyncExternalStore) -------------------------------

  subscribe = (listener: () => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
  getState = () => this.state
  getAnnotations = () => this.view.list

  private emit() {
    for (const listener of this.listeners) listener()
  }

  private update(changes: Partial<EditorState>) {
    this.state = { ...this.state, ...changes }
    this.emit()
  }

  /** Re-reads the changed annotations (all of them when `ids` is absent). */
  private refresh(ids?: Set<string>) {
    const skippedChanged = this.view.refresh(ids)
    this.annotationsVersion++
    const selection = this.state.selection.filter((id) => this.view.has(id))
    const changes: Partial<EditorState> = {}
    if (selection.length !== this.state.selection.length) changes.selection = selection
    if (skippedChanged) changes.skipped = this.view.skipped()
    if (changes.selection || changes.skipped) this.state = { ...this.state, ...changes }
    this.emit()
  }

  annotation(id: string): AnnotationRecord | undefined {
    return this.view.get(id)
  }

  /** Annotations whose bounds intersect an area of the image, for drawing what is in view. */
  annotationsIn(area: Bounds): AnnotationRecord[] {
    return this.view.annotationsIn(area)
  }

  /** The topmost annotation under an image point, or null. */
  annotationAt(point: Point): string | null {
    return this.view.annotationAt(point, 4 / this.state.camera.scale)
  }

  // Tools and input ---------------------------------------------------------------------

  setTool(toolId: ToolId) {
    if (this.state.readOnly && toolId !== 'select') return
    TOOL_BY_ID[this.state.toolId].onCancel?.(this)
    this.update({ toolId, toolState: `${toolId}.idle`, gesture: null })
  }

  setToolState(toolState: string, gesture: Gesture | null = null) {
    this.update({ toolState, gesture })
  }

  pointerDown(event: ToolPointerEvent) {
    TOOL_BY_ID[this.state.toolId].onPointerDown?.(this, event)
  }
  pointerMove(event: ToolPointerEvent) {
    TOOL_BY_ID[this.state.toolId].onPointerMove?.(this, event)
  }
  pointerUp(event: ToolPointerEvent) {
    TOOL_BY_ID[this.state.toolId].onPointerUp?.(this, event)
  }

  /** Keyboard shortcuts; returns true when the key was used. */
  keyDown(key: string, modifiers: { ctrl: boolean; shift: boolean }): boolean {
    if (TOOL_BY_ID[this.state.toolId].onKeyDown?.(this, key, { shift: modifiers.shift }))
      return true
    const lower = key.toLowerCase()
    const command = modifiers.ctrl
      ? this.ctrlCommand(lower, modifiers.shift)
      : this.plainCommand(key, lower)
    command?.()
    return command !== null
  }

  private ctrlCommand(lower: string, shift: boolean): (() => void) | null {
    if (lower === 'z') return shift ? () => this.redo() : () => this.undo()
    const commands: Record<string, () => void> = {
      y: () => this.redo(),
      c: () => this.copy(),
      v: () => this.paste(),
      d: () => this.duplicate(),
    }
    return commands[lower] ?? null
  }

  private plainCommand(key: string, lower: string): (() => void) | null {
    if (key === 'Escape') {
      return () => {
        TOOL_BY_ID[this.state.toolId].onCancel?.(this)
        if (this.state.toolState.endsWith('.idle')) this.select([])
      }
    }
    if (key === 'Delete' || key === 'Backspace') return () => this.deleteSelection()
    const classId = this.classShortcuts.get(lower)
    if (classId !== undefined) return () => this.setActiveClass(classId)
    const tool = Object.values(TOOL_BY_ID).find((t) => t.shortcut === lower)
    return tool ? () => this.setTool(tool.id) : null
  }

  setClassShortcuts(shortcuts: Map<string, number>) {
    this.classShortcuts = shortcuts
  }

  // Segmentation assist (click tool and Auto) -------------------------------------------

  private assist: SegmentationAssist | null = null
  private objectCounter = 0
  /** Only the answer to the latest request of the click tool is shown. */
  private assistRequest = 0

  /**
   * Installs the assist of a model version (null: none). When one version replaces another, the
   * click tool's object keeps its clicks and runs them again with the new version; its previous
   * mask stays in view, unsettled, until the new answer.
   */
  setAssist(assist: SegmentationAssist | null) {
    const previous = this.assist
    const object = this.state.assisted
    if (object && !(assist && previous)) this.discardAssisted()
    this.assist = assist
    this.update({ assistVersion: assist?.version ?? null })
    if (object && assist && previous) {
      previous.forget(object.key)
      const rerun = { ...object, answered: 0, error: undefined }
      this.update({ assisted: rerun })
      void this.runAssist(rerun)
    }
  }

  /** Adds a click to the object being segmented (a new object starts with a positive click). */
  addAssistClick(click: Click) {
    if (this.state.readOnly || !this.assist) return
    const current = this.state.assisted
    if (!current && !click.positive) return
    const object: AssistedObject = current
      ? { ...current, clicks: [...current.clicks, click] }
      : { key: ++this.objectCounter, clicks: [click], result: null, answered: 0 }
    this.update({ assisted: object, toolState: 'click.active', gesture: null })
    void this.runAssist(object)
  }

  removeLastAssistClick() {
    const current = this.state.assisted
    if (!current || !this.assist) return
    if (current.clicks.length <= 1) {
      this.discardAssisted()
      return
    }
    // The model's memory of the object holds the removed click: start the object again.
    this.assist.forget(current.key)
    const object = { ...current, clicks: current.clicks.slice(0, -1) }
    this.update({ assisted: object })
    void this.runAssist(object)
  }

  private async runAssist(object: AssistedObject) {
    const assist = this.assist
    if (!assist) return
    const request = ++this.assistRequest
    let result: AssistedObject['result'] = null
    let error: string | undefined
    try {
      result = await assist.click(object.key, object.clicks)
    } catch (e) {
      error = e instanceof Error ? e.message : String(e)
    }
    const current = this.state.assisted
    if (request !== this.assistRequest || current?.key !== object.key) return
    this.update({
      assisted: {
        ...current,
        result: result ?? current.result,
        answered: object.clicks.length,
        error,
      },
    })
  }

  /** Whether the click tool's object has the answer to its latest click. */
  get assistSettled(): boolean {
    const object = this.state.assisted
    return !object || object.answered === object.clicks.length
  }

  /** Writes the click tool's object as a polygon (or a raster mask) and starts a new one. */
  acceptAssisted(as: 'polygon' | 'mask'): string | null {
    const object = this.state.assisted
    const result = object?.result
    if (!object || !result?.rings) return null
    // The mask keeps where it came from: the version that drew it and the clicks it took.
    const origin = clickOrigin(result.modelVersion, object.clicks.length)
    let id: string | null = null
    if (as === 'polygon') id = this.create('polygon', { rings: result.rings }, origin)
    else {
      const mask = cropMask({ ...result.rect, data: result.mask })
      if (mask) id = this.create('mask', encodeMaskRle(mask), origin)
    }
    this.assist?.forget(object.key)
    this.update({ assisted: null, toolState: 'click.idle' })
    if (id) this.select([id])
    return id
  }

  discardAssisted() {
    const object = this.state.assisted
    if (object) this.assist?.forget(object.key)
    this.assistRequest++
    this.update({ assisted: null, toolState: `${this.state.toolId}.idle` })
  }

  /**
   * Adds the model's proposals in an area (default: what is in view) as suggestions of the
   * active class, except where an annotation already covers the same object. Returns how many.
   */
  async suggest(area: Rect | null = this.visibleArea()): Promise<number> {
    const assist = this.assist
    if (this.state.readOnly || !assist || !area) return 0
    const proposals = await assist.propose(area)
    if (this.assist !== assist) return 0
    const fresh = proposals.filter((p) => {
      // A proposal the image does not allow is never written.
      if (this.problemOf('polygon', { rings: p.rings })) return false
      const nearby = this.annotationsIn({
        minX: p.bbox.x,
        minY: p.bbox.y,
        maxX: p.bbox.x + p.bbox.width,
        maxY: p.bbox.y + p.bbox.height,
      })
      return !nearby.some((a) => {
        const b = boundsOf(a)
        return (
          boxIoU(p.bbox, {
            x: b.minX,
            y: b.minY,
            width: b.maxX - b.minX,
            height: b.maxY - b.minY,
          }) >= 0.5
        )
      })
    })
    if (fresh.length === 0) return 0
    const origin = modelOrigin(assist.version)
    this.doc.transact(() => {
      for (const p of fresh) {
        createAnnotation(
          this.doc,
          {
            kind: 'polygon',
            geometry: { rings: p.rings },
            classId: this.state.classId,
            origin: {
              type: 'model',
              modelVersion: assist.version,
              score: Math.min(1, Math.max(0, p.score)),
            },
          },
          origin,
          this.image ?? undefined,
        )
      }
    }, origin)
    return fresh.length
  }

  // Camera ------------------------------------------------------------------------------

  screenToImage(sx: number, sy: number): Point {
    const { x, y, scale } = this.state.camera
    return { x: (sx - x) / scale, y: (sy - y) / scale }
  }

  setCamera(camera: Camera) {
    this.update({ camera })
  }

  private viewSize: {
    width: number
    height: number
    imageWidth: number
    imageHeight: number
  } | null = null

  /** The canvas size and the image size, for what is in view (Auto, background encoding). */
  setViewSize(width: number, height: number, imageWidth: number, imageHeight: number) {
    this.viewSize = { width, height, imageWidth, imageHeight }
  }

  /** The part of the image in view, in whole pixels; null before the canvas has a size. */
  visibleArea(): Rect | null {
    if (!this.viewSize) return null
    const { width, height, imageWidth, imageHeight } = this.viewSize
    const a = this.screenToImage(0, 0)
    const b = this.screenToImage(width, height)
    const x = Math.max(0, Math.floor(a.x))
    const y = Math.max(0, Math.floor(a.y))
    const right = Math.min(imageWidth, Math.ceil(b.x))
    const bottom = Math.min(imageHeight, Math.ceil(b.y))
    if (right <= x || bottom <= y) return null
    return { x, y, width: right - x, height: bottom - y }
  }

  panBy(dx: number, dy: number) {
    const { camera } = this.state
    this.setCamera({ ...camera, x: camera.x + dx, y: camera.y + dy })
  }

  /** Zooms by a factor keeping the image point under the screen point still. */
  zoomAt(sx: number, sy: number, factor: number) {
    const { camera } = this.state
    const scale = Math.min(64, Math.max(0.02, camera.scale * factor))
    const p = this.screenToImage(sx, sy)
    this.setCamera({ scale, x: sx - p.x * scale, y: sy - p.y * scale })
  }

  fit(viewWidth: number, viewHeight: number, imageWidth: number, imageHeight: number) {
    const scale = Math.min(viewWidth / imageWidth, viewHeight / imageHeight) * 0.95
    this.setCamera({
      scale,
      x: (viewWidth - imageWidth * scale) / 2,
      y: (viewHeight - imageHeight * scale) / 2,
    })
  }

  /** One image pixel per screen pixel, centred on the view's centre. */
  oneToOne(viewWidth: number, viewHeight: number) {
    const centre = this.screenToImage(viewWidth / 2, viewHeight / 2)
    this.setCamera({ scale: 1, x: viewWidth / 2 - centre.x, y: viewHeight / 2 - centre.y })
  }

  // Verbs -------------------------------------------------------------------------------

  /** Why the image does not allow a geometry, or null (always null without an image). */
  problemOf(kind: AnnotationKind, geometry: Geometry['geometry']): string | null {
    return this.image ? geometryProblem({ kind, geometry } as Geometry, this.image) : null
  }

  /**
   * Runs a write; a refused one (the image does not allow it, the entry is gone) becomes the
   * editor's message instead of an exception thrown out of an event handler.
   */
  private attempt<T>(write: () => T): T | null {
    try {
      const result = write()
      if (this.state.message !== null) this.update({ message: null })
      return result
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      this.update({ message: `Not saved: ${reason}` })
      return null
    }
  }

  dismissMessage() {
    if (this.state.message !== null) this.update({ message: null })
  }

  /** Throws when any of the geometries is not allowed, before anything is written. */
  private checkAll(entries: { kind: AnnotationKind; geometry: Geometry['geometry'] }[]) {
    for (const { kind, geometry } of entries) {
      const problem = this.problemOf(kind, geometry)
      if (problem) throw new Error(`${kind}: ${problem}`)
    }
  }

  /** The point moved inside the area geometry may occupy (unchanged without an image). */
  clampToImage(point: Point): Point {
    return this.area ? clampPoint(point, this.area) : point
  }

  /** The drag offset nearest to `offset` that keeps the whole selection inside the image. */
  clampSelectionOffset(offset: Point): Point {
    const bounds = unionBounds(
      this.state.selection.flatMap((id) => {
        const a = this.view.get(id)
        return a ? [boundsOf(a)] : []
      }),
    )
    if (!this.area || !bounds) return offset
    return clampOffset(bounds, this.area, offset) ?? { x: 0, y: 0 }
  }

  select(selection: string[]) {
    this.update({ selection })
  }

  setHover(hoverId: string | null) {
    if (hoverId !== this.state.hoverId) this.update({ hoverId })
  }

  setActiveClass(classId: number | null) {
    this.update({ classId })
    if (!this.state.readOnly) {
      this.attempt(() => {
        for (const id of this.state.selection) updateClass(this.doc, id, classId, this.origin)
      })
    }
  }

  private createChecked(
    kind: AnnotationKind,
    geometry: Geometry['geometry'],
    origin?: AnnotationOrigin,
  ): string {
    const id = createAnnotation(
      this.doc,
      { kind, geometry, classId: this.state.classId, origin },
      this.origin,
      this.image ?? undefined,
    )
    this.undoManager.stopCapturing()
    return id
  }

  /**
   * Writes a new annotation of the active class (a person's, unless `origin` says the click tool
   * made it); null when refused (see `message`).
   */
  create(
    kind: AnnotationKind,
    geometry: Geometry['geometry'],
    origin?: AnnotationOrigin,
  ): string | null {
    if (this.state.readOnly) return null
    return this.attempt(() => this.createChecked(kind, geometry, origin))
  }

  /** Moves the selection, as far as the image allows. */
  moveSelection(dx: number, dy: number) {
    if (this.state.readOnly) return
    const offset = this.clampSelectionOffset({ x: dx, y: dy })
    if (offset.x === 0 && offset.y === 0) return
    const moved = this.state.selection.flatMap((id) => {
      const a = this.view.get(id)
      return a ? [{ id, kind: a.kind, geometry: translateGeometry(a, offset.x, offset.y) }] : []
    })
    this.attempt(() => {
      this.checkAll(moved)
      this.doc.transact(() => {
        for (const { id, geometry } of moved) {
          updateGeometry(this.doc, id, geometry, this.origin, this.image ?? undefined)
          this.takeSuggestion(id)
        }
      }, this.origin)
    })
    this.undoManager.stopCapturing()
  }

  private setGeometryChecked(id: string, geometry: Geometry['geometry']) {
    this.doc.transact(() => {
      updateGeometry(this.doc, id, geometry, this.origin, this.image ?? undefined)
      this.takeSuggestion(id)
    }, this.origin)
    // Each finished gesture is its own undo step.
    this.undoManager.stopCapturing()
  }

  /**
   * A reviewer who changes a pending suggestion's shape has taken it: it is accepted in the same
   * transaction (the server counts it as edited). An annotator's change leaves it pending.
   */
  private takeSuggestion(id: string) {
    const annotation = this.view.get(id)
    if (this.rights.review && annotation && isSuggestion(annotation))
      if (annotation.review === 'pending') acceptSuggestion(this.doc, id, this.origin)
  }

  setGeometry(id: string, geometry: Geometry['geometry']) {
    if (this.state.readOnly) return
    this.attempt(() => this.setGeometryChecked(id, geometry))
  }

  deleteSelection() {
    if (this.state.readOnly) return
    this.doc.transact(() => {
      for (const id of this.state.selection) deleteAnnotation(this.doc, id, this.origin)
    }, this.origin)
    this.select([])
  }

  /** Deletes one annotation (an annotator's way to dismiss a suggestion); undoable. */
  deleteById(id: string) {
    if (this.state.readOnly || !this.view.has(id)) return
    deleteAnnotation(this.doc, id, this.origin)
    this.undoManager.stopCapturing()
  }

  /** Deletes an entry the editor skipped (owners only); not undoable. */
  deleteSkipped(id: string) {
    if (!this.rights.deleteSkipped || !this.view.isSkipped(id)) return
    deleteAnnotation(this.doc, id, this.untrackedOrigin)
  }

  setBrushRadius(radius: number) {
    this.update({ brushRadius: Math.min(200, Math.max(0.5, radius)) })
  }

  /**
   * Paints (union) or erases (subtract) a brush stroke into a mask annotation. Painting keeps
   * to the image's pixels, erasing to the area a mask may occupy.
   */
  paintMask(points: number[], operation: 'union' | 'subtract', start: Point) {
    if (this.state.readOnly) return
    this.attempt(() => this.paintMaskChecked(points, operation, start))
  }

  private paintMaskChecked(points: number[], operation: 'union' | 'subtract', start: Point) {
    const selected =
      this.state.selection.length === 1 ? this.view.get(this.state.selection[0]) : undefined
    const underStart = this.annotationAt(start)
    const target =
      selected?.kind === 'mask'
        ? selected
        : operation === 'subtract' && underStart && this.view.get(underStart)?.kind === 'mask'
          ? this.view.get(underStart)
          : undefined
    const { maxMaskPixels } = ANNOTATION_LIMITS
    const inside =
      this.image && this.area
        ? operation === 'union'
          ? { minX: 0, minY: 0, maxX: this.image.width, maxY: this.image.height }
          : this.area
        : null
    const stroke = inside
      ? strokeInside(points, this.state.brushRadius, inside, maxMaskPixels)
      : rasterizeStroke(points, this.state.brushRadius)
    if (!stroke) return
    const before = target?.kind === 'mask' ? decodeMaskRle(target.geometry) : null
    if (before && this.image) checkCombinedSize(before, stroke, maxMaskPixels)
    const result = combineMasks(before, stroke, operation)
    if (!target) {
      if (result) this.select([this.createChecked('mask', encodeMaskRle(result))])
      return
    }
    if (result) this.setGeometryChecked(target.id, encodeMaskRle(result))
    else {
      deleteAnnotation(this.doc, target.id, this.origin)
      this.undoManager.stopCapturing()
    }
  }

  /** Accepts a suggestion or a person's annotation (reviewers and owners). */
  accept(id: string) {
    if (!this.rights.review) return
    this.attempt(() => acceptSuggestion(this.doc, id, this.origin))
  }

  /** Rejects a suggestion or a person's annotation (reviewers and owners). */
  reject(id: string) {
    if (!this.rights.review) return
    const annotation = this.view.get(id)
    // A suggestion is removed; a person's annotation (a click-tool mask too) is marked rejected
    // for its author.
    this.attempt(() => {
      if (annotation && isSuggestion(annotation)) deleteAnnotation(this.doc, id, this.origin)
      else setReviewDecision(this.doc, id, 'rejected', this.origin)
    })
  }

  copy() {
    clipboard.splice(0, clipboard.length)
    for (const id of this.state.selection) {
      const a = this.view.get(id)
      if (a) clipboard.push(clipboardEntryOf(a))
    }
  }

  /**
   * Writes copies of `sources` moved by `offset`, as near to it as keeps them all inside the
   * image, and selects them; nothing is written when they do not fit.
   */
  private writeCopies(sources: ClipboardEntry[], offset: Point) {
    const bounds = unionBounds(sources.map(boundsOf))
    const placed = this.area && bounds ? clampOffset(bounds, this.area, offset) : offset
    if (!placed) throw new Error('the annotations are larger than this image allows')
    const copies = sources.map((entry) => ({
      ...entry,
      geometry: translateGeometry(entry, placed.x, placed.y),
    })) as ClipboardEntry[]
    this.checkAll(copies)
    const ids: string[] = []
    this.doc.transact(() => {
      for (const copy of copies)
        ids.push(createAnnotation(this.doc, copy, this.origin, this.image ?? undefined))
    }, this.origin)
    this.select(ids)
  }

  paste() {
    if (this.state.readOnly || clipboard.length === 0) return
    // Copied from another image, they may lie outside this one: moved in as little as needed.
    this.attempt(() => this.writeCopies(clipboard, { x: 0, y: 0 }))
  }

  duplicate() {
    if (this.state.readOnly) return
    const step = 10 / this.state.camera.scale
    const sources = this.state.selection.flatMap((id) => {
      const a = this.view.get(id)
      return a ? [clipboardEntryOf(a)] : []
    })
    if (sources.length > 0) this.attempt(() => this.writeCopies(sources, { x: step, y: step }))
  }

  undo() {
    if (!this.state.readOnly) this.undoManager.undo()
  }

  redo() {
    if (!this.state.readOnly) this.undoManager.redo()
  }
}
