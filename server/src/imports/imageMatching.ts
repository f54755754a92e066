// Which image an imported file's annotations belong to: a project image with the same file name,
// else one whose bytes (the archive's copy, or the sha256 a Tessera manifest names) the project
// has, else one with the same unique stem (formats that name images by stem: GeoJSON, label
// images, YOLO), else the archive's own copy, uploaded on commit. Reads each archive image at
// most twice (hash, header), never decodes pixels.
import { createHash } from 'node:crypto'
import sharp from 'sharp'
import { fileStem, type ImportProblem } from '../../../shared/formats/dataset.ts'
import type { Db } from '../db/database.ts'
import { type ImageRow, listImageRows } from '../images/imageRecords.ts'
import type { ArchiveEntry, ImportArchive } from './ImportArchive.ts'
import { archiveImages } from './importFormats.ts'

const PAGE_SUFFIX = / \[page \d+\/\d+\]$/

export interface ImageMatch {
  /** The project image; null for one the archive brings. */
  row: ImageRow | null
  /** The archive's copy of an image the project lacks (uploaded on commit). */
  entry: ArchiveEntry | null
  matchedBy: 'name' | 'sha256' | 'new'
  width: number
  height: number
}

const baseName = (path: string) => path.split(/[\\/]/).pop() ?? path
export const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

export class ImageMatcher {
  /** Archive images that cannot be read (not an image, or beyond the pixel limit). */
  readonly problems: ImportProblem[] = []
  private readonly byName = new Map<string, ImageRow>()
  private readonly byStem = new Map<string, ImageRow[]>()
  private readonly bySha = new Map<string, ImageRow>()
  private readonly broughtByName = new Map<string, ArchiveEntry>()
  private readonly broughtByStem = new Map<string, ArchiveEntry>()
  private readonly manifestSha = new Map<string, string>()
  private readonly shas = new Map<ArchiveEntry, string>()
  private readonly sizes = new Map<ArchiveEntry, { width: number; height: number } | null>()

  private constructor(
    private readonly archive: ImportArchive,
    private readonly maxImagePixels: number,
  ) {}

  static async create(
    db: Db,
    projectId: number,
    archive: ImportArchive,
    maxImagePixels: number,
  ): Promise<ImageMatcher> {
    const matcher = new ImageMatcher(archive, maxImagePixels)
    // First page wins: annotations of a multi-page file go to its first page.
    for (const row of listImageRows(db, projectId)) {
      const name = row.name.replace(PAGE_SUFFIX, '')
      if (!matcher.byName.has(name)) matcher.byName.set(name, row)
      const stem = fileStem(name)
      matcher.byStem.set(stem, [...(matcher.byStem.get(stem) ?? []), row])
      if (!matcher.bySha.has(row.sha256)) matcher.bySha.set(row.sha256, row)
    }
    for (const entry of archiveImages(archive)) {
      const name = baseName(entry.path)
      if (!matcher.broughtByName.has(name)) matcher.broughtByName.set(name, entry)
      if (!matcher.broughtByStem.has(fileStem(name)))
        matcher.broughtByStem.set(fileStem(name), entry)
    }
    // A Tessera export names each file's sha256, so its annotations match without the images.
    const manifest = archive.entries.find((e) => e.path === 'manifest.json')
    if (manifest) {
      try {
        const json = JSON.parse((await archive.read(manifest)).toString('utf8'))
        for (const f of json?.files ?? []) {
          if (typeof f?.fileName === 'string' && typeof f?.sha256 === 'string')
            matcher.manifestSha.set(f.fileName, f.sha256)
        }
      } catch {
        // Not ours after all: names and the images' bytes still match.
      }
    }
    return matcher
  }

  /** Where the annotations of a file named `fileName` go, or null when nowhere. */
  async resolve(fileName: string): Promise<ImageMatch | null> {
    const name = baseName(fileName)
    const stem = fileStem(name)
    const named = this.byName.get(name)
    if (named) return this.existing(named, 'name')
    const entry = this.broughtByName.get(name) ?? this.broughtByStem.get(stem) ?? null
    const digest = entry ? await this.shaOf(entry) : this.manifestSha.get(name)
    const same = digest ? this.bySha.get(digest) : undefined
    if (same) return this.existing(same, 'sha256')
    const stemmed = this.byStem.get(stem)
    if (!entry && stemmed?.length === 1) return this.existing(stemmed[0], 'name')
    if (!entry) return null
    const size = await this.sizeOf(entry)
    return size ? { row: null, entry, matchedBy: 'new', ...size } : null
  }

  /** The image a per-image label file (named by stem) belongs to, with its size. */
  async imageOfStem(
    stem: string,
  ): Promise<{ fileName: string; width: number; height: number } | null> {
    const entry = this.broughtByStem.get(stem)
    const rows = this.byStem.get(stem)
    if (!entry && rows?.length === 1) {
      const row = rows[0]
      return { fileName: row.name.replace(PAGE_SUFFIX, ''), width: row.width, height: row.height }
    }
    if (!entry) return null
    const match = await this.resolve(entry.path)
    return match
      ? { fileName: baseName(entry.path), width: match.width, height: match.height }
      : null
  }

  private existing(row: ImageRow, matchedBy: 'name' | 'sha256'): ImageMatch {
    return { row, entry: null, matchedBy, width: row.width, height: row.height }
  }

  private async shaOf(entry: ArchiveEntry): Promise<string> {
    let digest = this.shas.get(entry)
    if (!digest) {
      digest = sha256Of(await this.archive.read(entry))
      this.shas.set(entry, digest)
    }
    return digest
  }

  /** The size from the file's header; null (and a problem) when it is no image this server reads. */
  private async sizeOf(entry: ArchiveEntry): Promise<{ width: number; height: number } | null> {
    if (this.sizes.has(entry)) return this.sizes.get(entry)!
    const meta = await sharp(await this.archive.read(entry), {
      limitInputPixels: this.maxImagePixels,
    })
      .metadata()
      .catch((error: Error) => error)
    const size =
      meta instanceof Error || !meta.width || !meta.height
        ? null
        : { width: meta.width, height: meta.height }
    if (!size)
      this.problems.push({
        source: entry.path,
        message: `cannot be read as an image${meta instanceof Error ? ` (${meta.message})` : ''}`,
      })
    this.sizes.set(entry, size)
    return size
  }
}
