// Randomized convergence: several docs edit shared annotations through the verbs while a
// simulated network delivers updates in random order, drops connections and reconnects them.
// At the end every doc must hold the same state, equal to the merge of all updates, and every
// annotation must still be valid. FUZZ_SEED picks one seed, FUZZ_ITERATIONS the number of runs;
// CI uses fixed seeds (shared/testing/fuzzSeeds.ts).
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createRandom } from '../random/createRandom.ts'
import { fuzzSeeds } from '../testing/fuzzSeeds.ts'
import {
  acceptSuggestion,
  annotationsOf,
  createAnnotation,
  deleteAnnotation,
  listAnnotations,
  reviewOf,
  setReviewState,
  updateClass,
  updateGeometry,
} from './annotationDoc.ts'
import { modelOrigin, userOrigin } from './origins.ts'

interface Peer {
  doc: Y.Doc
  online: boolean
  /** Updates waiting to be delivered to this peer. */
  inbox: Uint8Array[]
}

function runScenario(seed: number, steps: number) {
  const random = createRandom(seed)
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]
  const peers: Peer[] = Array.from({ length: 3 + Math.floor(random() * 3) }, () => ({
    doc: new Y.Doc(),
    online: true,
    inbox: [],
  }))
  const allUpdates: Uint8Array[] = []
  const log: string[] = []
  for (const [index, peer] of peers.entries()) {
    peer.doc.on('update', (update: Uint8Array, origin: unknown) => {
      allUpdates.push(update)
      if (origin === 'network' || !peer.online) return
      for (const other of peers) if (other !== peer && other.online) other.inbox.push(update)
    })
    peer.doc.clientID = index + 1 + seed * 10
  }
  const sync = (a: Peer, b: Peer) => {
    Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(a.doc, Y.encodeStateVector(b.doc)), 'network')
    Y.applyUpdate(a.doc, Y.encodeStateAsUpdate(b.doc, Y.encodeStateVector(a.doc)), 'network')
  }
  const ring = () => {
    const n = 3 + Math.floor(random() * 5)
    return [
      Array.from({ length: n }, (_, k) => [
        Math.round(random() * 100),
        Math.round(random() * 100) + k * 0,
      ]).flat(),
    ]
  }
  for (let step = 0; step < steps; step++) {
    const peer = pick(peers)
    const r = random()
    const ids = listAnnotations(peer.doc).parsed.map((a) => a.id)
    const user = userOrigin(peers.indexOf(peer) + 1)
    if (r < 0.03) {
      peer.online = !peer.online
      peer.inbox = []
      log.push(`${peers.indexOf(peer)} ${peer.online ? 'reconnects' : 'disconnects'}`)
      if (peer.online)
        for (const other of peers) if (other !== peer && other.online) sync(peer, other)
    } else if (r < 0.5) {
      if (peer.inbox.length > 0) {
        const index = Math.floor(random() * peer.inbox.length)
        Y.applyUpdate(peer.doc, peer.inbox.splice(index, 1)[0], 'network')
      }
    } else if (r < 0.65 || ids.length === 0) {
      const fromModel = random() < 0.2
      createAnnotation(
        peer.doc,
        {
          kind: 'polygon',
          geometry: { rings: ring() },
          classId: Math.floor(random() * 3),
          origin: fromModel ? { type: 'model', modelVersion: 'v0', score: random() } : undefined,
        },
        fromModel ? modelOrigin('v0') : user,
      )
      log.push(`${peers.indexOf(peer)} creates`)
    } else if (r < 0.8) {
      const id = pick(ids)
      updateGeometry(peer.doc, id, { rings: ring() }, user)
      log.push(`${peers.indexOf(peer)} moves ${id}`)
    } else if (r < 0.87) {
      const id = pick(ids)
      updateClass(peer.doc, id, Math.floor(random() * 3), user)
      log.push(`${peers.indexOf(peer)} reclasses ${id}`)
    } else if (r < 0.92) {
      acceptSuggestion(peer.doc, pick(ids), user)
    } else if (r < 0.97) {
      const id = pick(ids)
      deleteAnnotation(peer.doc, id, user)
      log.push(`${peers.indexOf(peer)} deletes ${id}`)
    } else {
      setReviewState(peer.doc, { status: pick(['in_progress', 'done'] as const) }, user)
    }
  }
  // Reconnect everyone and flush.
  for (const peer of peers) peer.online = true
  for (const a of peers) for (const b of peers) if (a !== b) sync(a, b)
  return { peers, allUpdates, log }
}

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 12)
const seeds = fuzzSeeds(ITERATIONS)

function assertConverged(seed: number) {
  const { peers, allUpdates, log } = runScenario(seed, 300)
  try {
    const reference = peers[0].doc
    const merged = new Y.Doc()
    Y.applyUpdate(merged, Y.mergeUpdates(allUpdates))
    const state = (doc: Y.Doc) => ({
      annotations: annotationsOf(doc).toJSON(),
      review: reviewOf(doc).toJSON(),
    })
    for (const doc of [...peers.map((p) => p.doc), merged]) {
      expect(state(doc)).toEqual(state(reference))
      expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(reference))
      const { failed } = listAnnotations(doc)
      expect(failed).toEqual([])
    }
  } catch (error) {
    console.error(`Convergence failed with FUZZ_SEED=${seed}; operations:\n${log.join('\n')}`)
    throw error
  }
}

describe('convergence of the annotation document', () => {
  it('(regression) seed 1', () => assertConverged(1))
  it('(regression) seed 424242', () => assertConverged(424242))
  it(`converges for ${seeds.length} seeds`, { timeout: 120_000 }, () => {
    for (const seed of seeds) assertConverged(seed)
  })
})
