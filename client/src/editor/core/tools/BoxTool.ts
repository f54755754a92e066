// Box: press at one corner, drag to the other, release; corners stop at the edge of the area
// the image allows. States: box.idle → box.drawing.
import type { Tool } from './Tool.ts'

export const BoxTool: Tool = {
  id: 'box',
  label: 'Box',
  shortcut: 'b',
  onPointerDown(editor, event) {
    if (event.button !== 0) return
    const point = editor.clampToImage(event.point)
    editor.setToolState('box.drawing', {
      origin: point,
      points: [point.x, point.y, point.x, point.y],
    })
  },
  onPointerMove(editor, event) {
    const { toolState, gesture } = editor.state
    if (toolState !== 'box.drawing' || !gesture?.origin) return
    const point = editor.clampToImage(event.point)
    editor.setToolState('box.drawing', {
      ...gesture,
      points: [gesture.origin.x, gesture.origin.y, point.x, point.y],
    })
  },
  onPointerUp(editor, event) {
    const { toolState, gesture } = editor.state
    if (toolState !== 'box.drawing' || !gesture?.origin) return
    const point = editor.clampToImage(event.point)
    const x = Math.min(gesture.origin.x, point.x)
    const y = Math.min(gesture.origin.y, point.y)
    const width = Math.abs(point.x - gesture.origin.x)
    const height = Math.abs(point.y - gesture.origin.y)
    editor.setToolState('box.idle')
    if (width >= 1 && height >= 1) editor.create('box', { x, y, width, height })
  },
  onCancel(editor) {
    editor.setToolState('box.idle')
  },
}
