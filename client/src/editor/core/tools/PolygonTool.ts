// Polygon: click to add vertices; close by clicking the first vertex or pressing Enter;
// Backspace removes the last vertex; Escape discards. States: polygon.idle → polygon.drawing.
// Polyline shares the gesture and finishes with Enter or a double click on the last vertex.
// Vertices stop at the edge of the area the image allows.
import type { Editor } from '../Editor.ts'
import type { Tool, ToolId } from './Tool.ts'

const CLOSE_DISTANCE_SCREEN_PX = 8

function finish(editor: Editor, kind: 'polygon' | 'polyline') {
  const points = editor.state.gesture?.points ?? []
  editor.setToolState(`${kind}.idle`)
  const minimum = kind === 'polygon' ? 6 : 4
  if (points.length < minimum) return
  if (kind === 'polygon') editor.create('polygon', { rings: [points] })
  else editor.create('polyline', { points })
}

function vertexTool(id: ToolId & ('polygon' | 'polyline'), label: string, shortcut: string): Tool {
  return {
    id,
    label,
    shortcut,
    onPointerDown(editor, event) {
      if (event.button !== 0) return
      const point = editor.clampToImage(event.point)
      const { toolState, gesture } = editor.state
      const points = toolState === `${id}.drawing` ? [...(gesture?.points ?? [])] : []
      if (points.length >= 4) {
        // A click on the first vertex (polygon) or the last one (polyline) finishes the shape.
        const [tx, ty] = id === 'polygon' ? [points[0], points[1]] : points.slice(-2)
        const distance = Math.hypot(point.x - tx, point.y - ty) * editor.state.camera.scale
        if (distance <= CLOSE_DISTANCE_SCREEN_PX && (id === 'polyline' || points.length >= 6)) {
          editor.setToolState(`${id}.drawing`, { points })
          finish(editor, id)
          return
        }
      }
      points.push(point.x, point.y)
      editor.setToolState(`${id}.drawing`, { points, cursor: point })
    },
    onPointerMove(editor, event) {
      const { toolState, gesture } = editor.state
      if (toolState === `${id}.drawing`)
        editor.setToolState(toolState, { ...gesture, cursor: editor.clampToImage(event.point) })
    },
    onKeyDown(editor, key) {
      if (editor.state.toolState !== `${id}.drawing`) return false
      if (key === 'Enter') {
        finish(editor, id)
        return true
      }
      if (key === 'Backspace') {
        const points = (editor.state.gesture?.points ?? []).slice(0, -2)
        if (points.length === 0) editor.setToolState(`${id}.idle`)
        else editor.setToolState(`${id}.drawing`, { ...editor.state.gesture, points })
        return true
      }
      return false
    },
    onCancel(editor) {
      editor.setToolState(`${id}.idle`)
    },
  }
}

export const PolygonTool = vertexTool('polygon', 'Polygon', 'p')
export const PolylineTool = vertexTool('polyline', 'Polyline', 'l')
