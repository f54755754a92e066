// The document guard on a server-side Y.Doc fed by client docs, as the collaboration server runs
// it: what a connection may not change is repaired right after, whoever reads the result.
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { writeRawAnnotation } from '../testing/writeRawAnnotation.ts'
import {
  acceptSuggestion,
  annotationsOf,
  createAnnotation,
  deleteAnnotation,
  listAnnotations,
  metaOf,
  readReviewState,
  reviewOf,
  setReviewState,
  updateClass,
} from './annotationDoc.ts'
import { type EditRights, guardDocument } from './guard.ts'
import { migrateDoc } from './migrations.ts'
import { modelOrigin, userOrigin } from './origins.ts'

const image = { width: 200, height: 100 }
const square = (x: number) => ({ rings: [[x, 10, x + 10, 10, x + 10, 20, x, 20]] })

function setup() {
  const server = new Y.Doc()
  migrateDoc(server)
  const rights = new Map<unknown, EditRights>()
  const repairs: string[] = []
  const stop = guardDocument(server, {
    image,
    rightsOf: (origin) => rights.get(origin) ?? null,
    onRepair: (_origin, reasons) => repairs.push(...reasons),
  })
  /** A client of the given rights whose changes reach the server as one update each. */
  const client = (userId: number, canReview = false) => {
    const doc = new Y.Doc()
    const connection = { connection: userId }
    rights.set(connection, { userId, canReview })
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(server))
    return {
      doc,
      connection,
      origin: userOrigin(userId),
      send() {
        Y.applyUpdate(server, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(server)), connection)
        Y.applyUpdate(doc, Y.encodeStateAsUpdate(server, Y.encodeStateVector(doc)))
      },
    }
  }
  return { server, client, repairs, stop }
}

/** An entry's fields as client 7 would write them, for writeRawAnnotation. */
const record = (kind: string, geometry: unknown, extra: Record<string, unknown> = {}) => ({
  kind,
  geometry,
  author: 7,
  updatedBy: 7,
  ...extra,
})

