// /api/health answers as soon as the server listens, and says ready only once start-up work
// (the demo project on `npm start`) is done: a supervisor or a test waits for ready, not for
// the port.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-health-'))
let server: RunningServer | null = null
afterAll(async () => {
  await server?.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
})

describe('health', () => {
  it('is live at once and ready only after start-up work', async () => {
    let finish: () => void = () => {}
    const startup = new Promise<void>((resolve) => {
      finish = resolve
    })
    server = await startServer(
      parseConfig({ port: 0, dataDir, demo: false, logLevel: 'silent' }),
      () => startup,
    )
    const health = async () => {
      const response = await fetch(`${server!.url}/api/health`)
      return { status: response.status, body: await response.json() }
    }
    expect(await health()).toMatchObject({ status: 503, body: { details: { ready: false } } })
    finish()
    await server.started
    expect(await health()).toEqual({ status: 200, body: { ok: true, ready: true } })
  })
})
