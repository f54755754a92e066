// Rows of the images table and their API form (ImageInfo). The only place that maps columns.
import type { ImageInfo } from '../../../shared/schemas/images.ts'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'

export interface ImageRow {
  id: number
  project_id: number
  name: string
  sha256: string
  page: number
  page_count: number
  format: 'png' | 'jpeg' | 'tiff'
  bytes: number
  width: number
  height: number
  channels: number
  dtype: ImageInfo['dtype']
  stats_json: string
  raw_key: string
  display_key: string
  thumbnail_key: string
  tiles_json: string
  status: ImageInfo['status']
  created_at: string
}

export interface StoredTiles {
  tileSize: number
  columns: number
  rows: number
  /** Blob keys of the PNG tiles, row-major. */
  keys: string[]
}

export function toImageInfo(row: ImageRow): ImageInfo {
  const tiles = JSON.parse(row.tiles_json) as StoredTiles
  return {
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    sha256: row.sha256,
    format: row.format,
    bytes: row.bytes,
    page: row.page,
    pageCount: row.page_count,
    width: row.width,
    height: row.height,
    channels: row.channels,
    dtype: row.dtype,
    stats: JSON.parse(row.stats_json),
    status: row.status,
    createdAt: row.created_at,
    tiles: { tileSize: tiles.tileSize, columns: tiles.columns, rows: tiles.rows },
  }
}

/** The image if it belongs to the project; an image of another project is "not found". */
export function getImageRow(db: Db, projectId: number, imageId: number): ImageRow {
  const row = db
    .prepare('SELECT * FROM images WHERE id = ? AND project_id = ?')
    .get(imageId, projectId) as ImageRow | undefined
  if (!row) throw new HttpError(404, 'Image not found')
  return row
}

export function listImageRows(db: Db, projectId: number): ImageRow[] {
  return db
    .prepare('SELECT * FROM images WHERE project_id = ? ORDER BY id')
    .all(projectId) as ImageRow[]
}

/** Every blob key an image row references (original, raw samples, tiles, thumbnail). */
export function blobKeysOf(row: ImageRow): string[] {
  const tiles = JSON.parse(row.tiles_json) as StoredTiles
  return [row.sha256, row.raw_key, row.thumbnail_key, ...tiles.keys]
}
