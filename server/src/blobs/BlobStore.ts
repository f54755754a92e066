// Content-addressed blob storage (sha256). The interface is narrow so that an S3-compatible
// store can replace the local one; blobs are immutable once written.
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

export interface BlobStore {
  /**
   * Stores bytes under their sha256 and returns it; storing the same bytes twice is a no-op.
   * A caller that hashed the bytes already (off the event loop) passes the digest along.
   */
  put(bytes: Uint8Array, sha256?: string): Promise<string>
  get(key: string): Promise<Buffer>
  has(key: string): Promise<boolean>
  delete(key: string): Promise<void>
  /** Keys of every stored blob (for garbage collection and tests). */
  list(): Promise<string[]>
}

const KEY = /^[0-9a-f]{64}$/

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export class FileBlobStore implements BlobStore {
  constructor(private readonly root: string) {
    fs.mkdirSync(path.join(root, 'tmp'), { recursive: true })
  }

  private pathOf(key: string): string {
    if (!KEY.test(key)) throw new Error(`Invalid blob key: ${key}`)
    return path.join(this.root, key.slice(0, 2), key.slice(2, 4), key)
  }

  async put(bytes: Uint8Array, sha256?: string): Promise<string> {
    const key = sha256 ?? sha256Hex(bytes)
    const target = this.pathOf(key)
    if (fs.existsSync(target)) return key
    await fs.promises.mkdir(path.dirname(target), { recursive: true })
    // Write to a temporary file and rename, so a crash never leaves a partial blob under its key.
    const temporary = path.join(this.root, 'tmp', `${key}.${randomBytes(6).toString('hex')}`)
    const handle = await fs.promises.open(temporary, 'w')
    try {
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.promises.rename(temporary, target)
    return key
  }

  async get(key: string): Promise<Buffer> {
    return fs.promises.readFile(this.pathOf(key))
  }

  async has(key: string): Promise<boolean> {
    return fs.existsSync(this.pathOf(key))
  }

  async delete(key: string): Promise<void> {
    await fs.promises.rm(this.pathOf(key), { force: true })
  }

  async list(): Promise<string[]> {
    const keys: string[] = []
    for (const a of await fs.promises.readdir(this.root)) {
      if (a === 'tmp') continue
      for (const b of await fs.promises.readdir(path.join(this.root, a))) {
        for (const key of await fs.promises.readdir(path.join(this.root, a, b))) {
          if (KEY.test(key)) keys.push(key)
        }
      }
    }
    return keys
  }
}
