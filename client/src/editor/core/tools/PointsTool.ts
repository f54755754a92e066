// Points: each click places one point annotation. States: points.idle.
import type { Tool } from './Tool.ts'

export const PointsTool: Tool = {
  id: 'points',
  label: 'Point',
  shortcut: 'o',
  onPointerDown(editor, event) {
    if (event.button === 0) editor.create('points', { points: [event.point.x, event.point.y] })
  },
}
