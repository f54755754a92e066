// Select and move: click an annotation to select it (shift adds), drag to move the selection.
// On a single selected polygon or polyline: drag a vertex to move it, press on an edge to insert
// a vertex there and drag it, Alt+click a vertex to delete it.
// Moves and vertices stop at the edge of the area the image allows.
// States: select.idle → select.pointing → select.dragging | select.vertex.
import { edgeAt, insertVertex, moveVertex, removeVertex, vertexAt } from '../geometryOf.ts'
import type { Tool } from './Tool.ts'

const HANDLE_SCREEN_PX = 7

export const SelectTool: Tool = {
  id: 'select',
  label: 'Select and move',
  shortcut: 'v',
  onPointerDown(editor, event) {
    const selection = editor.state.selection
    const only = selection.length === 1 ? editor.annotation(selection[0]) : undefined
    if (only && !editor.state.readOnly) {
      const tolerance = HANDLE_SCREEN_PX / editor.state.camera.scale
      const vertex = vertexAt(only, event.point, tolerance)
      if (vertex && event.alt) {
        const geometry = removeVertex(only, vertex)
        if (geometry) editor.setGeometry(only.id, geometry)
        return
      }
      if (vertex) {
        editor.setToolState('select.vertex', {
          vertex: { id: only.id, ...vertex, inserted: false },
          origin: event.point,
        })
        return
      }
      const edge = edgeAt(only, event.point, tolerance)
      if (edge) {
        editor.setToolState('select.vertex', {
          vertex: { id: only.id, ...edge, inserted: true },
          origin: event.point,
        })
        return
      }
    }
    const hit = editor.annotationAt(event.point)
    if (!hit) {
      if (!event.shift) editor.select([])
      editor.setToolState('select.idle')
      return
    }
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
    if (toolState === 'select.vertex' && gesture?.vertex) {
      editor.setToolState(toolState, { ...gesture, cursor: editor.clampToImage(event.point) })
      return
    }
    if (!gesture?.origin || (toolState !== 'select.pointing' && toolState !== 'select.dragging'))
      return
    const pointer = { x: event.point.x - gesture.origin.x, y: event.point.y - gesture.origin.y }
    if (
      toolState === 'select.pointing' &&
      Math.hypot(pointer.x, pointer.y) * editor.state.camera.scale < 3
    )
      return
    // The preview shows where the move will land.
    editor.setToolState('select.dragging', {
      ...gesture,
      offset: editor.clampSelectionOffset(pointer),
    })
  },
  onPointerUp(editor, event) {
    const { toolState, gesture } = editor.state
    if (toolState === 'select.dragging' && gesture?.offset) {
      editor.moveSelection(gesture.offset.x, gesture.offset.y)
    }
    if (toolState === 'select.vertex' && gesture?.vertex) {
      const annotation = editor.annotation(gesture.vertex.id)
      const moved =
        gesture.origin &&
        Math.hypot(event.point.x - gesture.origin.x, event.point.y - gesture.origin.y) > 0
      if (annotation && (moved || gesture.vertex.inserted)) {
        const ref = { list: gesture.vertex.list, index: gesture.vertex.index }
        const point = editor.clampToImage(event.point)
        const geometry = gesture.vertex.inserted
          ? insertVertex(annotation, ref, point)
          : moveVertex(annotation, ref, point)
        editor.setGeometry(annotation.id, geometry)
      }
    }
    editor.setToolState('select.idle')
  },
  onCancel(editor) {
    editor.setToolState('select.idle')
  },
}
