// Ingests uploaded image files into a project, all or nothing: every file is checked and
// decoded first; only then are blobs written and rows inserted in one transaction. A failure
// leaves no row and no new blob behind. Routes and the demo seeding both call this.
import type { ImageInfo, UploadResult } from '../../../shared/schemas/images.ts'
import type { AppContext } from '../app.ts'
import { sha256Hex } from '../blobs/BlobStore.ts'
import { HttpError } from '../http/HttpError.ts'
import { channelStats } from './channelStats.ts'
import { decodeImage } from './decodeImage.ts'
import { checkImageFile, type ImageFormat } from './detectFormat.ts'
import {
  blobKeysOf,
  type ImageRow,
  listImageRows,
  type StoredTiles,
  toImageInfo,
} from './imageRecords.ts'
import { displayImage, displayTiles, thumbnail, tileGrid } from './renditions.ts'

export interface UploadedFile {
  name: string
  bytes: Uint8Array
}

interface PreparedPage {
  name: string
  page: number
  pageCount: number
  width: number
  height: number
  channels: number
  dtype: ImageInfo['dtype']
  statsJson: string
  raw: Uint8Array
  tiles: Buffer[]
  grid: { tileSize: number; columns: number; rows: number }
  thumbnail: Buffer
}

interface PreparedFile {
  name: string
  sha256: string
  format: ImageFormat
  bytes: Uint8Array
  pages: PreparedPage[]
}

async function prepareFile(
  context: AppContext,
  file: UploadedFile,
  format: ImageFormat,
): Promise<PreparedFile> {
  const { config } = context
  const decoded = await decodeImage(file.name, file.bytes, format, config.maxImagePixels)
  const pages: PreparedPage[] = []
  for (const page of decoded) {
    const stats = channelStats(page.samples, page.channels)
    const display = displayImage(page.samples, page.width, page.height, page.channels, stats)
    const grid = tileGrid(page.width, page.height, config.displayTileSize)
    pages.push({
      name:
        page.pageCount > 1 ? `${file.name} [page ${page.page + 1}/${page.pageCount}]` : file.name,
      page: page.page,
      pageCount: page.pageCount,
      width: page.width,
      height: page.height,
      channels: page.channels,
      dtype: page.dtype,
      statsJson: JSON.stringify(stats),
      raw: new Uint8Array(page.samples.buffer, page.samples.byteOffset, page.samples.byteLength),
      tiles: await displayTiles(display, grid),
      grid,
      thumbnail: await thumbnail(display),
    })
  }
  return { name: file.name, sha256: sha256Hex(file.bytes), format, bytes: file.bytes, pages }
}

export async function ingestImages(
  context: AppContext,
  input: { projectId: number; userId: number; files: UploadedFile[] },
): Promise<UploadResult> {
  const { db, blobs } = context
  if (input.files.length === 0) throw new HttpError(400, 'No files in the upload (field "files")')
  const existing = db.prepare(
    'SELECT * FROM images WHERE project_id = ? AND sha256 = ? ORDER BY page',
  )
  const duplicates: string[] = []
  const duplicateRows: ImageRow[] = []
  const prepared: PreparedFile[] = []
  const seen = new Set<string>()
  for (const file of input.files) {
    const format = checkImageFile(file.name, file.bytes)
    const sha256 = sha256Hex(file.bytes)
    const rows = existing.all(input.projectId, sha256) as ImageRow[]
    if (rows.length > 0 || seen.has(sha256)) {
      duplicates.push(file.name)
      duplicateRows.push(...rows)
      continue
    }
    seen.add(sha256)
    prepared.push(await prepareFile(context, file, format))
  }

  // Write blobs, remembering which are new so that a failure can take them back.
  const created: string[] = []
  const put = async (bytes: Uint8Array) => {
    const key = sha256Hex(bytes)
    if (!(await blobs.has(key))) created.push(key)
    return blobs.put(bytes)
  }
  try {
    const rows: {
      file: PreparedFile
      page: PreparedPage
      raw: string
      thumbnail: string
      tiles: StoredTiles
    }[] = []
    for (const file of prepared) {
      await put(file.bytes)
      for (const page of file.pages) {
        const keys: string[] = []
        for (const tile of page.tiles) keys.push(await put(tile))
        rows.push({
          file,
          page,
          raw: await put(page.raw),
          thumbnail: await put(page.thumbnail),
          tiles: { ...page.grid, keys },
        })
      }
    }
    const insert = db.prepare(`INSERT INTO images (project_id, name, sha256, page, page_count,
      format, bytes, width, height, channels, dtype, stats_json, raw_key, display_key,
      thumbnail_key, tiles_json, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    const ids = db.transaction(() =>
      rows.map(({ file, page, raw, thumbnail, tiles }) =>
        Number(
          insert.run(
            input.projectId,
            page.name,
            file.sha256,
            page.page,
            page.pageCount,
            file.format,
            file.bytes.length,
            page.width,
            page.height,
            page.channels,
            page.dtype,
            page.statsJson,
            raw,
            tiles.keys[0],
            thumbnail,
            JSON.stringify(tiles),
            input.userId,
          ).lastInsertRowid,
        ),
      ),
    )()
    const byId = db.prepare('SELECT * FROM images WHERE id = ?')
    const images = [...ids.map((id) => byId.get(id) as ImageRow), ...duplicateRows].map(toImageInfo)
    return { images, duplicates }
  } catch (error) {
    for (const key of created) await blobs.delete(key)
    if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new HttpError(409, 'The same image was uploaded twice at once; try again')
    }
    throw error
  }
}

/** Deletes blobs that no image row references any more (content is shared across images). */
export async function releaseBlobs(context: AppContext, keys: Iterable<string>): Promise<void> {
  const stillUsed = context.db.prepare(
    `SELECT 1 FROM images WHERE sha256 = @key OR raw_key = @key OR thumbnail_key = @key
       OR EXISTS (SELECT 1 FROM json_each(images.tiles_json, '$.keys') WHERE value = @key) LIMIT 1`,
  )
  for (const key of new Set(keys)) {
    if (!stillUsed.get({ key })) await context.blobs.delete(key)
  }
}

/** Deletes an image row and every blob that no other image still references. */
export async function deleteImage(context: AppContext, row: ImageRow): Promise<void> {
  context.db.prepare('DELETE FROM images WHERE id = ?').run(row.id)
  context.imagesDeleted([row.id])
  await releaseBlobs(context, blobKeysOf(row))
}

/** Deletes every image of a project, before the project itself goes. */
export async function deleteProjectImages(context: AppContext, projectId: number): Promise<void> {
  const rows = listImageRows(context.db, projectId)
  context.db.prepare('DELETE FROM images WHERE project_id = ?').run(projectId)
  context.imagesDeleted(rows.map((r) => r.id))
  await releaseBlobs(context, rows.flatMap(blobKeysOf))
}
