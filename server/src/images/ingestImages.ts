// Ingests uploaded image files into a project, all or nothing. Every file's headers are checked
// against the budgets first (planUpload); then a decode worker decodes one page at a time while
// its blobs are written; the rows go in at the end in one transaction. A failure anywhere leaves
// no row and takes back every blob it wrote. Routes and the demo seeding both call this.
import type { UploadResult } from '../../../shared/schemas/images.ts'
import type { AppContext } from '../app.ts'
import { sha256Hex } from '../blobs/BlobStore.ts'
import { HttpError } from '../http/HttpError.ts'
import { type DecodedResult, decodeWorkersOf, type KeyedBytes } from './DecodeWorkers.ts'
import { checkImageFile, type ImageFormat } from './detectFormat.ts'
import {
  blobKeysOf,
  type ImageRow,
  listImageRows,
  type StoredTiles,
  toImageInfo,
} from './imageRecords.ts'
import { planUpload } from './planUpload.ts'

export interface UploadedFile {
  name: string
  bytes: Uint8Array
  /** The bytes' sha256 when the caller has it (hashed as they arrived); computed otherwise. */
  sha256?: string
}

interface NewFile extends UploadedFile {
  sha256: string
  format: ImageFormat
}

/** One images row to insert, its blobs already written. */
interface NewPage {
  file: NewFile
  name: string
  page: number
  pageCount: number
  width: number
  height: number
  channels: number
  dtype: string
  statsJson: string
  raw: string
  thumbnail: string
  tiles: StoredTiles
}

// Blobs that uploads in progress have written or found, counted per upload holding them: their
// rows do not exist yet, so without this a deletion meanwhile could take a shared tile away.
const blobsInFlight = new WeakMap<AppContext, Map<string, number>>()

function holdBlobs(context: AppContext) {
  let held = blobsInFlight.get(context)
  if (!held) {
    held = new Map()
    blobsInFlight.set(context, held)
  }
  const mine = new Set<string>()
  return {
    hold(key: string) {
      if (mine.has(key)) return
      mine.add(key)
      held.set(key, (held.get(key) ?? 0) + 1)
    },
    releaseAll() {
      for (const key of mine) {
        const left = (held.get(key) ?? 1) - 1
        if (left > 0) held.set(key, left)
        else held.delete(key)
      }
      mine.clear()
    },
  }
}

