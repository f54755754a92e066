// Randomized convergence over the real server: stock y-websocket clients make random edits
// through the document verbs, drop and restore their connections at random, and must end with
// identical documents, identical to the one the server persisted; then hostile clients of every
// role mix invalid and unauthorised edits in, and the stored document must stay valid.
// Bounded in count and time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  acceptSuggestion,
  annotationsOf,
  createAnnotation,
  deleteAnnotation,
  listAnnotations,
  metaOf,
  modelOrigin,
  reviewOf,
  updateClass,
  updateGeometry,
  userOrigin,
} from '../../shared/doc/index.ts'
import { createRandom } from '../../shared/random/createRandom.ts'
import { ReviewState } from '../../shared/schemas/annotation.ts'
import { fuzzSeeds } from '../../shared/testing/fuzzSeeds.ts'
import { SqliteDocumentStore } from '../src/collab/index.ts'
import { type CollabClient, collabProject, connect, eventually, synced } from './collabClients.ts'
import { startTestServer, type TestServer } from './harness.ts'
import { FUZZ_IMAGE, runHostileFuzz } from './hostileFuzz.ts'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(() => server.close())

const [SEED] = fuzzSeeds(1)
const STEPS = Number(process.env.FUZZ_STEPS ?? 400)

describe('randomized convergence through the server', () => {
  it(`converges with random edits and disconnects (seed ${SEED})`, async () => {
    const random = createRandom(SEED)
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]
    const roles = { fz1: 'annotator', fz2: 'annotator', fz3: 'reviewer', fz4: 'owner' }
    const { imageId, tokens } = await collabProject(server.admin, roles)
    const clients: CollabClient[] = Object.values(tokens).map((token) =>
      connect(server.url, imageId, token),
    )
    const log: string[] = []
    try {
      await Promise.all(clients.map((c) => synced(c)))
      const started = Date.now()
      for (let step = 0; step < STEPS && Date.now() - started < 20_000; step++) {
        const k = Math.floor(random() * clients.length)
        const client = clients[k]
        const user = userOrigin(k + 1)
        const ids = [...annotationsOf(client.doc).keys()]
        const r = random()
        if (r < 0.04) {
          if (client.provider.wsconnected || client.provider.wsconnecting)
            client.provider.disconnect()
          else client.provider.connect()
          log.push(`${k} toggles connection`)
        } else if (r < 0.45 || ids.length === 0) {
          const fromModel = random() < 0.2
          const x = Math.round(random() * 200)
          createAnnotation(
            client.doc,
            {
              kind: 'polygon',
              geometry: { rings: [[x, 0, x + 4, 0, x + 4, 4]] },
              classId: Math.floor(random() * 3),
              origin: fromModel
                ? { type: 'model', modelVersion: 'v0', score: random() }
                : undefined,
            },
            fromModel ? modelOrigin('v0') : user,
          )
          log.push(`${k} creates`)
        } else if (r < 0.7) {
          const x = Math.round(random() * 200)
          updateGeometry(client.doc, pick(ids), { rings: [[x, x, x + 3, x, x, x + 3]] }, user)
        } else if (r < 0.82) {
          updateClass(client.doc, pick(ids), Math.floor(random() * 3), user)
        } else if (r < 0.9) {
          acceptSuggestion(client.doc, pick(ids), user)
        } else {
          deleteAnnotation(client.doc, pick(ids), user)
        }
        if (random() < 0.2)
          await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 5)))
      }
      for (const client of clients) if (!client.provider.wsconnected) client.provider.connect()
      const sameState = () => {
        const vectors = clients.map((c) =>
          Buffer.from(Y.encodeStateVector(c.doc)).toString('base64'),
        )
        return vectors.every((v) => v === vectors[0])
      }
      await eventually(
        () => clients.every((c) => c.provider.synced) && sameState(),
        15_000,
        'convergence',
      )
      const reference = annotationsOf(clients[0].doc).toJSON()
      for (const client of clients) {
        expect(annotationsOf(client.doc).toJSON()).toEqual(reference)
        expect(listAnnotations(client.doc).failed).toEqual([])
      }
      // The server's persisted document is the same.
      const stored = new SqliteDocumentStore(server.server.tessera.context.db).load(
        `image:${imageId}`,
      ).doc
      expect(annotationsOf(stored).toJSON()).toEqual(reference)
    } catch (error) {
      console.error(`Server convergence failed with FUZZ_SEED=${SEED}:\n${log.join('\n')}`)
      throw error
    } finally {
      for (const client of clients) client.destroy()
    }
  })
})

describe('randomized hostile clients through the server', () => {
  const [HOSTILE_SEED] = fuzzSeeds(1)
  it(`keeps the stored document valid and the writers converged (seed ${HOSTILE_SEED})`, async () => {
    const result = await runHostileFuzz({
      url: server.url,
      admin: server.admin,
      seed: HOSTILE_SEED,
      steps: STEPS,
      maxMs: 20_000,
    })
    const { clients, userIds, imageId, closes } = result
    try {
      // The server never closed anyone and still answers.
      expect(closes).toEqual(Object.fromEntries(Object.keys(closes).map((u) => [u, []])))
      expect((await server.admin.request('GET', '/api/health')).status).toBe(200)
      const db = server.server.tessera.context.db
      const stored = new SqliteDocumentStore(db).load(`image:${imageId}`).doc
      // Valid on its image, nothing outside the known roots, metadata as the server wrote it.
      const { parsed, failed } = listAnnotations(stored, FUZZ_IMAGE)
      expect(failed).toEqual([])
      for (const name of stored.share.keys()) {
        if (!['annotations', 'review', 'meta'].includes(name)) {
          const type = stored.get(name)
          expect(
            [...type._map.values()].filter((item) => !item.deleted),
            name,
          ).toEqual([])
        }
      }
      expect(metaOf(stored).get('schemaVersion')).toBe(1)
      // Authorship from the connections: members only; suggestions have none.
      const members = new Set(Object.values(userIds))
      const reviewers = new Set([userIds.honest2, userIds.honest3])
      for (const annotation of parsed) {
        if (annotation.origin.type === 'model') expect(annotation.author).toBeNull()
        else expect(members.has(annotation.author!)).toBe(true)
        if (annotation.updatedBy !== null) expect(members.has(annotation.updatedBy)).toBe(true)
      }
      const review = ReviewState.safeParse(reviewOf(stored).toJSON())
      if (reviewOf(stored).size > 0) expect(review.success).toBe(true)
      if (review.data?.status === 'reviewed')
        expect(reviewers.has(review.data.updatedBy!)).toBe(true)
      // The run did attack: the server repaired mallory and refused the viewer.
      expect(clients.mallory.notices.some((n) => n.type === 'repaired')).toBe(true)
      expect(clients.watcher.notices.some((n) => n.type === 'read-only')).toBe(true)
      // Every writer holds what the server stored.
      const reference = annotationsOf(stored).toJSON()
      for (const user of ['honest1', 'honest2', 'honest3', 'mallory'] as const) {
        expect(annotationsOf(clients[user].doc).toJSON(), user).toEqual(reference)
      }
    } catch (error) {
      console.error(`Hostile fuzz failed with FUZZ_SEED=${HOSTILE_SEED}:\n${result.log.join('\n')}`)
      throw error
    } finally {
      for (const client of Object.values(clients)) client.destroy()
    }
  })
})
