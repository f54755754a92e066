// A seeded run of stock y-websocket clients of every role against a real server, mixing honest
// edits through the document verbs with invalid and unauthorised ones written with plain Yjs
// calls (absurd geometry, spoofed authors, review decisions and statuses beyond the role,
// immutable fields, shared types in fields, foreign roots, a viewer's edits). Used by the
// integration fuzz and by the browser test that opens the result. Bounded in steps and time.
import * as Y from 'yjs'
import {
  acceptSuggestion,
  annotationsOf,
  createAnnotation,
  deleteAnnotation,
  metaOf,
  modelOrigin,
  reviewOf,
  setReviewState,
  updateClass,
  updateGeometry,
  userOrigin,
} from '../../shared/doc/index.ts'
import { createRandom } from '../../shared/random/createRandom.ts'
import { writeRawAnnotation } from '../../shared/testing/writeRawAnnotation.ts'
import {
  COLLAB_IMAGE,
  type CollabClient,
  collabProject,
  connect,
  eventually,
  synced,
} from './collabClients.ts'
import type { ApiClient } from './harness.ts'

export const FUZZ_ROLES = {
  honest1: 'annotator',
  honest2: 'reviewer',
  honest3: 'owner',
  mallory: 'annotator',
  watcher: 'viewer',
} as const
export type FuzzUser = keyof typeof FUZZ_ROLES
/** The project's image (collabProject's). */
export const FUZZ_IMAGE = COLLAB_IMAGE

export interface HostileFuzzResult {
  project: number
  imageId: number
  userIds: Record<FuzzUser, number>
  clients: Record<FuzzUser, CollabClient>
  log: string[]
  /** Close codes the server sent, by user (expected: none but the toggles' 1000). */
  closes: Record<string, number[]>
}

