// What an import reads from: a ZIP (read in place with yauzl, entry by entry) or one plain file
// (a COCO or GeoJSON document). Every entry is checked before anything is read: paths that leave
// the archive's folder or are absolute, absurd expansion ratios, too many entries or bytes. An
// error names the entry; nothing is extracted to disk.
import fs from 'node:fs/promises'
import yauzl from 'yauzl'
import { HttpError } from '../http/HttpError.ts'

export interface ArchiveEntry {
  /** The entry's path inside the archive, '/'-separated, no leading './'. */
  path: string
  /** Bytes once expanded. */
  size: number
}

export interface ImportLimits {
  /** Largest expanded size of one entry that is read whole (JSON, XML, text, label images). */
  maxEntryBytes: number
  /** Most bytes all entries may expand to. */
  maxTotalBytes: number
  maxEntries: number
  /** Largest ratio of an entry's expanded to compressed size (above 1 MiB expanded). */
  maxRatio: number
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = {
  maxEntryBytes: 256 * 1024 * 1024,
  maxTotalBytes: 8 * 1024 * 1024 * 1024,
  maxEntries: 200_000,
  maxRatio: 200,
}

/** Why an archive path is unsafe, or null. Backslashes count as separators (Windows zips). */
export function unsafeEntryPath(path: string): string | null {
  if (path.length === 0) return 'has an empty name'
  if (path.includes('\0')) return 'has a NUL character in its name'
  if (/^([A-Za-z]:|[\\/])/.test(path)) return 'is an absolute path'
  if (path.split(/[\\/]/).some((part) => part === '..')) return "leaves the archive's folder ('..')"
  return null
}

export interface ImportArchive {
  readonly entries: readonly ArchiveEntry[]
  /** Whether the upload was a ZIP (false: one plain file, its only entry). */
  readonly zipped: boolean
  read(entry: ArchiveEntry): Promise<Buffer>
  close(): void
}

/** Opens an uploaded file: a ZIP when it starts like one, otherwise one plain file. */
export async function openImportArchive(
  file: string,
  fileName: string,
  limits: ImportLimits = DEFAULT_IMPORT_LIMITS,
): Promise<ImportArchive> {
  const handle = await fs.open(file, 'r')
  const head = Buffer.alloc(4)
  const { size } = await handle.stat()
  await handle.read(head, 0, 4, 0)
  await handle.close()
  if (head.readUInt32LE(0) !== 0x04034b50 && head.readUInt32LE(0) !== 0x06054b50) {
    const name = fileName.split(/[\\/]/).pop() || 'upload'
    if (size > limits.maxEntryBytes)
      throw new HttpError(
        413,
        `${name} is larger than this server's limit of ${limits.maxEntryBytes.toLocaleString('en')} bytes for one file`,
      )
    const entry = { path: name, size }
    return {
      entries: [entry],
      zipped: false,
      read: () => fs.readFile(file),
      close() {},
    }
  }
  return openZip(file, limits)
}

function openZip(file: string, limits: ImportLimits): Promise<ImportArchive> {
  return new Promise((resolve, reject) => {
    yauzl.open(
      file,
      // Names stay bytes (checked here, so the error names the entry); sizes are checked
      // against the headers while reading, so a lying header cannot expand further.
      { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false },
      (error, zip) => {
        if (error || !zip) {
          reject(
            new HttpError(400, `Not a readable ZIP archive: ${error?.message ?? 'unknown error'}`),
          )
          return
        }
        const entries: ArchiveEntry[] = []
        const raw = new Map<ArchiveEntry, yauzl.Entry>()
        let total = 0
        const fail = (message: string) => {
          zip.close()
          reject(new HttpError(400, message))
        }
        zip.on('error', (e: Error) => fail(`Not a readable ZIP archive: ${e.message}`))
        zip.on('entry', (entry: yauzl.Entry) => {
          const nameBytes = entry.fileName as unknown as Buffer
          // Bit 11: the name is UTF-8; otherwise CP437, which agrees with UTF-8 on ASCII.
          const path = nameBytes.toString(entry.generalPurposeBitFlag & 0x800 ? 'utf8' : 'latin1')
          const unsafe = unsafeEntryPath(path)
          if (unsafe) return fail(`Archive entry "${path}" ${unsafe}; nothing was imported`)
          if (entries.length >= limits.maxEntries)
            return fail(`The archive has more than ${limits.maxEntries} entries`)
          const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize)
          if (entry.uncompressedSize > 1024 * 1024 && ratio > limits.maxRatio)
            return fail(
              `Archive entry "${path}" expands ${Math.round(ratio)} times (${entry.uncompressedSize.toLocaleString('en')} bytes), beyond the limit of ${limits.maxRatio}; nothing was imported`,
            )
          total += entry.uncompressedSize
          if (total > limits.maxTotalBytes)
            return fail(
              `The archive expands to more than ${limits.maxTotalBytes.toLocaleString('en')} bytes (at "${path}")`,
            )
          if (!path.endsWith('/')) {
            const item = {
              path: path.replace(/\\/g, '/').replace(/^(\.\/)+/, ''),
              size: entry.uncompressedSize,
            }
            entries.push(item)
            raw.set(item, entry)
          }
          zip.readEntry()
        })
        zip.on('end', () =>
          resolve({
            entries,
            zipped: true,
            read: (item) => readEntry(zip, raw.get(item)!, item, limits),
            close: () => zip.close(),
          }),
        )
        zip.readEntry()
      },
    )
  })
}

function readEntry(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  item: ArchiveEntry,
  limits: ImportLimits,
): Promise<Buffer> {
  if (item.size > limits.maxEntryBytes)
    return Promise.reject(
      new HttpError(
        413,
        `Archive entry "${item.path}" is ${item.size.toLocaleString('en')} bytes, beyond this server's limit of ${limits.maxEntryBytes.toLocaleString('en')} for one file`,
      ),
    )
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (error, stream) => {
      if (error || !stream) {
        reject(new HttpError(400, `Archive entry "${item.path}" cannot be read: ${error?.message}`))
        return
      }
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('error', (e: Error) =>
        reject(new HttpError(400, `Archive entry "${item.path}" cannot be read: ${e.message}`)),
      )
      stream.on('end', () => resolve(Buffer.concat(chunks)))
    })
  })
}
