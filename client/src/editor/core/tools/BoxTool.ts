// Box: press at one corner, drag to the other, release. States: box.idle → box.drawing.
import type { Tool } from './Tool.ts'

export const BoxTool: Tool = {
  id: 'box',
  label: 'Box',
  shortcut: 'b',
  onPointerDown(editor, event) {
    if (event.button !== 0) return
    editor.setToolState('box.drawing', {
      origin: event.point,
      points: [event.point.x, event.point.y, event.point.x, event.point.y],
    })
  },
  onPointerMove(editor, event) {
    const { toolState, gesture } = editor.state
    if (toolState !== 'box.drawing' || !gesture?.origin) return
    editor.setToolState('box.drawing', {
      ...gesture,
      points: [gesture.origin.x, gesture.origin.y, event.point.x, event.point.y],
    })
  },
  onPointerUp(editor, event) {
    const { toolState, gesture } = editor.state
    if (toolState !== 'box.drawing' || !gesture?.origin) return
    const x = Math.min(gesture.origin.x, event.point.x)
    const y = Math.min(gesture.origin.y, event.point.y)
    const width = Math.abs(event.point.x - gesture.origin.x)
    const height = Math.abs(event.point.y - gesture.origin.y)
    editor.setToolState('box.idle')
    if (width >= 1 && height >= 1) editor.create('box', { x, y, width, height })
  },
  onCancel(editor) {
    editor.setToolState('box.idle')
  },
}