export async function runHostileFuzz(options: {
  url: string
  admin: ApiClient
  seed: number
  steps: number
  maxMs: number
}): Promise<HostileFuzzResult> {
  const random = createRandom(options.seed)
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]
  const coordinate = () => Math.round(random() * 50)
  const { project, imageId, tokens, userIds } = await collabProject(options.admin, FUZZ_ROLES)
  const users = Object.keys(FUZZ_ROLES) as FuzzUser[]
  const clients = Object.fromEntries(
    users.map((user) => [user, connect(options.url, imageId, tokens[user])]),
  ) as Record<FuzzUser, CollabClient>
  const closes: Record<string, number[]> = {}
  for (const user of users) {
    closes[user] = []
    clients[user].provider.on('connection-close', (event: CloseEvent | null) => {
      if (event) closes[user].push(event.code)
    })
  }
  await Promise.all(users.map((user) => synced(clients[user])))
  const log: string[] = []
  const absurd = [
    () => ({ kind: 'box', geometry: { x: 0, y: 0, width: 1e6, height: 1e6 } }),
    () => ({ kind: 'polygon', geometry: { rings: [[1e300, 0, -1e300, 5, 0, 1e300]] } }),
    () => ({
      kind: 'mask',
      geometry: { x: 0, y: 0, width: 9e7, height: 9e7, counts: [9e7 * 9e7] },
    }),
    () => ({ kind: 'points', geometry: { points: [coordinate(), 9e9] } }),
    () => ({
      kind: 'polygon',
      geometry: { rings: Array.from({ length: 1100 }, () => [1, 1, 2, 1, 2, 2]) },
    }),
  ]
  const started = Date.now()
  for (let step = 0; step < options.steps && Date.now() - started < options.maxMs; step++) {
    const user = pick(users)
    const { doc, provider } = clients[user]
    const me = userOrigin(userIds[user])
    const ids = [...annotationsOf(doc).keys()]
    const r = random()
    if (r < 0.03) {
      if (provider.wsconnected || provider.wsconnecting) provider.disconnect()
      else provider.connect()
      log.push(`${user} toggles connection`)
      continue
    }
    const hostile = user === 'mallory' || user === 'watcher' ? random() < 0.6 : false
    if (!hostile || ids.length === 0) {
      // Honest edits through the verbs, with the user's own id.
      if (r < 0.4 || ids.length === 0) {
        const fromModel = random() < 0.3
        const x = coordinate()
        createAnnotation(
          doc,
          {
            kind: 'polygon',
            geometry: { rings: [[x, x, x + 4, x, x + 4, x + 4]] },
            classId: Math.floor(random() * 3),
            origin: fromModel ? { type: 'model', modelVersion: 'v0', score: random() } : undefined,
          },
          fromModel ? modelOrigin('v0') : me,
          FUZZ_IMAGE,
        )
        log.push(`${user} creates`)
      } else if (r < 0.6) {
        const x = coordinate()
        try {
          updateGeometry(doc, pick(ids), { rings: [[x, x, x + 3, x, x, x + 3]] }, me, FUZZ_IMAGE)
          log.push(`${user} moves`)
        } catch {
          // Not a polygon (or already repaired away): the verb refuses, as the editor would.
          log.push(`${user} move refused locally`)
        }
      } else if (r < 0.7) {
        updateClass(doc, pick(ids), Math.floor(random() * 3), me)
        log.push(`${user} re-classes`)
      } else if (r < 0.8 && FUZZ_ROLES[user] !== 'annotator') {
        acceptSuggestion(doc, pick(ids), me)
        log.push(`${user} accepts`)
      } else if (r < 0.9) {
        const canReview = FUZZ_ROLES[user] === 'reviewer' || FUZZ_ROLES[user] === 'owner'
        const statuses = canReview
          ? (['in_progress', 'done', 'reviewed'] as const)
          : (['in_progress', 'done'] as const)
        setReviewState(doc, { status: pick(statuses) }, me)
        log.push(`${user} sets status`)
      } else {
        deleteAnnotation(doc, pick(ids), me)
        log.push(`${user} deletes`)
      }
    } else {
      const attack = Math.floor(random() * 9)
      const id = pick(ids)
      const entry = annotationsOf(doc).get(id)
      const others = users.filter((u) => u !== user).map((u) => userIds[u])
      switch (attack) {
        case 0:
          writeRawAnnotation(doc, `bad${step}`, pick(absurd)())
          break
        case 1:
          writeRawAnnotation(doc, `spoof${step}`, { author: pick(others), updatedBy: pick(others) })
          break
        case 2:
          if (entry instanceof Y.Map) entry.set('review', pick(['accepted', 'rejected', 'maybe']))
          break
        case 3:
          reviewOf(doc).set('status', pick(['reviewed', 'nonsense']))
          break
        case 4:
          if (entry instanceof Y.Map)
            entry.set(pick(['author', 'createdAt', 'origin', 'kind']), pick([0, 'x', null]))
          break
        case 5:
          if (entry instanceof Y.Map) entry.set('geometry', pick(absurd)().geometry)
          break
        case 6:
          if (entry instanceof Y.Map) entry.set('attributes', new Y.Map())
          break
        case 7:
          doc.getMap(pick(['scratch', 'meta2'])).set('k', 'x'.repeat(100))
          metaOf(doc).set('schemaVersion', 99)
          break
        default:
          writeRawAnnotation(doc, `model${step}`, {
            origin: { type: 'model', modelVersion: 'v0', score: 0.5 },
            review: 'accepted',
            author: pick(others),
          })
      }
      log.push(`${user} attacks (${attack})`)
    }
    if (random() < 0.2)
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 5)))
  }
  for (const user of users)
    if (!clients[user].provider.wsconnected) clients[user].provider.connect()
  // Everyone who may write ends in the same state as everyone else who may write.
  const writers = users.filter((u) => FUZZ_ROLES[u] !== 'viewer')
  const sameState = () => {
    const vectors = writers.map((u) =>
      Buffer.from(Y.encodeStateVector(clients[u].doc)).toString('base64'),
    )
    return vectors.every((v) => v === vectors[0])
  }
  await eventually(
    () => writers.every((u) => clients[u].provider.synced) && sameState(),
    20_000,
    'convergence of the writers',
  )
  return { project, imageId, userIds, clients, log, closes }
}
