// Edit-to-remote latency through the real server on loopback: N stock y-websocket clients on
// one image; each edit carries its send time, and every other client records when it arrives.

import { type CollabClient, collabProject, connect, synced } from '../server/test/collabClients.ts'
import { startTestServer } from '../server/test/harness.ts'
import { createAnnotation, observeAnnotations, userOrigin } from '../shared/doc/index.ts'
import { quantile, round } from './stats.ts'

async function measure(clientCount: number, editsPerClient: number) {
  const server = await startTestServer()
  const clients: CollabClient[] = []
  try {
    const roles = Object.fromEntries(
      Array.from({ length: clientCount }, (_, i) => [`bench${i}`, 'annotator']),
    )
    const { imageId, tokens, userIds } = await collabProject(server.admin, roles)
    const users = Object.keys(tokens)
    for (const token of Object.values(tokens)) clients.push(connect(server.url, imageId, token))
    await Promise.all(clients.map((c) => synced(c, 30_000)))
    const latencies: number[] = []
    const sentAt = new Map<string, number>()
    for (const client of clients) {
      observeAnnotations(client.doc, (change) => {
        if (change.local) return
        const now = performance.now()
        for (const id of change.ids) {
          const sent = sentAt.get(id)
          if (sent !== undefined) latencies.push(now - sent)
        }
      })
    }
    const expected = clientCount * editsPerClient * (clientCount - 1)
    for (let round = 0; round < editsPerClient; round++) {
      for (const [k, client] of clients.entries()) {
        const before = performance.now()
        const id = createAnnotation(
          client.doc,
          {
            kind: 'polygon',
            // Inside the 64 × 64 image: the server repairs nothing, as for honest editors.
            geometry: { rings: [[k % 50, round, (k % 50) + 3, round, k % 50, round + 3]] },
            classId: 1,
          },
          userOrigin(userIds[users[k]]),
        )
        sentAt.set(id, before)
        // Pace the edits like people do (about 20 edits per second across the room).
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    const deadline = Date.now() + 30_000
    while (latencies.length < expected && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20))
    if (latencies.length < expected)
      throw new Error(`only ${latencies.length} of ${expected} deliveries`)
    return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) }
  } finally {
    for (const client of clients) client.destroy()
    await server.close()
  }
}

export async function run(): Promise<Record<string, number>> {
  // Each provider adds a process exit listener; hundreds of them are expected here.
  process.setMaxListeners(0)
  const fifty = await measure(50, 4)
  let maxTested = 50
  for (const n of [100, 200]) {
    try {
      await measure(n, 1)
      maxTested = n
    } catch (error) {
      console.error(`N=${n}: ${(error as Error).message}`)
      break
    }
  }
  return {
    collab_edit_to_remote_ms_p50: round(fifty.p50),
    collab_edit_to_remote_ms_p99: round(fifty.p99),
    collab_clients_max_tested: maxTested,
  }
}
