// The one interface every editor tool implements: a small state machine driven by pointer and
// key events in image coordinates. A tool writes only through the Editor's verbs.
import type { Editor } from '../Editor.ts'
import type { Point } from '../geometryOf.ts'

export interface ToolPointerEvent {
  point: Point
  button: number
  shift: boolean
  alt: boolean
}

export type ToolId =
  | 'select'
  | 'click'
  | 'box'
  | 'polygon'
  | 'points'
  | 'polyline'
  | 'brush'
  | 'eraser'

export interface Tool {
  id: ToolId
  label: string
  /** Key that activates the tool (lower case). */
  shortcut: string
  onPointerDown?(editor: Editor, event: ToolPointerEvent): void
  onPointerMove?(editor: Editor, event: ToolPointerEvent): void
  onPointerUp?(editor: Editor, event: ToolPointerEvent): void
  /** Returns true when the tool handled the key. */
  onKeyDown?(editor: Editor, key: string, modifiers?: { shift: boolean }): boolean
  onCancel?(editor: Editor): void
}
