import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { countsForTraining } from '../training/instanceLabels.ts'
import {
  acceptSuggestion,
  annotationsOf,
  createAnnotation,
  deleteAnnotation,
  listAnnotations,
  observeAnnotations,
  readReviewState,
  rejectSuggestion,
  setReviewState,
  updateClass,
  updateGeometry,
} from './annotationDoc.ts'
import { CURRENT_DOC_VERSION, docSchemaVersion, migrateDoc } from './migrations.ts'
import { modelOrigin, SERVER_ORIGIN, userOrigin } from './origins.ts'

const square = { rings: [[0, 0, 10, 0, 10, 10, 0, 10]] }
const alice = userOrigin(1)
const bob = userOrigin(2)

describe('annotation verbs', () => {
  it('creates, edits and deletes annotations with author, times and review', () => {
    const doc = new Y.Doc()
    const id = createAnnotation(doc, { kind: 'polygon', geometry: square, classId: 3 }, alice)
    const [created] = listAnnotations(doc).parsed
    expect(created).toMatchObject({
      id,
      kind: 'polygon',
      classId: 3,
      author: 1,
      updatedBy: 1,
      review: 'accepted',
    })
    updateGeometry(doc, id, { rings: [[0, 0, 5, 0, 5, 5]] }, bob)
    updateClass(doc, id, 4, bob)
    const [edited] = listAnnotations(doc).parsed
    expect(edited).toMatchObject({
      classId: 4,
      author: 1,
      updatedBy: 2,
      geometry: { rings: [[0, 0, 5, 0, 5, 5]] },
    })
    deleteAnnotation(doc, id, alice)
    expect(listAnnotations(doc).parsed).toEqual([])
  })

  it('refuses geometry that does not fit its kind', () => {
    const doc = new Y.Doc()
    expect(() =>
      createAnnotation(
        doc,
        { kind: 'polygon', geometry: { rings: [[0, 0, 1, 1]] }, classId: null },
        alice,
      ),
    ).toThrow(/at least 3 vertices/)
    expect(() =>
      createAnnotation(doc, { kind: 'box', geometry: square, classId: null }, alice),
    ).toThrow(/Invalid box/)
    const mask = { x: 2, y: 3, width: 2, height: 2, counts: [1, 2, 1] }
    expect(
      createAnnotation(doc, { kind: 'mask', geometry: mask, classId: null }, alice),
    ).toBeTruthy()
    expect(() =>
      createAnnotation(
        doc,
        { kind: 'mask', geometry: { ...mask, counts: [1, 2] }, classId: null },
        alice,
      ),
    ).toThrow(/cover its box/)
  })

  it('keeps model suggestions pending until accepted; rejecting removes them', () => {
    const doc = new Y.Doc()
    const origin = { type: 'model' as const, modelVersion: 'v0', score: 0.9 }
    const a = createAnnotation(
      doc,
      { kind: 'box', geometry: { x: 1, y: 1, width: 4, height: 4 }, classId: 1, origin },
      modelOrigin('v0'),
    )
    const b = createAnnotation(
      doc,
      { kind: 'box', geometry: { x: 9, y: 9, width: 4, height: 4 }, classId: 1, origin },
      modelOrigin('v0'),
    )
    expect(listAnnotations(doc).parsed.map((x) => [x.review, x.author])).toEqual([
      ['pending', null],
      ['pending', null],
    ])
    acceptSuggestion(doc, a, alice)
    rejectSuggestion(doc, b, alice)
    expect(listAnnotations(doc).parsed).toMatchObject([{ id: a, review: 'accepted', updatedBy: 1 }])
  })

  it("makes a click-tool mask its clicker's, accepted, with its model provenance", () => {
    const doc = new Y.Doc()
    const automatic = { type: 'model' as const, modelVersion: 'v1', score: 0.7 }
    const clicked = { ...automatic, clicks: 4 }
    const mask = { x: 2, y: 3, width: 2, height: 2, counts: [1, 2, 1] }
    createAnnotation(doc, { kind: 'mask', geometry: mask, classId: 1, origin: clicked }, alice)
    createAnnotation(
      doc,
      { kind: 'mask', geometry: mask, classId: 1, origin: automatic },
      modelOrigin('v1'),
    )
    expect(listAnnotations(doc).parsed.map((a) => [a.origin, a.author, a.review])).toEqual([
      [clicked, 1, 'accepted'],
      [automatic, null, 'pending'],
    ])
    expect(countsForTraining(listAnnotations(doc).parsed[0])).toBe(true)
    expect(countsForTraining(listAnnotations(doc).parsed[1])).toBe(false)
  })

  it('stores the image review state', () => {
    const doc = new Y.Doc()
    expect(readReviewState(doc).status).toBe('new')
    setReviewState(doc, { status: 'done', note: 'all nuclei' }, alice)
    expect(readReviewState(doc)).toMatchObject({ status: 'done', note: 'all nuclei', updatedBy: 1 })
  })
})

