// The server as `npm start` runs it: first-start admin password, configuration errors, and a
// graceful stop on SIGTERM/SIGINT that finishes requests and closes SQLite cleanly.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiClient } from './harness.ts'
import { startServerProcess } from './serverProcess.ts'

const folders: string[] = []
function dataFolder() {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-start-'))
  folders.push(folder)
  return folder
}
afterEach(() => {
  for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
})

describe('server process', () => {
  it('prints a generated admin password once, and it works', async () => {
    const data = dataFolder()
    const first = await startServerProcess({ TESSERA_DATA: data, TESSERA_DEMO: 'false' })
    const password = first.output().match(/with password (\S+)/)?.[1]
    expect(password).toBeTruthy()
    const client = new ApiClient(first.url)
    expect((await client.login('admin', password!)).status).toBe(200)
    expect(await first.stop('SIGTERM')).toBe(0)

    const second = await startServerProcess({ TESSERA_DATA: data, TESSERA_DEMO: 'false' })
    expect(second.output()).not.toMatch(/with password/)
    expect((await new ApiClient(second.url).login('admin', password!)).status).toBe(200)
    expect(await second.stop('SIGINT')).toBe(0)
  })

  it('stops on SIGTERM with the database closed cleanly and its writes kept', async () => {
    const data = dataFolder()
    const server = await startServerProcess({
      TESSERA_DATA: data,
      TESSERA_DEMO: 'false',
      TESSERA_ADMIN_PASSWORD: 'admin-password',
    })
    const client = new ApiClient(server.url)
    await client.login('admin', 'admin-password')
    const writes = Array.from({ length: 20 }, (_, i) =>
      client.request('POST', '/api/projects', { name: `P${i}` }),
    )
    const statuses = (await Promise.all(writes)).map((r) => r.status)
    expect(statuses.every((s) => s === 201)).toBe(true)
    expect(await server.stop('SIGTERM')).toBe(0)
    // A clean close checkpoints the write-ahead log into the database file and removes it.
    expect(fs.existsSync(path.join(data, 'tessera.sqlite-wal'))).toBe(false)

    const again = await startServerProcess({ TESSERA_DATA: data, TESSERA_DEMO: 'false' })
    const reader = new ApiClient(again.url)
    await reader.login('admin', 'admin-password')
    expect((await reader.request('GET', '/api/projects')).body.projects).toHaveLength(20)
    await again.stop()
  })

  it('refuses a bad configuration with a message naming the variable', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { ...process.env, PORT: 'eighty', TESSERA_DATA: dataFolder() },
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(result.status).not.toBe(0)
    expect(result.stderr).toMatch(/PORT/)
  })
})
