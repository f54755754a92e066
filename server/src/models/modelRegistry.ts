// The model versions this server can hand to browsers: one folder per version holding card.json
// and the files the card names. Versions are immutable once written, so their files are served
// with long-lived caching. The shipped v0 lives in the repository's models/ folder; the training
// queue will add versions it trains and choose a project's current one.
import fs from 'node:fs'
import path from 'node:path'
import type { ModelCard } from '../../../shared/schemas/modelCard.ts'
import { HttpError } from '../http/HttpError.ts'
import { readModelCard } from './loadModel.ts'

export const DEFAULT_MODELS_DIR = path.resolve(import.meta.dirname, '../../../models')

/** Version names are folder names; nothing else may reach the file system. */
const VERSION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Files of a version a browser may fetch, by the card's file key. */
const SERVED_FILES = ['encoder', 'decoder', 'parity'] as const
export type ServedFile = (typeof SERVED_FILES)[number]

export interface ModelVersion {
  version: string
  dir: string
  card: ModelCard
}

export class ModelRegistry {
  private cache = new Map<string, ModelVersion>()

  constructor(readonly dir: string) {}

  /** Every version folder with a readable card, newest card first (by its createdAt). */
  list(): ModelVersion[] {
    if (!fs.existsSync(this.dir)) return []
    const versions: ModelVersion[] = []
    for (const entry of fs.readdirSync(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || !VERSION_NAME.test(entry.name)) continue
      const found = this.find(entry.name)
      if (found) versions.push(found)
    }
    const created = (v: ModelVersion) => String((v.card as { createdAt?: unknown }).createdAt ?? '')
    return versions.sort((a, b) => created(b).localeCompare(created(a)))
  }

  find(version: string): ModelVersion | null {
    if (!VERSION_NAME.test(version)) return null
    const cached = this.cache.get(version)
    if (cached) return cached
    const dir = path.join(this.dir, version)
    if (!fs.existsSync(path.join(dir, 'card.json'))) return null
    try {
      const found = { version, dir, card: readModelCard(dir) }
      this.cache.set(version, found)
      return found
    } catch {
      return null
    }
  }

  /** The version a project's browsers load. Until training exists: the newest version here. */
  currentFor(_projectId: number): ModelVersion | null {
    return this.list()[0] ?? null
  }

  /** Path of one of a version's served files, or a 404. */
  filePath(version: string, file: string): { path: string; sha256?: string } {
    const found = this.find(version)
    if (!found) throw new HttpError(404, `No model version ${version}`)
    if (!(SERVED_FILES as readonly string[]).includes(file))
      throw new HttpError(404, `Model files are ${SERVED_FILES.join(', ')}; not ${file}`)
    const files = (found.card as { files?: Record<string, { path?: string; sha256?: string }> })
      .files
    const info = files?.[file]
    const name =
      info?.path ??
      (file === 'encoder'
        ? found.card.encoder.file
        : file === 'decoder'
          ? found.card.decoder.file
          : '')
    if (!name || path.basename(name) !== name)
      throw new HttpError(404, `Model ${version} has no ${file} file`)
    const full = path.join(found.dir, name)
    if (!fs.existsSync(full)) throw new HttpError(404, `Model ${version} has no ${file} file`)
    return { path: full, sha256: info?.sha256 }
  }
}