describe('malformed entries', () => {
  it('skips and reports entries that do not parse, and never throws', () => {
    const doc = new Y.Doc()
    const good = createAnnotation(doc, { kind: 'polygon', geometry: square, classId: 1 }, alice)
    const annotations = annotationsOf(doc) as unknown as Y.Map<unknown>
    doc.transact(() => {
      annotations.set('not-a-map', 'hello')
      const wrongKind = new Y.Map<unknown>()
      wrongKind.set('kind', 'circle')
      annotations.set('wrong-kind', wrongKind)
      const clone = annotationsOf(doc).get(good)!.clone()
      clone.set('geometry', { x: 1, y: 2, width: 3, height: 4 }) // box geometry on a polygon
      annotations.set('mismatch', clone)
      const noClass = annotationsOf(doc).get(good)!.clone()
      noClass.delete('classId')
      annotations.set('missing-key', noClass)
    })
    const { parsed, failed } = listAnnotations(doc)
    expect(parsed.map((a) => a.id)).toEqual([good])
    expect(failed.map((f) => f.id).sort()).toEqual([
      'mismatch',
      'missing-key',
      'not-a-map',
      'wrong-kind',
    ])
    expect(failed.find((f) => f.id === 'not-a-map')?.error).toMatch(/not a map/)
  })
})

describe('undo', () => {
  it("undoes only the local user's edits, never a collaborator's", () => {
    const aliceDoc = new Y.Doc()
    const bobDoc = new Y.Doc()
    aliceDoc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== 'remote') Y.applyUpdate(bobDoc, update, 'remote')
    })
    bobDoc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== 'remote') Y.applyUpdate(aliceDoc, update, 'remote')
    })
    const bobOrigin = userOrigin(2)
    const bobUndo = new Y.UndoManager(annotationsOf(bobDoc), {
      trackedOrigins: new Set([bobOrigin]),
      captureTimeout: 0,
    })
    const alicePolygon = createAnnotation(
      aliceDoc,
      { kind: 'polygon', geometry: square, classId: 1 },
      alice,
    )
    const bobBox = createAnnotation(
      bobDoc,
      { kind: 'box', geometry: { x: 0, y: 0, width: 2, height: 2 }, classId: 1 },
      bobOrigin,
    )
    expect(listAnnotations(aliceDoc).parsed).toHaveLength(2)
    bobUndo.undo()
    bobUndo.undo() // nothing more of Bob's to undo
    const ids = listAnnotations(aliceDoc).parsed.map((a) => a.id)
    expect(ids).toEqual([alicePolygon])
    bobUndo.redo()
    expect(
      listAnnotations(aliceDoc)
        .parsed.map((a) => a.id)
        .sort(),
    ).toEqual([alicePolygon, bobBox].sort())
  })
})

describe('observation and migrations', () => {
  it('reports changed ids per transaction with its origin', () => {
    const doc = new Y.Doc()
    const seen: { ids: string[]; origin: unknown; review: boolean }[] = []
    const stop = observeAnnotations(doc, (change) =>
      seen.push({ ids: [...change.ids], origin: change.origin, review: change.reviewChanged }),
    )
    const id = createAnnotation(doc, { kind: 'polygon', geometry: square, classId: 1 }, alice)
    updateClass(doc, id, 2, bob)
    setReviewState(doc, { status: 'in_progress' }, bob)
    stop()
    createAnnotation(doc, { kind: 'polygon', geometry: square, classId: 1 }, alice)
    expect(seen).toEqual([
      { ids: [id], origin: alice, review: false },
      { ids: [id], origin: bob, review: false },
      { ids: [], origin: bob, review: true },
    ])
  })

  it('stamps the schema version once', () => {
    const doc = new Y.Doc()
    expect(docSchemaVersion(doc)).toBe(0)
    expect(migrateDoc(doc)).toEqual([CURRENT_DOC_VERSION])
    expect(migrateDoc(doc)).toEqual([])
    expect(SERVER_ORIGIN.source).toBe('server')
  })
})
