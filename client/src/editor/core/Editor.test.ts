// The editor core driven headlessly, as a user would drive it: tool states, cancel, undo.
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createAnnotation, userOrigin } from '../../../../shared/doc/index.ts'
import { Editor } from './Editor.ts'

class TestEditor extends Editor {
  constructor(doc = new Y.Doc(), userId = 1, readOnly = false) {
    super(doc, userId, { readOnly, classId: 7 })
  }
  click(x: number, y: number, shift = false) {
    this.pointerDown({ point: { x, y }, button: 0, shift, alt: false })
    this.pointerUp({ point: { x, y }, button: 0, shift, alt: false })
  }
  drag(from: [number, number], to: [number, number]) {
    this.pointerDown({ point: { x: from[0], y: from[1] }, button: 0, shift: false, alt: false })
    this.pointerMove({
      point: { x: (from[0] + to[0]) / 2, y: (from[1] + to[1]) / 2 },
      button: 0,
      shift: false,
      alt: false,
    })
    this.pointerMove({ point: { x: to[0], y: to[1] }, button: 0, shift: false, alt: false })
    this.pointerUp({ point: { x: to[0], y: to[1] }, button: 0, shift: false, alt: false })
  }
  key(key: string, ctrl = false, shift = false) {
    return this.keyDown(key, { ctrl, shift })
  }
  expectToBeIn(path: string) {
    expect(this.state.toolState).toBe(path)
  }
}

describe('polygon tool', () => {
  it('adds vertices, closes on Enter and creates a polygon of the active class', () => {
    const editor = new TestEditor()
    editor.key('p')
    editor.expectToBeIn('polygon.idle')
    editor.click(10, 10)
    editor.expectToBeIn('polygon.drawing')
    editor.click(30, 10)
    editor.click(30, 30)
    editor.key('Enter')
    editor.expectToBeIn('polygon.idle')
    expect(editor.getAnnotations()).toMatchObject([
      { kind: 'polygon', classId: 7, author: 1, geometry: { rings: [[10, 10, 30, 10, 30, 30]] } },
    ])
  })

  it('closes when the first vertex is clicked again, and Backspace removes the last vertex', () => {
    const editor = new TestEditor()
    editor.setTool('polygon')
    for (const [x, y] of [
      [0, 0],
      [20, 0],
      [99, 99],
    ])
      editor.click(x, y)
    editor.key('Backspace')
    editor.click(20, 20)
    editor.click(0.5, 0.5)
    expect(editor.getAnnotations()[0].geometry).toEqual({ rings: [[0, 0, 20, 0, 20, 20]] })
  })

  it('discards the polygon on Escape and when interrupted by another tool', () => {
    const editor = new TestEditor()
    editor.setTool('polygon')
    editor.click(0, 0)
    editor.click(10, 0)
    editor.key('Escape')
    editor.expectToBeIn('polygon.idle')
    editor.click(0, 0)
    editor.setTool('box')
    editor.expectToBeIn('box.idle')
    expect(editor.getAnnotations()).toEqual([])
  })
})

describe('box and select tools', () => {
  it('draws a box by dragging, then selects and moves it; undo puts it back', () => {
    const editor = new TestEditor()
    editor.setTool('box')
    editor.drag([10, 10], [40, 30])
    const [box] = editor.getAnnotations()
    expect(box.geometry).toEqual({ x: 10, y: 10, width: 30, height: 20 })
    editor.setTool('select')
    editor.drag([20, 20], [25, 40])
    editor.expectToBeIn('select.idle')
    expect(editor.state.selection).toEqual([box.id])
    expect(editor.getAnnotations()[0].geometry).toEqual({ x: 15, y: 30, width: 30, height: 20 })
    editor.key('z', true)
    expect(editor.getAnnotations()[0].geometry).toEqual({ x: 10, y: 10, width: 30, height: 20 })
    editor.key('z', true, true)
    expect(editor.getAnnotations()[0].geometry).toEqual({ x: 15, y: 30, width: 30, height: 20 })
  })

  it('deletes, duplicates, copies and pastes the selection', () => {
    const editor = new TestEditor()
    editor.setTool('box')
    editor.drag([0, 0], [10, 10])
    editor.setTool('select')
    editor.click(5, 5)
    editor.key('d', true)
    expect(editor.getAnnotations()).toHaveLength(2)
    editor.key('c', true)
    const other = new TestEditor(new Y.Doc(), 2)
    other.key('v', true)
    expect(other.getAnnotations()).toHaveLength(1)
    editor.key('Delete')
    expect(editor.getAnnotations()).toHaveLength(1)
  })
})

