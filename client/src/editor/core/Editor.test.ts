// The editor core driven headlessly, as a user would drive it: tool states, cancel, undo,
// entries the image does not allow, writes kept inside the image, review rights.
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  allowedArea,
  annotationsOf,
  createAnnotation,
  type ImageExtent,
  SERVER_ORIGIN,
  userOrigin,
} from '../../../../shared/doc/index.ts'
import type { SegmentationAssist } from './assist.ts'
import { Editor, type EditorOptions } from './Editor.ts'
import { boundsOf } from './geometryOf.ts'

const IMAGE: ImageExtent = { width: 400, height: 300 }

class TestEditor extends Editor {
  constructor(
    doc = new Y.Doc(),
    userId = 1,
    readOnly = false,
    options: Partial<EditorOptions> = {},
  ) {
    super(doc, userId, { readOnly, classId: 7, image: IMAGE, ...options })
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

/** Runs `f` and returns how long it took, in milliseconds. */
function timed(f: () => void) {
  const start = performance.now()
  f()
  return performance.now() - start
}

/** Writes (without the image's rules, as a stock client could) the three absurd entries of
 * issue 15 and a malformed one, and two ordinary annotations; returns the ordinary ids. */
function docWithBadEntries() {
  const doc = new Y.Doc()
  const writer = userOrigin(9)
  const box = createAnnotation(
    doc,
    { kind: 'box', geometry: { x: 20, y: 20, width: 40, height: 30 }, classId: 1 },
    writer,
    IMAGE,
  )
  const polygon = createAnnotation(
    doc,
    { kind: 'polygon', geometry: { rings: [[200, 100, 260, 100, 230, 160]] }, classId: 1 },
    writer,
    IMAGE,
  )
  createAnnotation(
    doc,
    { kind: 'box', geometry: { x: 0, y: 0, width: 1e6, height: 1e6 }, classId: 1, id: 'huge-box' },
    writer,
  )
  createAnnotation(
    doc,
    {
      kind: 'polygon',
      geometry: { rings: [[-1e300, -1e300, 1e300, -1e300, 0, 1e300]] },
      classId: 1,
      id: 'far-polygon',
    },
    writer,
  )
  const side = 9e7
  createAnnotation(
    doc,
    {
      kind: 'mask',
      geometry: { x: 0, y: 0, width: side, height: side, counts: [0, side * side] },
      classId: 1,
      id: 'huge-mask',
    },
    writer,
  )
  annotationsOf(doc).set('forged', 'x' as never)
  return { doc, ordinary: [box, polygon] }
}

describe('entries the image does not allow', () => {
  it('skips a 1e6² box, a ±1e300 polygon, a 9e7² mask and a malformed entry, with reasons, and keeps the rest', () => {
    const { doc, ordinary } = docWithBadEntries()
    let editor: TestEditor | undefined
    expect(timed(() => (editor = new TestEditor(doc)))).toBeLessThan(500)
    expect(
      editor!
        .getAnnotations()
        .map((a) => a.id)
        .sort(),
    ).toEqual([...ordinary].sort())
    const reasons = Object.fromEntries(editor!.state.skipped.map((s) => [s.id, s.reason]))
    expect(Object.keys(reasons).sort()).toEqual(['far-polygon', 'forged', 'huge-box', 'huge-mask'])
    expect(reasons['huge-box']).toMatch(/outside the image/)
    expect(reasons['far-polygon']).toMatch(/outside the image/)
    expect(reasons['huge-mask']).toMatch(/more than the limit/)
    expect(reasons.forged).toMatch(/not a map/)
  })

  it('hit-tests and finds annotations in any area quickly, skipped entries never among them', () => {
    const { doc, ordinary } = docWithBadEntries()
    const editor = new TestEditor(doc)
    const elapsed = timed(() => {
      expect(editor.annotationAt({ x: 30, y: 30 })).toBe(ordinary[0])
      expect(editor.annotationAt({ x: 5000, y: 5000 })).toBeNull()
      expect(editor.annotationAt({ x: 1e300, y: 1e300 })).toBeNull()
      const everywhere = { minX: -1e308, minY: -1e308, maxX: 1e308, maxY: 1e308 }
      expect(
        editor
          .annotationsIn(everywhere)
          .map((a) => a.id)
          .sort(),
      ).toEqual([...ordinary].sort())
      expect(editor.annotationsIn({ minX: 1e6, minY: 1e6, maxX: 2e6, maxY: 2e6 })).toEqual([])
    })
    expect(elapsed).toBeLessThan(200)
  })

  it('stays bounded without an image too: the absurd entries are indexed without visiting their cells', () => {
    const { doc } = docWithBadEntries()
    const editor = new Editor(doc, 1, { readOnly: false, classId: null })
    const elapsed = timed(() => {
      expect(editor.annotationAt({ x: 30, y: 30 })).not.toBeNull()
      expect(editor.annotationsIn({ minX: 0, minY: 0, maxX: 1e9, maxY: 1e9 })).toHaveLength(5)
    })
    expect(elapsed).toBeLessThan(200)
  })

  it('skips a bad entry that arrives later and keeps the others; a repair brings it back', () => {
    const doc = new Y.Doc()
    const editor = new TestEditor(doc)
    editor.setTool('box')
    editor.drag([10, 10], [40, 30])
    const [mine] = editor.getAnnotations()
    createAnnotation(
      doc,
      { kind: 'box', geometry: { x: 0, y: 0, width: 1e6, height: 1e6 }, classId: 1, id: 'late' },
      SERVER_ORIGIN,
    )
    expect(editor.getAnnotations().map((a) => a.id)).toEqual([mine.id])
    expect(editor.state.skipped.map((s) => s.id)).toEqual(['late'])
    expect(editor.annotationAt({ x: 500, y: 250 })).toBeNull()
    // A repair by the server (the same entry, now inside the image) makes it an annotation.
    annotationsOf(doc).get('late')!.set('geometry', { x: 100, y: 100, width: 50, height: 50 })
    expect(editor.state.skipped).toEqual([])
    expect(editor.annotationAt({ x: 120, y: 120 })).toBe('late')
  })

  it('lets an owner delete a skipped entry, for good; others cannot', () => {
    const { doc } = docWithBadEntries()
    const annotator = new TestEditor(doc, 2)
    annotator.deleteSkipped('huge-box')
    expect(annotationsOf(doc).has('huge-box')).toBe(true)
    const owner = new TestEditor(doc, 1, false, { canDeleteSkipped: true })
    owner.deleteSkipped('huge-box')
    owner.deleteSkipped('forged')
    expect(annotationsOf(doc).has('huge-box')).toBe(false)
    expect(owner.state.skipped.map((s) => s.id).sort()).toEqual(['far-polygon', 'huge-mask'])
    expect(annotator.state.skipped).toHaveLength(2)
    owner.undo()
    expect(annotationsOf(doc).has('huge-box')).toBe(false)
    expect(owner.state.skipped).toHaveLength(2)
  })
})

describe("writes stay inside the image's allowed area", () => {
  const area = allowedArea(IMAGE)
  const inside = (editor: Editor) =>
    editor.getAnnotations().every((a) => {
      const b = boundsOf(a)
      return (
        b.minX >= area.minX && b.maxX <= area.maxX && b.minY >= area.minY && b.maxY <= area.maxY
      )
    })

  it('stops a dragged selection at the edge, in the preview and in the doc', () => {
    const editor = new TestEditor()
    editor.setTool('box')
    editor.drag([10, 10], [40, 30])
    editor.setTool('select')
    editor.pointerDown({ point: { x: 20, y: 20 }, button: 0, shift: false, alt: false })
    editor.pointerMove({ point: { x: -5000, y: 20 }, button: 0, shift: false, alt: false })
    expect(editor.state.gesture?.offset?.x).toBeCloseTo(area.minX - 10, 3)
    editor.pointerMove({ point: { x: -5000, y: 9000 }, button: 0, shift: false, alt: false })
    editor.pointerUp({ point: { x: -5000, y: 9000 }, button: 0, shift: false, alt: false })
    const [box] = editor.getAnnotations()
    expect(box.geometry).toMatchObject({ width: 30, height: 20 })
    if (box.kind !== 'box') throw new Error('not a box')
    expect(box.geometry.x).toBeCloseTo(area.minX, 3)
    expect(box.geometry.y + 20).toBeCloseTo(area.maxY, 3)
    expect(inside(editor)).toBe(true)
    expect(editor.state.message).toBeNull()
  })

  it('keeps drawn corners and dragged vertices inside', () => {
    const editor = new TestEditor()
    editor.setTool('box')
    editor.drag([300, 200], [1e6, 1e6])
    editor.setTool('polygon')
    editor.click(10, 10)
    editor.click(-1e9, 50)
    editor.click(60, 60)
    editor.key('Enter')
    expect(editor.getAnnotations()).toHaveLength(2)
    editor.setTool('select')
    editor.select([editor.getAnnotations()[1].id])
    editor.drag([60, 60], [60, 1e7])
    expect(inside(editor)).toBe(true)
    expect(editor.annotation(editor.state.selection[0])!.geometry).toEqual({
      rings: [[10, 10, area.minX, 50, 60, area.maxY]],
    })
  })

  it('duplicates and pastes inside the image, and refuses what cannot fit with a message', () => {
    const big = new TestEditor(new Y.Doc(), 1, false, { image: { width: 4000, height: 4000 } })
    big.setTool('box')
    big.drag([3000, 3000], [3100, 3050])
    big.drag([0, 0], [3900, 20])
    big.setTool('select')
    big.select([big.getAnnotations()[0].id])
    big.setCamera({ x: 0, y: 0, scale: 0.02 })
    big.key('c', true)
    const editor = new TestEditor()
    editor.key('v', true)
    expect(editor.getAnnotations()).toHaveLength(1)
    expect(inside(editor)).toBe(true)
    editor.setCamera({ x: 0, y: 0, scale: 0.02 })
    editor.key('d', true)
    expect(editor.getAnnotations()).toHaveLength(2)
    expect(inside(editor)).toBe(true)
    // A box wider than this image and its margin does not fit: nothing is written.
    big.select([big.getAnnotations()[1].id])
    big.key('c', true)
    expect(() => editor.key('v', true)).not.toThrow()
    expect(editor.getAnnotations()).toHaveLength(2)
    expect(editor.state.message).toMatch(/larger than this image allows/)
  })

  it('shows a message for a refused write instead of throwing, and clears it on the next write', () => {
    const editor = new TestEditor()
    editor.setTool('points')
    expect(() => editor.click(1e5, 1e5)).not.toThrow()
    expect(editor.getAnnotations()).toEqual([])
    expect(editor.state.message).toMatch(/^Not saved: .*outside the image/)
    editor.click(50, 50)
    expect(editor.getAnnotations()).toHaveLength(1)
    expect(editor.state.message).toBeNull()
  })

  it("paints brush strokes only on the image's pixels, quickly, however far the stroke goes", () => {
    const editor = new TestEditor()
    editor.setTool('brush')
    editor.setBrushRadius(4)
    const elapsed = timed(() => editor.drag([390, 150], [1e7, 1e7]))
    expect(elapsed).toBeLessThan(500)
    const [mask] = editor.getAnnotations()
    if (mask?.kind !== 'mask') throw new Error('no mask painted')
    expect(mask.geometry.x + mask.geometry.width).toBeLessThanOrEqual(IMAGE.width)
    expect(mask.geometry.y + mask.geometry.height).toBeLessThanOrEqual(IMAGE.height)
    editor.select([])
    editor.drag([1e5, 1e5], [2e5, 2e5])
    expect(editor.getAnnotations()).toHaveLength(1)
    expect(editor.state.message).toBeNull()
  })
})

describe('review rights', () => {
  function docWithSuggestion() {
    const doc = new Y.Doc()
    const id = createAnnotation(
      doc,
      {
        kind: 'box',
        geometry: { x: 1, y: 1, width: 5, height: 5 },
        classId: 1,
        origin: { type: 'model', modelVersion: 'v0', score: 0.9 },
      },
      { source: 'model', modelVersion: 'v0' },
    )
    return { doc, id }
  }

  it('lets an annotator delete a suggestion but not accept or reject it', () => {
    const { doc, id } = docWithSuggestion()
    const annotator = new TestEditor(doc, 2, false, { canReview: false })
    annotator.accept(id)
    annotator.reject(id)
    expect(annotator.annotation(id)?.review).toBe('pending')
    annotator.deleteById(id)
    expect(annotator.getAnnotations()).toEqual([])
  })

  it('lets a reviewer accept a suggestion', () => {
    const { doc, id } = docWithSuggestion()
    const reviewer = new TestEditor(doc, 3, false, { canReview: true })
    reviewer.accept(id)
    expect(reviewer.annotation(id)?.review).toBe('accepted')
  })
})

describe('segmentation assist across model versions', () => {
  /** An assist that answers every click with a square around it and proposes one object. */
  function fakeAssist(version: string) {
    const calls: { objectKey: number; clicks: number }[] = []
    const forgotten: number[] = []
    const assist: SegmentationAssist = {
      version,
      async click(objectKey, clicks) {
        calls.push({ objectKey, clicks: clicks.length })
        const { x, y } = clicks[0]!
        const ring = [x - 5, y - 5, x + 5, y - 5, x + 5, y + 5, x - 5, y + 5]
        return {
          rect: { x: x - 5, y: y - 5, width: 10, height: 10 },
          mask: new Uint8Array(100).fill(1),
          rings: [ring],
          encoded: false,
          modelVersion: version,
        }
      },
      forget: (objectKey) => forgotten.push(objectKey),
      async propose() {
        const ring = [100, 100, 120, 100, 120, 120, 100, 120]
        return [
          { rings: [ring], score: 0.9, area: 400, bbox: { x: 100, y: 100, width: 20, height: 20 } },
        ]
      },
    }
    return { assist, calls, forgotten }
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

  it("runs the click tool's object again with a new version instead of dropping it", async () => {
    const editor = new TestEditor()
    const v0 = fakeAssist('v0')
    editor.setAssist(v0.assist)
    editor.key('m')
    editor.click(50, 50)
    await settle()
    expect(editor.assistSettled).toBe(true)
    const key = editor.state.assisted!.key
    expect(editor.state.assisted!.result?.modelVersion).toBe('v0')

    const v1 = fakeAssist('v1')
    editor.setAssist(v1.assist)
    expect(editor.state.assistVersion).toBe('v1')
    expect(v0.forgotten).toContain(key)
    expect(editor.assistSettled).toBe(false)
    // The old version's mask stays in view, saying so, until the new version answers.
    expect(editor.state.assisted!.result?.modelVersion).toBe('v0')
    editor.expectToBeIn('click.active')
    await settle()
    expect(editor.assistSettled).toBe(true)
    expect(editor.state.assisted!.result?.modelVersion).toBe('v1')
    expect(v1.calls).toEqual([{ objectKey: key, clicks: 1 }])
    editor.key('Enter')
    expect(editor.getAnnotations()).toHaveLength(1)
  })

  it("keeps the click tool's provenance: the version and the object's clicks, accepted, the clicker's", async () => {
    const editor = new TestEditor(new Y.Doc(), 1, false, { canReview: true })
    editor.setAssist(fakeAssist('v1').assist)
    editor.key('m')
    editor.click(50, 50)
    editor.pointerDown({ point: { x: 60, y: 60 }, button: 2, shift: false, alt: false })
    editor.click(52, 52)
    await settle()
    editor.key('Enter', false, true)
    const [mask] = editor.getAnnotations()
    expect(mask).toMatchObject({
      kind: 'mask',
      author: 1,
      review: 'accepted',
      origin: { type: 'model', modelVersion: 'v1', score: 1, clicks: 3 },
    })
    // Undo takes it back like anything the person made.
    editor.undo()
    expect(editor.getAnnotations()).toEqual([])
    editor.redo()
    // A reviewer's reject marks it rejected (it is a person's annotation), not deleted.
    editor.reject(mask!.id)
    expect(editor.annotation(mask!.id)?.review).toBe('rejected')
  })

  it("accepts a pending suggestion whose shape a reviewer changes; an annotator's change leaves it pending", async () => {
    const doc = new Y.Doc()
    const reviewer = new TestEditor(doc, 1, false, { canReview: true })
    const annotator = new TestEditor(doc, 2, false, { canReview: false })
    reviewer.setAssist(fakeAssist('v1').assist)
    expect(await reviewer.suggest({ x: 0, y: 0, width: 400, height: 300 })).toBe(1)
    const [suggestion] = reviewer.getAnnotations()
    annotator.select([suggestion!.id])
    annotator.moveSelection(5, 0)
    expect(annotator.annotation(suggestion!.id)?.review).toBe('pending')
    reviewer.select([suggestion!.id])
    reviewer.drag([105, 100], [95, 90])
    const taken = reviewer.annotation(suggestion!.id)!
    expect(taken.review).toBe('accepted')
    expect(taken.geometry).toEqual({ rings: [[95, 90, 125, 100, 125, 120, 105, 120]] })
    // One undo step takes back the change and the acceptance together.
    reviewer.undo()
    expect(reviewer.annotation(suggestion!.id)).toMatchObject({
      review: 'pending',
      geometry: { rings: [[105, 100, 125, 100, 125, 120, 105, 120]] },
    })
  })

  it('drops the object when the assist goes away', async () => {
    const editor = new TestEditor()
    editor.setAssist(fakeAssist('v0').assist)
    editor.key('m')
    editor.click(50, 50)
    await settle()
    editor.setAssist(null)
    expect(editor.state.assisted).toBeNull()
    expect(editor.state.assistVersion).toBeNull()
  })

  it("marks Auto's suggestions with the version in use after a swap", async () => {
    const editor = new TestEditor()
    editor.setAssist(fakeAssist('v0').assist)
    editor.setAssist(fakeAssist('v1').assist)
    expect(await editor.suggest({ x: 0, y: 0, width: 400, height: 300 })).toBe(1)
    const [made] = editor.getAnnotations()
    expect(made?.origin).toMatchObject({ type: 'model', modelVersion: 'v1' })
  })

  it('discards proposals that arrive after the version changed', async () => {
    const editor = new TestEditor()
    const v0 = fakeAssist('v0')
    editor.setAssist(v0.assist)
    const pending = editor.suggest({ x: 0, y: 0, width: 400, height: 300 })
    editor.setAssist(fakeAssist('v1').assist)
    expect(await pending).toBe(0)
    expect(editor.getAnnotations()).toEqual([])
  })
})
