// What people did with a version's suggestions, counted beside the version: a reviewer accepts,
// edits and rejects suggestions the server wrote, an annotator makes a click-tool mask, and the
// version list shows the counts. Refused edits and the server's own writes count as nothing.
// Clients are the npm package's WebsocketProvider over real sockets to a real server.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  acceptSuggestion,
  annotationsOf,
  createAnnotation,
  deleteAnnotation,
  listAnnotations,
  modelOrigin,
  rejectSuggestion,
  SERVER_ORIGIN,
  updateGeometry,
  userOrigin,
} from '../../shared/doc/index.ts'
import { ModelVersionList } from '../../shared/schemas/training.ts'
import {
  COLLAB_IMAGE,
  type CollabClient,
  collabProject,
  connect,
  eventually,
  synced,
} from './collabClients.ts'
import { startTestServer, type TestServer } from './harness.ts'

const IMAGE = COLLAB_IMAGE
const square = (x: number) => ({ rings: [[x, 0, x + 5, 0, x + 5, 5, x, 5]] })
const suggested = { type: 'model' as const, modelVersion: 'v0', score: 0.9 }
let server: TestServer
const clients: CollabClient[] = []

const open = (imageId: number, token: string) => {
  const client = connect(server.url, imageId, token)
  clients.push(client)
  return client
}
const live = (imageId: number) => server.server.tessera.collab.liveDoc(`image:${imageId}`)!
const entry = (doc: Y.Doc, id: string) => listAnnotations(doc).parsed.find((a) => a.id === id)
const hasShape = (doc: Y.Doc, id: string, x: number) =>
  JSON.stringify(entry(doc, id)?.geometry) === JSON.stringify(square(x))

/** The server writes one suggestion of v0 per x through the collaboration server. */
function writeSuggestions(project: number, imageId: number, xs: number[]): string[] {
  const ids: string[] = []
  server.server.tessera.collab.transact(
    { imageId, projectId: project, image: IMAGE },
    (doc) => {
      for (const x of xs) {
        const input = {
          kind: 'polygon' as const,
          geometry: square(x),
          classId: 1,
          origin: suggested,
        }
        ids.push(createAnnotation(doc, input, modelOrigin('v0'), IMAGE))
      }
    },
    modelOrigin('v0'),
  )
  return ids
}

async function countsOf(project: number, version = 'v0') {
  const response = await server.admin.request('GET', `/api/projects/${project}/models`)
  expect(response.status).toBe(200)
  const { versions } = ModelVersionList.parse(response.body)
  for (const info of versions) expect(info.suggestions).toBeDefined()
  return versions.find((v) => v.name === version)?.suggestions
}

const outcomeRows = (imageId: number) =>
  server.server.tessera.context.db
    .prepare(
      'SELECT annotation_id, outcome, clicks, user_id FROM suggestion_outcomes WHERE image_id = ? ORDER BY id',
    )
    .all(imageId)

beforeAll(async () => {
  server = await startTestServer()
})
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy()
})
afterAll(() => server.close())