describe('document guard', () => {
  it('removes schema-valid entries the image cannot hold and keeps the rest', () => {
    const { server, client, repairs } = setup()
    const ann = client(7)
    createAnnotation(ann.doc, { kind: 'polygon', geometry: square(5), classId: 1 }, ann.origin)
    writeRawAnnotation(ann.doc, 'box', record('box', { x: 0, y: 0, width: 1e6, height: 1e6 }))
    writeRawAnnotation(
      ann.doc,
      'far',
      record('polygon', { rings: [[1e300, 0, -1e300, 5, 0, 1e300]] }),
    )
    writeRawAnnotation(
      ann.doc,
      'mask',
      record('mask', { x: 0, y: 0, width: 9e7, height: 9e7, counts: [9e7 * 9e7] }),
    )
    ann.send()
    const { parsed, failed } = listAnnotations(server, image)
    expect(failed).toEqual([])
    expect(parsed.map((a) => a.kind)).toEqual(['polygon'])
    expect(repairs.join('\n')).toMatch(/box: vertex/)
    expect(repairs.join('\n')).toMatch(/mask: a mask of 90000000×90000000/)
    // The client that wrote them converges to the repaired document.
    expect(annotationsOf(ann.doc).toJSON()).toEqual(annotationsOf(server).toJSON())
  })

  it('puts back a geometry moved outside the image, and refuses fields that are shared types', () => {
    const { server, client } = setup()
    const ann = client(7)
    const id = createAnnotation(
      ann.doc,
      { kind: 'polygon', geometry: square(5), classId: 1 },
      ann.origin,
    )
    ann.send()
    annotationsOf(ann.doc).get(id)!.set('geometry', square(5000))
    ann.send()
    expect(listAnnotations(server, image).parsed[0].geometry).toEqual(square(5))
    annotationsOf(ann.doc).get(id)!.set('classId', new Y.Map())
    ann.send()
    expect(listAnnotations(server, image).parsed[0].classId).toBe(1)
  })

  it('lets only reviewers accept suggestions or mark an image reviewed', () => {
    const { server, client } = setup()
    const annotator = client(7)
    const reviewer = client(8, true)
    const id = createAnnotation(
      annotator.doc,
      {
        kind: 'polygon',
        geometry: square(5),
        classId: 1,
        origin: { type: 'model', modelVersion: 'v0', score: 0.9 },
      },
      modelOrigin('v0'),
    )
    annotator.send()
    acceptSuggestion(annotator.doc, id, annotator.origin)
    setReviewState(annotator.doc, { status: 'reviewed' }, annotator.origin)
    annotator.send()
    expect(listAnnotations(server).parsed[0].review).toBe('pending')
    expect(readReviewState(server).status).toBe('new')
    // An annotator may mark the image done; a reviewer then reviews it, and it stays reviewed.
    setReviewState(annotator.doc, { status: 'done' }, annotator.origin)
    annotator.send()
    expect(readReviewState(server)).toMatchObject({ status: 'done', updatedBy: 7 })
    reviewer.send()
    acceptSuggestion(reviewer.doc, id, reviewer.origin)
    setReviewState(reviewer.doc, { status: 'reviewed', note: 'good' }, reviewer.origin)
    reviewer.send()
    expect(listAnnotations(server).parsed[0].review).toBe('accepted')
    annotator.send()
    setReviewState(annotator.doc, { status: 'in_progress', note: '' }, annotator.origin)
    annotator.send()
    // Nothing of the annotator's attempt stands, not even its name on the review.
    expect(readReviewState(server)).toMatchObject({
      status: 'reviewed',
      note: 'good',
      updatedBy: 8,
    })
  })

  it("keeps a person's click-tool mask theirs and accepted, but no automatic suggestion", () => {
    const { server, client, repairs } = setup()
    const annotator = client(7)
    const clicked = { type: 'model' as const, modelVersion: 'v0', score: 0.8, clicks: 3 }
    const mask = createAnnotation(
      annotator.doc,
      { kind: 'polygon', geometry: square(5), classId: 1, origin: clicked },
      annotator.origin,
    )
    annotator.send()
    expect(repairs).toEqual([])
    expect(listAnnotations(server).parsed[0]).toMatchObject({
      id: mask,
      origin: clicked,
      author: 7,
      updatedBy: 7,
      review: 'accepted',
    })
    // Written by hand: a click mask without an author, pending, or an automatic suggestion
    // that claims to be accepted and authored.
    writeRawAnnotation(
      annotator.doc,
      'unowned',
      record('polygon', square(30), { origin: clicked, author: null, review: 'pending' }),
    )
    writeRawAnnotation(
      annotator.doc,
      'claimed',
      record('polygon', square(50), {
        origin: { type: 'model', modelVersion: 'v0', score: 0.8 },
        review: 'accepted',
      }),
    )
    annotator.send()
    const byId = new Map(listAnnotations(server).parsed.map((a) => [a.id, a]))
    expect(byId.get('unowned')).toMatchObject({ author: 7, review: 'accepted' })
    expect(byId.get('claimed')).toMatchObject({ author: null, review: 'pending' })
    expect(repairs.join('\n')).toMatch(/claimed: only reviewers decide on review \(accepted\)/)
    // Clicks cannot be added to a suggestion afterwards: the origin never changes.
    annotationsOf(annotator.doc).get('claimed')!.set('origin', clicked)
    annotator.send()
    expect(annotationsOf(server).get('claimed')!.get('origin')).not.toHaveProperty('clicks')
    // A reviewer may still create a suggestion pending, or decide on it.
    const reviewer = client(8, true)
    writeRawAnnotation(
      reviewer.doc,
      'reviewed',
      record('polygon', square(70), {
        origin: { type: 'model', modelVersion: 'v0', score: 0.8 },
        author: null,
        updatedBy: 8,
        review: 'rejected',
      }),
    )
    reviewer.send()
    expect(annotationsOf(server).get('reviewed')!.get('review')).toBe('rejected')
  })

  it('makes the connection the author of what it creates, and keeps who made an entry', () => {
    const { server, client } = setup()
    const mallory = client(7)
    writeRawAnnotation(
      mallory.doc,
      'spoof',
      record('polygon', square(5), { author: 1, updatedBy: 1 }),
    )
    mallory.send()
    expect(listAnnotations(server).parsed[0]).toMatchObject({ author: 7, updatedBy: 7 })
    annotationsOf(mallory.doc).get('spoof')!.set('author', 1)
    annotationsOf(mallory.doc).get('spoof')!.set('origin', { type: 'human', extra: 1 })
    mallory.send()
    expect(listAnnotations(server).parsed[0]).toMatchObject({ author: 7 })
    expect(annotationsOf(server).get('spoof')!.get('origin')).toEqual({ type: 'human' })
    // An edit that names someone else as its editor is put down to the connection.
    const bob = client(9)
    bob.doc.transact(() => {
      annotationsOf(bob.doc).get('spoof')!.set('classId', 3)
      annotationsOf(bob.doc).get('spoof')!.set('updatedBy', 7)
    })
    bob.send()
    expect(listAnnotations(server).parsed[0]).toMatchObject({ classId: 3, updatedBy: 9 })
  })

  it("restores a deleted entry's author when its deletion is undone", () => {
    const { server, client } = setup()
    const alice = client(7)
    const bob = client(9)
    const id = createAnnotation(
      alice.doc,
      { kind: 'polygon', geometry: square(5), classId: 1 },
      alice.origin,
    )
    alice.send()
    bob.send()
    const undo = new Y.UndoManager(annotationsOf(bob.doc), {
      trackedOrigins: new Set([bob.origin]),
    })
    deleteAnnotation(bob.doc, id, bob.origin)
    bob.send()
    expect(listAnnotations(server).parsed).toHaveLength(0)
    undo.undo()
    bob.send()
    expect(listAnnotations(server).parsed[0]).toMatchObject({ id, author: 7, updatedBy: 9 })
  })

  it('clears content outside the known roots and keeps the metadata the server wrote', () => {
    const { server, client } = setup()
    const ann = client(7)
    ann.doc.getMap('scratch').set('blob', 'x'.repeat(1000))
    ann.doc.getArray('list').push([1, 2, 3])
    metaOf(ann.doc).set('schemaVersion', 99)
    reviewOf(ann.doc).set('extra', 1)
    ann.send()
    expect(server.getMap('scratch').size).toBe(0)
    expect(server.getArray('list').length).toBe(0)
    expect(metaOf(server).get('schemaVersion')).toBe(1)
    expect(reviewOf(server).has('extra')).toBe(false)
  })

  it('clears list content written into the map roots, and checks the rest of that update', () => {
    const { server, client } = setup()
    const ann = client(7)
    // A document of the same history whose roots are lists (no map view of them yet).
    const other = new Y.Doc()
    Y.applyUpdate(other, Y.encodeStateAsUpdate(server))
    other.transact(() => {
      other.getArray('annotations').push([1, 2])
      other.getArray('review').push(['x'])
      other.getArray('meta').push(['x'])
    })
    const entries = new Y.Doc()
    Y.applyUpdate(entries, Y.encodeStateAsUpdate(server))
    writeRawAnnotation(entries, 'box', record('box', { x: 0, y: 0, width: 1e6, height: 1e6 }))
    // One update carrying both: list items under the map roots, and an absurd entry.
    const update = Y.mergeUpdates([
      Y.encodeStateAsUpdate(other, Y.encodeStateVector(server)),
      Y.encodeStateAsUpdate(entries, Y.encodeStateVector(server)),
    ])
    Y.applyUpdate(server, update, ann.connection)
    expect(listAnnotations(server, image).parsed).toEqual([])
    const items = (type: { _start: Y.Item | null }) => {
      let n = 0
      for (let item = type._start; item !== null; item = item.right) if (!item.deleted) n++
      return n
    }
    expect(items(annotationsOf(server))).toBe(0)
    expect(items(reviewOf(server))).toBe(0)
    expect(items(metaOf(server))).toBe(0)
  })

  it('leaves trusted writes alone and lets anyone re-class an entry stored before the rules', () => {
    const { server, client, repairs } = setup()
    writeRawAnnotation(server, 'legacy', record('box', { x: 0, y: 0, width: 1e6, height: 1e6 }))
    expect(repairs).toEqual([])
    const ann = client(7)
    updateClass(ann.doc, 'legacy', 2, ann.origin)
    ann.send()
    expect(repairs).toEqual([])
    expect(annotationsOf(server).get('legacy')!.get('classId')).toBe(2)
    expect(listAnnotations(server, image).failed.map((f) => f.id)).toEqual(['legacy'])
  })
})