describe('undo and read-only', () => {
  it("never undoes another user's edit", () => {
    const doc = new Y.Doc()
    const editor = new TestEditor(doc, 1)
    createAnnotation(
      doc,
      { kind: 'points', geometry: { points: [1, 1] }, classId: 1 },
      userOrigin(2),
    )
    editor.setTool('points')
    editor.click(5, 5)
    expect(editor.getAnnotations()).toHaveLength(2)
    editor.undo()
    editor.undo()
    expect(editor.getAnnotations().map((a) => a.author)).toEqual([2])
  })

  it('refuses every edit in a read-only editor', () => {
    const editor = new TestEditor(new Y.Doc(), 1, true)
    editor.setTool('polygon')
    editor.expectToBeIn('select.idle')
    editor.create('box', { x: 0, y: 0, width: 1, height: 1 })
    expect(editor.getAnnotations()).toEqual([])
  })
})

describe('vertex editing', () => {
  it('moves a vertex, inserts one on an edge and deletes one with Alt', () => {
    const editor = new TestEditor()
    editor.setTool('polygon')
    for (const [x, y] of [
      [0, 0],
      [40, 0],
      [40, 40],
      [0, 40],
    ])
      editor.click(x, y)
    editor.key('Enter')
    editor.setTool('select')
    editor.click(20, 20)
    const id = editor.state.selection[0]
    editor.drag([40, 40], [50, 60])
    editor.expectToBeIn('select.idle')
    expect(editor.annotation(id)!.geometry).toEqual({ rings: [[0, 0, 40, 0, 50, 60, 0, 40]] })
    editor.drag([20, 0], [20, -10])
    expect(editor.annotation(id)!.geometry).toEqual({
      rings: [[0, 0, 20, -10, 40, 0, 50, 60, 0, 40]],
    })
    editor.pointerDown({ point: { x: 20, y: -10 }, button: 0, shift: false, alt: true })
    editor.pointerUp({ point: { x: 20, y: -10 }, button: 0, shift: false, alt: true })
    expect(editor.annotation(id)!.geometry).toEqual({ rings: [[0, 0, 40, 0, 50, 60, 0, 40]] })
    editor.undo()
    expect(editor.annotation(id)!.geometry).toEqual({
      rings: [[0, 0, 20, -10, 40, 0, 50, 60, 0, 40]],
    })
  })
})

describe('brush and eraser', () => {
  it('paints a mask, adds to it while selected, erases part of it and then all of it', () => {
    const editor = new TestEditor()
    editor.setTool('brush')
    editor.setBrushRadius(3)
    editor.drag([10, 10], [30, 10])
    const [mask] = editor.getAnnotations()
    expect(mask.kind).toBe('mask')
    const area = (id: string) => {
      const a = editor.annotation(id)
      return a?.kind === 'mask'
        ? a.geometry.counts.filter((_, k) => k % 2 === 1).reduce((s, n) => s + n, 0)
        : 0
    }
    const first = area(mask.id)
    editor.drag([30, 10], [30, 30])
    expect(editor.getAnnotations()).toHaveLength(1)
    expect(area(mask.id)).toBeGreaterThan(first)
    editor.setTool('eraser')
    editor.drag([10, 10], [20, 10])
    const erased = area(mask.id)
    expect(erased).toBeLessThan(first + 60)
    expect(erased).toBeGreaterThan(0)
    editor.setBrushRadius(100)
    editor.drag([20, 20], [21, 21])
    expect(editor.getAnnotations()).toEqual([])
    editor.undo()
    expect(area(mask.id)).toBe(erased)
  })
})
