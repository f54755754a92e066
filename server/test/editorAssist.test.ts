// The editor's click tool and Auto driven headlessly as a user drives them, with the real model
// v0 on onnxruntime-node behind the same SegmentationAssist the browser's worker provides:
// clicks refine one object, Backspace and Escape undo and discard, Enter writes a polygon and
// Shift+Enter a raster mask, Auto writes model suggestions once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { SegmentationAssist } from '../../client/src/editor/core/assist.ts'
import { Editor } from '../../client/src/editor/core/Editor.ts'
import { maskIoU } from '../../shared/geometry/iou.ts'
import { decodeMaskRle } from '../../shared/geometry/mask.ts'
import { rasterizePolygon } from '../../shared/geometry/rasterize.ts'
import { ImageSession } from '../../shared/ml/imageSession.ts'
import { computeChannelStats } from '../../shared/ml/normalization.ts'
import type { Segmenter } from '../../shared/ml/segmenter.ts'
import { generateNuclei } from '../src/demo/syntheticNuclei.ts'
import { loadSegmenter, SHIPPED_MODEL_DIR } from '../src/models/loadModel.ts'

const spec = {
  seed: 21,
  width: 256,
  height: 256,
  channels: 1 as const,
  count: 14,
  radius: [10, 16] as [number, number],
}
const truth = generateNuclei(spec)
let segmenter: Segmenter

beforeAll(async () => {
  segmenter = await loadSegmenter(SHIPPED_MODEL_DIR, 1)
})
afterAll(async () => {
  await segmenter?.release()
})

function editorWithModel() {
  const session = new ImageSession(segmenter, {
    width: spec.width,
    height: spec.height,
    channels: 1,
    samples: truth.pixels,
    stats: [computeChannelStats(truth.pixels)],
  })
  const assist: SegmentationAssist = {
    version: segmenter.card.version,
    click: async (key, clicks) => ({
      ...(await session.click(key, clicks)),
      modelVersion: segmenter.card.version,
    }),
    forget: (key) => session.forget(key),
    propose: async (area) => {
      for (const tile of session.tilesMissingFor(area)) await session.encodeTile(tile)
      return session.proposalsIn(area)
    },
  }
  const editor = new Editor(new Y.Doc(), 1, { readOnly: false, classId: 3 })
  editor.setAssist(assist)
  editor.setViewSize(spec.width, spec.height, spec.width, spec.height)
  editor.setTool('click')
  return editor
}

async function settled(editor: Editor) {
  for (let i = 0; i < 500 && !editor.assistSettled; i++) await new Promise((r) => setTimeout(r, 5))
  expect(editor.assistSettled).toBe(true)
}

const press = (editor: Editor, button: number, x: number, y: number, alt = false) =>
  editor.pointerDown({ point: { x, y }, button, shift: false, alt })

const key = (editor: Editor, k: string, shift = false) => editor.keyDown(k, { ctrl: false, shift })

const labelMask = (label: number) => Uint8Array.from(truth.labels, (l) => (l === label ? 1 : 0))
// Nuclei whose centre pixel is their own, largest first.
const ownCentre = truth.nuclei
  .filter((n) => truth.labels[Math.round(n.cy) * spec.width + Math.round(n.cx)] === n.label)
  .sort((a, b) => b.rx * b.ry - a.rx * a.ry)

describe('click tool with the model', () => {
  it('turns one click into a polygon of the nucleus on Enter, undoable', async () => {
    const editor = editorWithModel()
    const n = ownCentre[0]
    press(editor, 0, n.cx, n.cy)
    expect(editor.state.toolState).toBe('click.active')
    await settled(editor)
    expect(key(editor, 'Enter')).toBe(true)
    const [a] = editor.getAnnotations()
    expect(a.kind).toBe('polygon')
    expect(a.classId).toBe(3)
    // A click mask keeps its provenance: the version and the clicks it took, and it is the
    // clicking person's, accepted.
    expect(a.origin).toMatchObject({ type: 'model', clicks: 1 })
    expect(a.review).toBe('accepted')
    if (a.kind !== 'polygon') throw new Error('not a polygon')
    const iou = maskIoU(
      rasterizePolygon(a.geometry.rings, spec.width, spec.height),
      labelMask(n.label),
    )
    expect(iou).toBeGreaterThanOrEqual(0.8)
    expect(editor.state.toolState).toBe('click.idle')
    editor.undo()
    expect(editor.getAnnotations()).toHaveLength(0)
  })

  it('shrinks the mask with a right click inside it and restores it with Backspace', async () => {
    const editor = editorWithModel()
    const n = ownCentre[1]
    press(editor, 0, n.cx, n.cy)
    await settled(editor)
    const area = () => editor.state.assisted!.result!.mask.reduce((s, v) => s + v, 0)
    const before = area()
    press(editor, 2, n.cx + 2, n.cy)
    await settled(editor)
    expect(editor.state.assisted!.clicks.map((c) => c.positive)).toEqual([true, false])
    expect(area()).toBeLessThan(before)
    key(editor, 'Backspace')
    await settled(editor)
    expect(editor.state.assisted!.clicks).toHaveLength(1)
    expect(area()).toBe(before)
  })

  it('writes a raster mask with Shift+Enter; Escape discards without writing', async () => {
    const editor = editorWithModel()
    const n = ownCentre[2]
    // A first negative click starts nothing (Alt+click is negative).
    press(editor, 0, n.cx, n.cy, true)
    expect(editor.state.assisted).toBeNull()
    press(editor, 0, n.cx, n.cy)
    await settled(editor)
    key(editor, 'Escape')
    expect(editor.state.assisted).toBeNull()
    expect(editor.getAnnotations()).toHaveLength(0)
    press(editor, 0, n.cx, n.cy)
    await settled(editor)
    key(editor, 'Enter', true)
    const [a] = editor.getAnnotations()
    expect(a.kind).toBe('mask')
    if (a.kind !== 'mask') throw new Error('not a mask')
    const decoded = decodeMaskRle(a.geometry)
    const full = new Uint8Array(spec.width * spec.height)
    for (let y = 0; y < decoded.height; y++)
      for (let x = 0; x < decoded.width; x++)
        full[(decoded.y + y) * spec.width + decoded.x + x] = decoded.data[y * decoded.width + x]
    expect(maskIoU(full, labelMask(n.label))).toBeGreaterThanOrEqual(0.75)
  })
})

describe('Auto', () => {
  it('adds the proposals in view as pending model suggestions, once', async () => {
    const editor = editorWithModel()
    const added = await editor.suggest()
    expect(added).toBeGreaterThanOrEqual(spec.count / 2)
    const suggestions = editor.getAnnotations()
    expect(suggestions).toHaveLength(added)
    for (const s of suggestions) {
      expect(s.origin).toMatchObject({ type: 'model', modelVersion: 'v0' })
      expect(s.review).toBe('pending')
      expect(s.author).toBeNull()
    }
    // Most suggestions match a true nucleus at IoU 0.5.
    let matched = 0
    for (const s of suggestions) {
      if (s.kind !== 'polygon') continue
      const mask = rasterizePolygon(s.geometry.rings, spec.width, spec.height)
      if (truth.nuclei.some((n) => maskIoU(mask, labelMask(n.label)) >= 0.5)) matched++
    }
    expect(matched / suggestions.length).toBeGreaterThan(0.7)
    expect(await editor.suggest()).toBe(0)
    // A suggestion accepted keeps its provenance.
    editor.accept(suggestions[0].id)
    expect(editor.annotation(suggestions[0].id)).toMatchObject({
      review: 'accepted',
      origin: { type: 'model' },
    })
  })
})
