// What the server's document guard costs per applied update: a document of 10,000 polygons
// (30 vertices each), then 500 client updates (a polygon moved, a class changed, one created)
// applied to it with and without the guard, as the collaboration server applies them.
import * as Y from 'yjs'
import {
  annotationsOf,
  createAnnotation,
  createDocumentGuard,
  updateClass,
  updateGeometry,
  userOrigin,
} from '../shared/doc/index.ts'
import { createRandom } from '../shared/random/createRandom.ts'
import { median, quantile, round } from './stats.ts'

const IMAGE = { width: 4096, height: 4096 }
const POLYGONS = 10_000
const UPDATES = 500

function ring(cx: number, cy: number, r: number) {
  const points: number[] = []
  for (let i = 0; i < 30; i++) {
    const angle = (i / 30) * Math.PI * 2
    points.push(cx + r * Math.cos(angle), cy + r * Math.sin(angle))
  }
  return points
}

/** Client updates against a copy of the server's document, made once and replayed. */
function makeUpdates(server: Y.Doc, userId: number): Uint8Array[] {
  const random = createRandom(7)
  const client = new Y.Doc()
  Y.applyUpdate(client, Y.encodeStateAsUpdate(server))
  const ids = [...annotationsOf(client).keys()]
  const origin = userOrigin(userId)
  const updates: Uint8Array[] = []
  client.on('update', (update: Uint8Array) => updates.push(update))
  for (let i = 0; i < UPDATES; i++) {
    const r = random()
    const at = () => 50 + random() * 4000
    if (r < 0.6)
      updateGeometry(client, ids[i % ids.length], { rings: [ring(at(), at(), 12)] }, origin)
    else if (r < 0.8) updateClass(client, ids[i % ids.length], 2, origin)
    else
      createAnnotation(
        client,
        { kind: 'polygon', geometry: { rings: [ring(at(), at(), 9)] }, classId: 1 },
        origin,
      )
  }
  return updates
}

function applyAll(base: Uint8Array, updates: Uint8Array[], guarded: boolean, userId: number) {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, base)
  const connection = userOrigin(userId)
  if (guarded) {
    const guard = createDocumentGuard(doc, {
      image: IMAGE,
      rightsOf: (origin) => (origin === connection ? { userId, canReview: false } : null),
    })
    doc.on('afterTransaction', guard.onTransaction)
  }
  const times: number[] = []
  for (const update of updates) {
    const started = performance.now()
    Y.applyUpdate(doc, update, connection)
    times.push(performance.now() - started)
  }
  return times
}

export async function run(): Promise<Record<string, number>> {
  const random = createRandom(3)
  const server = new Y.Doc()
  const author = userOrigin(1)
  server.transact(() => {
    for (let i = 0; i < POLYGONS; i++) {
      createAnnotation(
        server,
        {
          kind: 'polygon',
          geometry: { rings: [ring(50 + random() * 4000, 50 + random() * 4000, 10)] },
          classId: 1,
        },
        author,
      )
    }
  })
  const base = Y.encodeStateAsUpdate(server)
  const updates = makeUpdates(server, 1)
  const plain: number[] = []
  const guarded: number[] = []
  // Alternate the two, five rounds each, so the machine's noise falls on both.
  for (let round = 0; round < 5; round++) {
    plain.push(...applyAll(base, updates, false, 1))
    guarded.push(...applyAll(base, updates, true, 1))
  }
  const plainMedian = median(plain)
  const guardedMedian = median(guarded)
  return {
    apply_update_us_median: round(plainMedian * 1000),
    apply_update_us_p99: round(quantile(plain, 0.99) * 1000),
    apply_update_guarded_us_median: round(guardedMedian * 1000),
    apply_update_guarded_us_p99: round(quantile(guarded, 0.99) * 1000),
    guard_overhead_ratio: round(guardedMedian / plainMedian, 2),
  }
}