export async function ingestImages(
  context: AppContext,
  input: { projectId: number; userId: number | null; files: UploadedFile[] },
): Promise<UploadResult> {
  const { db, blobs, config } = context
  if (input.files.length === 0) throw new HttpError(400, 'No files in the upload (field "files")')
  const existing = db.prepare(
    'SELECT * FROM images WHERE project_id = ? AND sha256 = ? ORDER BY page',
  )
  const duplicates: string[] = []
  const duplicateRows: ImageRow[] = []
  const fresh: NewFile[] = []
  const seen = new Set<string>()
  for (const file of input.files) {
    const format = checkImageFile(file.name, file.bytes)
    const sha256 = file.sha256 ?? sha256Hex(file.bytes)
    const rows = existing.all(input.projectId, sha256) as ImageRow[]
    if (rows.length > 0 || seen.has(sha256)) {
      duplicates.push(file.name)
      duplicateRows.push(...rows)
      continue
    }
    seen.add(sha256)
    fresh.push({ ...file, sha256, format })
  }
  // Every header against the budgets before a single pixel is decoded (duplicates cost nothing).
  const plans = await planUpload(fresh, config)

  // Blobs are written as each page is decoded, so that only one page's samples are in memory;
  // the ones this upload created go again if any later step fails.
  const created: string[] = []
  const held = holdBlobs(context)
  const put = async ({ bytes, sha256 }: KeyedBytes) => {
    held.hold(sha256)
    if (!(await blobs.has(sha256))) created.push(sha256)
    // Hashed in the decode worker: a large page is not hashed again on the event loop.
    return blobs.put(bytes, sha256)
  }
  // Keeps only the samples' key, so that they may go before the page's tiles are made.
  const putSamples = async ({ raw, ...page }: DecodedResult) => ({ ...page, raw: await put(raw) })
  try {
    const pages: NewPage[] = []
    if (fresh.length > 0) {
      await decodeWorkersOf(context).run(async (decoder) => {
        for (const [index, file] of fresh.entries()) {
          await put({ bytes: file.bytes, sha256: file.sha256 })
          await decoder.open({ name: file.name, format: file.format, bytes: file.bytes })
          for (const header of plans[index]) {
            const { raw, ...decoded } = await putSamples(
              await decoder.decode(header, config.displayTileSize),
            )
            const { grid } = decoded
            const keys: string[] = []
            for (let tile = 0; tile < grid.columns * grid.rows; tile++) {
              keys.push(await put(await decoder.tile(tile)))
            }
            pages.push({
              file,
              name:
                header.pageCount > 1
                  ? `${file.name} [page ${header.page + 1}/${header.pageCount}]`
                  : file.name,
              page: header.page,
              pageCount: header.pageCount,
              width: header.width,
              height: header.height,
              channels: decoded.channels,
              dtype: decoded.dtype,
              statsJson: JSON.stringify(decoded.stats),
              raw,
              thumbnail: await put(await decoder.thumbnail()),
              tiles: { ...grid, keys },
            })
          }
        }
      })
    }
    const insert = db.prepare(`INSERT INTO images (project_id, name, sha256, page, page_count,
      format, bytes, width, height, channels, dtype, stats_json, raw_key, display_key,
      thumbnail_key, tiles_json, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    const ids = db.transaction(() =>
      pages.map((page) =>
        Number(
          insert.run(
            input.projectId,
            page.name,
            page.file.sha256,
            page.page,
            page.pageCount,
            page.file.format,
            page.file.bytes.length,
            page.width,
            page.height,
            page.channels,
            page.dtype,
            page.statsJson,
            page.raw,
            page.tiles.keys[0],
            page.thumbnail,
            JSON.stringify(page.tiles),
            input.userId,
          ).lastInsertRowid,
        ),
      ),
    )()
    held.releaseAll()
    const byId = db.prepare('SELECT * FROM images WHERE id = ?')
    const images = [...ids.map((id) => byId.get(id) as ImageRow), ...duplicateRows].map(toImageInfo)
    return { images, duplicates }
  } catch (error) {
    held.releaseAll()
    // Only what no row and no other upload in progress uses (another may share a blank tile).
    await releaseBlobs(context, created)
    if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new HttpError(409, 'The same image was uploaded twice at once; try again')
    }
    throw error
  }
}

/**
 * Deletes blobs that no image row references any more (content is shared across images), no
 * upload in progress holds, and no unfinished training job's frozen set reads (a deleted image's
 * samples stay until the job that froze them ends; they are not collected afterwards).
 */
export async function releaseBlobs(context: AppContext, keys: Iterable<string>): Promise<void> {
  const stillUsed = context.db.prepare(
    `SELECT 1 FROM images WHERE sha256 = @key OR raw_key = @key OR thumbnail_key = @key
       OR EXISTS (SELECT 1 FROM json_each(images.tiles_json, '$.keys') WHERE value = @key)
     UNION ALL
     SELECT 1 FROM jobs JOIN training_sets ON training_sets.job_id = jobs.id,
       json_each(training_sets.items_json) AS item
     WHERE jobs.state IN ('queued', 'leased', 'running')
       AND json_extract(item.value, '$.samplesKey') = @key
     LIMIT 1`,
  )
  const inFlight = blobsInFlight.get(context)
  for (const key of new Set(keys)) {
    if (!stillUsed.get({ key }) && !inFlight?.has(key)) await context.blobs.delete(key)
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
