// Fixtures for the model version tests: models/v0's real files, a data folder (SQLite + blobs)
// with a user and two projects, and an HttpError matcher. Test code only; call
// removeModelVersionFixtures after each test.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect } from 'vitest'
import { FileBlobStore } from '../blobs/BlobStore.ts'
import { type Db, openDatabase } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'
import { DEFAULT_MODELS_DIR, type ModelChangeListener, ModelVersions } from './ModelVersions.ts'

export const V0 = path.join(DEFAULT_MODELS_DIR, 'v0')
export const v0File = (name: string) => fs.readFileSync(path.join(V0, name))
export const v0Card = () => JSON.parse(v0File('card.json').toString('utf8'))

const folders: string[] = []
const databases: Db[] = []

/** Closes the databases and deletes the folders the fixtures made. */
export function removeModelVersionFixtures() {
  for (const db of databases.splice(0)) if (db.open) db.close()
  for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
}

export function temporaryFolder(prefix: string) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  folders.push(folder)
  return folder
}

type Change = Parameters<ModelChangeListener>[1] & { projectId: number }

/** A data folder (SQLite + blobs) with a user and two projects; open() reopens it. */
export function dataFolder() {
  const root = temporaryFolder('tessera-versions-')
  const changes: Change[] = []
  const open = () => {
    const db = openDatabase(path.join(root, 'tessera.sqlite'))
    databases.push(db)
    const blobs = new FileBlobStore(path.join(root, 'blobs'))
    const versions = new ModelVersions(db, blobs, (projectId, change) =>
      changes.push({ projectId, ...change }),
    )
    return { db, blobs, versions }
  }
  const first = open()
  const userId = Number(
    first.db
      .prepare(
        "INSERT INTO users (username, display_name, password_hash) VALUES ('ana', 'Ana', 'x')",
      )
      .run().lastInsertRowid,
  )
  const project = (name: string) =>
    Number(first.db.prepare('INSERT INTO projects (name) VALUES (?)').run(name).lastInsertRowid)
  return {
    ...first,
    open,
    changes,
    userId,
    projectId: project('Nuclei Cells'),
    other: project('B'),
  }
}

export async function expectHttpError(promise: Promise<unknown>, status: number, message: RegExp) {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(HttpError)
  expect((error as HttpError).status).toBe(status)
  expect((error as HttpError).message).toMatch(message)
}