describe('suggestion outcomes per version', () => {
  it('counts the accepted, edited and rejected suggestions and the clicks of click masks', async () => {
    const { project, imageId, tokens, userIds } = await collabProject(server.admin, {
      outcomesReviewer: 'reviewer',
      outcomesAnnotator: 'annotator',
    })
    const reviewer = open(imageId, tokens.outcomesReviewer)
    const annotator = open(imageId, tokens.outcomesAnnotator)
    await Promise.all([synced(reviewer), synced(annotator)])
    expect(await countsOf(project)).toEqual({
      accepted: 0,
      edited: 0,
      rejected: 0,
      clickMasks: 0,
      clicks: 0,
    })
    const [kept, reshaped, wrong] = writeSuggestions(project, imageId, [1, 20, 40])
    await eventually(() => annotationsOf(reviewer.doc).size === 3, 5_000, 'suggestions arrive')

    const asReviewer = userOrigin(userIds.outcomesReviewer)
    acceptSuggestion(reviewer.doc, kept, asReviewer)
    // Edited in one message, accepted in a later one: the edit still wins.
    updateGeometry(reviewer.doc, reshaped, square(22), asReviewer, IMAGE)
    await eventually(() => hasShape(live(imageId), reshaped, 22), 5_000, 'the edit arrives')
    acceptSuggestion(reviewer.doc, reshaped, asReviewer)
    rejectSuggestion(reviewer.doc, wrong, asReviewer)
    await eventually(
      () => entry(live(imageId), reshaped)?.review === 'accepted' && !entry(live(imageId), wrong),
      5_000,
      'decisions arrive',
    )

    // The annotator's click-tool mask keeps v0's provenance and is theirs, accepted.
    const clicked = { ...suggested, score: 0.8, clicks: 3 }
    const mask = createAnnotation(
      annotator.doc,
      { kind: 'polygon', geometry: square(50), classId: 1, origin: clicked },
      userOrigin(userIds.outcomesAnnotator),
      IMAGE,
    )
    await eventually(() => entry(live(imageId), mask) !== undefined, 5_000, 'mask arrives')
    expect(entry(live(imageId), mask)).toMatchObject({
      origin: clicked,
      author: userIds.outcomesAnnotator,
      updatedBy: userIds.outcomesAnnotator,
      review: 'accepted',
    })
    expect(annotator.notices.some((n) => n.type === 'repaired')).toBe(false)

    expect(await countsOf(project)).toEqual({
      accepted: 1,
      edited: 1,
      rejected: 1,
      clickMasks: 1,
      clicks: 3,
    })
    expect(outcomeRows(imageId)).toEqual([
      { annotation_id: kept, outcome: 'accepted', clicks: null, user_id: userIds.outcomesReviewer },
      {
        annotation_id: reshaped,
        outcome: 'edited',
        clicks: null,
        user_id: userIds.outcomesReviewer,
      },
      {
        annotation_id: wrong,
        outcome: 'rejected',
        clicks: null,
        user_id: userIds.outcomesReviewer,
      },
      { annotation_id: mask, outcome: 'clicked', clicks: 3, user_id: userIds.outcomesAnnotator },
    ])
  })

  it("counts nothing the guard refused nor the server's own deletion, and withdraws an undone rejection", async () => {
    const { project, imageId, tokens, userIds } = await collabProject(server.admin, {
      quietReviewer: 'reviewer',
      quietAnnotator: 'annotator',
    })
    const reviewer = open(imageId, tokens.quietReviewer)
    const annotator = open(imageId, tokens.quietAnnotator)
    await Promise.all([synced(reviewer), synced(annotator)])
    const [claimed, moved, cleared, retouched] = writeSuggestions(project, imageId, [1, 15, 30, 45])
    await eventually(() => annotationsOf(annotator.doc).size === 4, 5_000, 'suggestions arrive')
    const asAnnotator = userOrigin(userIds.quietAnnotator)
    const repairs = () => annotator.notices.filter((n) => n.type === 'repaired').length

    // An annotator may not accept an automatic suggestion: put back, as before.
    acceptSuggestion(annotator.doc, claimed, asAnnotator)
    await eventually(() => repairs() === 1, 5_000, 'the refused acceptance')
    await eventually(() => entry(annotator.doc, claimed)?.review === 'pending')
    // A shape moved off the image is put back: no edit happened.
    annotationsOf(annotator.doc).get(moved)!.set('geometry', square(5000))
    await eventually(() => repairs() === 2, 5_000, 'the refused move')
    // An annotator's edit of a pending suggestion is a person's change of it.
    updateGeometry(annotator.doc, retouched, square(47), asAnnotator, IMAGE)
    await eventually(() => hasShape(live(imageId), retouched, 47), 5_000, 'the edit arrives')
    // The server removing a suggestion is nobody's rejection.
    server.server.tessera.collab.transact(
      { imageId, projectId: project, image: IMAGE },
      (doc) => deleteAnnotation(doc, cleared, SERVER_ORIGIN),
      SERVER_ORIGIN,
    )
    expect(entry(live(imageId), cleared)).toBeUndefined()
    expect(await countsOf(project)).toEqual({
      accepted: 0,
      edited: 1,
      rejected: 0,
      clickMasks: 0,
      clicks: 0,
    })

    // The moved one was never changed, so accepting it is an acceptance; the retouched one
    // stays edited when the reviewer accepts it.
    await synced(reviewer)
    await eventually(() => annotationsOf(reviewer.doc).size === 3, 5_000, 'reviewer catches up')
    const asReviewer = userOrigin(userIds.quietReviewer)
    acceptSuggestion(reviewer.doc, moved, asReviewer)
    acceptSuggestion(reviewer.doc, retouched, asReviewer)
    await eventually(
      () =>
        entry(live(imageId), moved)?.review === 'accepted' &&
        entry(live(imageId), retouched)?.review === 'accepted',
      5_000,
      'acceptances arrive',
    )
    expect(await countsOf(project)).toEqual({
      accepted: 1,
      edited: 1,
      rejected: 0,
      clickMasks: 0,
      clicks: 0,
    })
    expect(entry(live(imageId), claimed)?.review).toBe('pending')

    // A rejection undone (the suggestion back, pending) is withdrawn.
    const undo = new Y.UndoManager(annotationsOf(reviewer.doc), {
      trackedOrigins: new Set([asReviewer]),
    })
    rejectSuggestion(reviewer.doc, claimed, asReviewer)
    await eventually(() => !entry(live(imageId), claimed), 5_000, 'the rejection arrives')
    expect((await countsOf(project))?.rejected).toBe(1)
    undo.undo()
    await eventually(() => entry(live(imageId), claimed)?.review === 'pending', 5_000, 'undo')
    expect((await countsOf(project))?.rejected).toBe(0)
  })
})
