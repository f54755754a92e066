// Registers the shipped model folders (models/v0, …) as global base versions, each once: their
// files go to the blob store, checked against the card's sha256s. It never changes a registered
// version nor a project's current one; a newer base applies to projects that follow the default.
import fs from 'node:fs'
import path from 'node:path'
import { type BlobStore, sha256Hex } from '../blobs/BlobStore.ts'
import type { Db } from '../db/database.ts'
import {
  fromRecord,
  insertVersion,
  type ModelVersionRow,
  parseModelCard,
  type VersionFile,
  type VersionRecord,
} from './modelVersionRow.ts'

export const DEFAULT_MODELS_DIR = path.resolve(import.meta.dirname, '../../../models')

/** Base version folders are named like versions; nothing else in modelsDir is read. */
const VERSION_FOLDER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export class BaseVersionRegistration {
  private registration: Promise<void> = Promise.resolve()

  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
  ) {}

  /**
   * Registers each sub-folder of modelsDir holding a card.json as a base version, once: a folder
   * whose name and encoder are registered already is skipped. Returns the versions it added.
   */
  register(modelsDir: string): Promise<ModelVersionRow[]> {
    const run = this.registerFolders(modelsDir)
    this.registration = run.then(() => undefined)
    // Whoever awaits whenRegistered() sees a failure; the caller of this handles it too.
    this.registration.catch(() => {})
    return run
  }

  /** Resolves once the last register call is done (routes wait for it). */
  whenRegistered(): Promise<void> {
    return this.registration
  }

  private async registerFolders(modelsDir: string): Promise<ModelVersionRow[]> {
    if (!fs.existsSync(modelsDir)) return []
    const folders = fs
      .readdirSync(modelsDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && VERSION_FOLDER.test(entry.name))
      .map((entry) => entry.name)
      .filter((name) => fs.existsSync(path.join(modelsDir, name, 'card.json')))
      .sort()
    const added: ModelVersionRow[] = []
    for (const folder of folders) {
      const row = await this.registerFolder(path.join(modelsDir, folder), folder)
      if (row) added.push(row)
    }
    return added
  }

  private async registerFolder(dir: string, folder: string): Promise<ModelVersionRow | null> {
    const cardJson = await fs.promises.readFile(path.join(dir, 'card.json'), 'utf8')
    const card = parseModelCard(cardJson, `model card ${path.join(dir, 'card.json')}`)
    const createdAt = Date.parse(card.createdAt)
    if (Number.isNaN(createdAt))
      throw new Error(`${dir}/card.json: createdAt ${card.createdAt} is not a date`)
    const read = async (name: string, info: { path: string; sha256: string }) => {
      if (path.basename(info.path) !== info.path)
        throw new Error(`${dir}/card.json: file ${name} must be in the folder, not ${info.path}`)
      const bytes = await fs.promises.readFile(path.join(dir, info.path))
      const sha256 = sha256Hex(bytes)
      if (sha256 !== info.sha256)
        throw new Error(`${dir}/${info.path}: sha256 ${sha256} is not the card's ${info.sha256}`)
      return bytes
    }
    const encoder = await read('encoder', card.files.encoder)
    if (this.findBase(folder, card.files.encoder.sha256).existing) return null

    const files: Record<string, VersionFile> = {}
    for (const [name, info] of Object.entries(card.files)) {
      if (!info || name === 'card') continue
      const bytes = name === 'encoder' ? encoder : await read(name, info)
      await this.blobs.put(bytes, info.sha256)
      files[name] = { sha256: info.sha256, bytes: bytes.length }
    }
    // Checked again under the write lock: another process may have registered it meanwhile.
    return this.db
      .transaction(() => {
        const { existing, name } = this.findBase(folder, card.files.encoder.sha256)
        if (existing) return null
        const parent = card.parentVersion
          ? (this.db
              .prepare(
                'SELECT id FROM model_versions WHERE project_id IS NULL AND name = ? ORDER BY id DESC LIMIT 1',
              )
              .get(card.parentVersion) as { id: number } | undefined)
          : undefined
        return insertVersion(this.db, {
          projectId: null,
          name,
          parentId: parent?.id ?? null,
          state: 'current',
          cardJson,
          files,
          metrics: card.metrics,
          createdAt: new Date(createdAt).toISOString(),
        })
      })
      .immediate()
  }

  /**
   * The base registered from `folder` with this encoder, if any, and the name a new one gets: the
   * folder's, or (when a different model holds that name) the folder's plus the encoder's hash.
   */
  private findBase(folder: string, encoderSha256: string) {
    const alternative = `${folder}-${encoderSha256.slice(0, 8)}`
    const rows = (
      this.db
        .prepare('SELECT * FROM model_versions WHERE project_id IS NULL AND name IN (?, ?)')
        .all(folder, alternative) as VersionRecord[]
    ).map(fromRecord)
    const existing = rows.find((row) => row.files.encoder?.sha256 === encoderSha256) ?? null
    const name = rows.some((row) => row.name === folder) ? alternative : folder
    return { existing, name }
  }
}
