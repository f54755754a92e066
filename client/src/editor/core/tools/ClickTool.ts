// Click segmentation: left click adds a positive point, right click (or Alt+click) a negative
// one, and the model's mask of the object updates after each click. Enter accepts it as a
// polygon, Shift+Enter as a raster mask; Backspace removes the last click; Escape discards.
// States: click.idle → click.active (an object with clicks) → click.idle.
import type { Tool } from './Tool.ts'

export const ClickTool: Tool = {
  id: 'click',
  label: 'Click',
  shortcut: 'm',
  onPointerDown(editor, event) {
    if (event.button !== 0 && event.button !== 2) return
    const positive = event.button === 0 && !event.alt
    editor.addAssistClick({ x: event.point.x, y: event.point.y, positive })
  },
  onKeyDown(editor, key, modifiers) {
    if (editor.state.toolState !== 'click.active') return false
    if (key === 'Enter') {
      editor.acceptAssisted(modifiers?.shift ? 'mask' : 'polygon')
      return true
    }
    if (key === 'Backspace') {
      editor.removeLastAssistClick()
      return true
    }
    return false
  },
  onCancel(editor) {
    editor.discardAssisted()
  },
}
