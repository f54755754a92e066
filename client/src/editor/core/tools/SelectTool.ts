// Select and move: click an annotation to select it (shift adds), drag to move the selection.
// States: select.idle → select.pointing → select.dragging.
import type { Tool } from './Tool.ts'

export const SelectTool: Tool = {
  id: 'select',
  label: 'Select and move',
  shortcut: 'v',
  onPointerDown(editor, event) {
    const hit = editor.annotationAt(event.point)
    if (!hit) {
      if (!event.shift) editor.select([])
      editor.setToolState('select.idle')
      return
    }
    const selection = editor.state.selection
    if (event.shift) {
      editor.select(
        selection.includes(hit) ? selection.filter((id) => id !== hit) : [...selection, hit],
      )
    } else if (!selection.includes(hit)) {
      editor.select([hit])
    }
    editor.setToolState('select.pointing', { origin: event.point, offset: { x: 0, y: 0 } })
  },
  onPointerMove(editor, event) {
    const { toolState, gesture } = editor.state
    if (!gesture?.origin || (toolState !== 'select.pointing' && toolState !== 'select.dragging'))
      return
    const offset = { x: event.point.x - gesture.origin.x, y: event.point.y - gesture.origin.y }
    if (
      toolState === 'select.pointing' &&
      Math.hypot(offset.x, offset.y) * editor.state.camera.scale < 3
    )
      return
    editor.setToolState('select.dragging', { ...gesture, offset })
  },
  onPointerUp(editor) {
    const { toolState, gesture } = editor.state
    if (toolState === 'select.dragging' && gesture?.offset) {
      editor.moveSelection(gesture.offset.x, gesture.offset.y)
    }
    editor.setToolState('select.idle')
  },
  onCancel(editor) {
    editor.setToolState('select.idle')
  },
}
