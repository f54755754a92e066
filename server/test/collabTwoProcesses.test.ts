// Two server processes on one data folder, each with its own editors of the same image and
// compacting often: neither may lose the other's updates (compaction deletes only what its
// process applied, and merges the snapshot another process stored).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAnnotation, listAnnotations, userOrigin } from '../../shared/doc/index.ts'
import { SqliteDocumentStore } from '../src/collab/index.ts'
import { openDatabase } from '../src/db/database.ts'
import { type CollabClient, collabProject, connect, eventually, synced } from './collabClients.ts'
import { ApiClient } from './harness.ts'
import { type ServerProcess, startServerProcess } from './serverProcess.ts'

const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-two-'))
const env = {
  TESSERA_DATA: data,
  TESSERA_DEMO: 'false',
  TESSERA_ADMIN_PASSWORD: 'admin-password',
  TESSERA_COMPACT_AFTER_UPDATES: '4',
}
const processes: ServerProcess[] = []
const clients: CollabClient[] = []

afterAll(async () => {
  for (const client of clients) client.destroy()
  for (const p of processes) await p.stop('SIGTERM')
  fs.rmSync(data, { recursive: true, force: true })
})

describe('two server processes on one database', () => {
  it("keep each other's updates through compaction", async () => {
    const first = await startServerProcess(env)
    processes.push(first)
    const second = await startServerProcess(env)
    processes.push(second)
    const admin = new ApiClient(first.url)
    await admin.login('admin', 'admin-password')
    const { imageId, tokens } = await collabProject(admin, { one: 'annotator', two: 'annotator' })
    const a = connect(first.url, imageId, tokens.one)
    const b = connect(second.url, imageId, tokens.two)
    clients.push(a, b)
    await Promise.all([synced(a), synced(b)])
    const per = 24
    for (let i = 0; i < per; i++) {
      for (const [k, client] of [a, b].entries()) {
        const x = (i % 12) * 4 + k * 2
        createAnnotation(
          client.doc,
          { kind: 'box', geometry: { x, y: i, width: 1, height: 1 }, classId: k },
          userOrigin(1),
        )
      }
      // Interleave the two processes' appends and compactions in the log.
      await new Promise((resolve) => setTimeout(resolve, 15))
    }
    const written = new Set(
      [a, b].flatMap((c) => listAnnotations(c.doc).parsed.map((annotation) => annotation.id)),
    )
    expect(written.size).toBe(2 * per)
    const db = openDatabase(path.join(data, 'tessera.sqlite'))
    const store = new SqliteDocumentStore(db)
    const stored = () =>
      new Set(
        listAnnotations(store.load(`image:${imageId}`).doc).parsed.map(
          (annotation) => annotation.id,
        ),
      )
    await eventually(() => stored().size === written.size, 10_000, 'every update stored')
    // Both shut down, compacting what they hold; nothing of the other's may go.
    for (const client of clients) client.provider.disconnect()
    const codes = [await first.stop('SIGTERM'), await second.stop('SIGTERM')]
    expect(codes, `${first.output()}\n${second.output()}`).toEqual([0, 0])
    expect([...stored()].sort()).toEqual([...written].sort())
    db.close()
  })
})
