// Brush and eraser for raster masks: press and drag to paint (or erase) with a round brush;
// [ and ] change its size. Painting adds to the selected mask or starts a new one; erasing
// takes away from the selected mask, or from the mask under the stroke's start.
// States: brush.idle → brush.painting (eraser.idle → eraser.painting).
import type { Tool } from './Tool.ts'

function brushTool(id: 'brush' | 'eraser', label: string, shortcut: string): Tool {
  return {
    id,
    label,
    shortcut,
    onPointerDown(editor, event) {
      if (event.button !== 0 || editor.state.readOnly) return
      editor.setToolState(`${id}.painting`, {
        points: [event.point.x, event.point.y],
        origin: event.point,
      })
    },
    onPointerMove(editor, event) {
      const { toolState, gesture } = editor.state
      if (toolState === `${id}.painting` && gesture?.points) {
        editor.setToolState(toolState, {
          ...gesture,
          points: [...gesture.points, event.point.x, event.point.y],
        })
      } else {
        editor.setToolState(`${id}.idle`, { cursor: event.point })
      }
    },
    onPointerUp(editor) {
      const { toolState, gesture } = editor.state
      if (toolState === `${id}.painting` && gesture?.points && gesture.origin) {
        editor.paintMask(gesture.points, id === 'brush' ? 'union' : 'subtract', gesture.origin)
      }
      editor.setToolState(`${id}.idle`)
    },
    onKeyDown(editor, key) {
      if (key === '[' || key === ']') {
        editor.setBrushRadius(editor.state.brushRadius * (key === ']' ? 1.25 : 0.8))
        return true
      }
      return false
    },
    onCancel(editor) {
      editor.setToolState(`${id}.idle`)
    },
  }
}

export const BrushTool = brushTool('brush', 'Brush', 'r')
export const EraserTool = brushTool('eraser', 'Eraser', 'e')
