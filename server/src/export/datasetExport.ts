// A project's annotations as a dataset archive: selects images and annotations by the export's
// filters, reads each image's document once (loaded or not), hands it to the format's writer and
// streams the ZIP entry by entry; ends with manifest.json (project, filters, counts, what was
// converted or skipped, time). Memory holds one image's annotations, never the archive.

import {
  ClassTable,
  type ConversionReport,
  type DatasetImage,
  emptyReport,
  fileStem,
} from '../../../shared/formats/dataset.ts'
import type { AnnotationRecord } from '../../../shared/schemas/annotation.ts'
import type {
  ExportFilterQuery,
  ExportPreview,
  ExportQuery,
} from '../../../shared/schemas/datasets.ts'
import type { BlobStore } from '../blobs/BlobStore.ts'
import type { CollabServer } from '../collab/collabServer.ts'
import { readImageAnnotations } from '../collab/readImageAnnotations.ts'
import type { Db } from '../db/database.ts'
import type { ImageRow } from '../images/imageRecords.ts'
import { listClasses } from '../projects/index.ts'
import { formatWriter } from './formatWriters.ts'
import type { ZipWriter } from './ZipWriter.ts'

export interface ExportSources {
  db: Db
  blobs: BlobStore
  collab: Pick<CollabServer, 'readDocument'>
}

/** One exported image: its row and how the archive names it. */
export interface ExportImage {
  row: ImageRow
  image: DatasetImage
  /** The original file's name in the archive's images folder (pages of one file share it). */
  archiveName: string
}

export interface ExportManifest {
  tessera: { format: 'tessera-dataset-export'; formatVersion: 1 }
  project: { id: number; name: string }
  format: ExportQuery['format']
  filters: {
    status: string[] | null
    classes: (number | 'none')[] | null
    review: string[]
    origin: string[] | null
    images: boolean
  }
  exportedAt: string
  counts: {
    images: number
    annotations: number
    byClass: Record<string, number>
    /** Entries the document holds that fail its schema or lie outside the image: not exported. */
    invalid: number
  }
  report: ConversionReport
  files: {
    imageId: number
    fileName: string
    originalName: string
    sha256: string
    width: number
    height: number
    status: string
    annotations: number
  }[]
}

/** When no review filter is given: what a person made or accepted (see README). */
export const DEFAULT_REVIEW = ['accepted'] as const

export function exportFilters(query: ExportFilterQuery): ExportManifest['filters'] {
  return {
    status: query.status ?? null,
    classes: query.classes ?? null,
    review: query.review ?? [...DEFAULT_REVIEW],
    origin: query.origin ?? null,
    images: query.images,
  }
}

/** Whether an annotation passes the export's class, review and origin filters. */
export function annotationFilter(
  query: ExportFilterQuery,
): (annotation: AnnotationRecord) => boolean {
  const { classes, review, origin } = exportFilters(query)
  const classSet = classes ? new Set(classes) : null
  const reviewSet = new Set(review)
  const originSet = origin ? new Set(origin) : null
  return (annotation) =>
    reviewSet.has(annotation.review) &&
    (!originSet || originSet.has(annotation.origin.type)) &&
    (!classSet || classSet.has(annotation.classId ?? 'none'))
}

const PAGE_SUFFIX = / \[page \d+\/\d+\]$/
/** Characters a file name in the archive keeps; others become '_'. */
const UNSAFE = /[^A-Za-z0-9._ ()+,=@-]/g

/** The images an export holds, in id order, each with a stem unique in the archive. */
export function selectExportImages(
  db: Db,
  projectId: number,
  query: ExportFilterQuery,
): ExportImage[] {
  const statuses = query.status
  const rows = (
    statuses && statuses.length > 0
      ? db
          .prepare(
            `SELECT * FROM images WHERE project_id = ? AND status IN (${statuses.map(() => '?').join(',')}) ORDER BY id`,
          )
          .all(projectId, ...statuses)
      : db.prepare('SELECT * FROM images WHERE project_id = ? ORDER BY id').all(projectId)
  ) as ImageRow[]
  const stems = new Set<string>()
  return rows.map((row) => {
    const originalName = (row.name.replace(PAGE_SUFFIX, '').split(/[\\/]/).pop() || 'image')
      .replace(UNSAFE, '_')
      .replace(/^\.+/, '_')
    const extension = originalName.slice(fileStem(originalName).length)
    let stem = fileStem(originalName)
    if (row.page_count > 1) stem = `${stem}_p${row.page + 1}`
    // Formats pair label files with images by stem: two files with one stem get the image id.
    if (stems.has(stem.toLowerCase())) stem = `${stem}_${row.id}`
    stems.add(stem.toLowerCase())
    const fileName = row.page_count > 1 ? originalName : `${stem}${extension}`
    return {
      row,
      archiveName: fileName,
      image: { id: row.id, fileName, stem, width: row.width, height: row.height },
    }
  })
}

/** How many images and annotations an export with these filters holds (reads every document). */
export async function previewExport(
  sources: ExportSources,
  projectId: number,
  query: ExportFilterQuery,
): Promise<ExportPreview> {
  const keep = annotationFilter(query)
  const images = selectExportImages(sources.db, projectId, query)
  let annotations = 0
  for (const { row } of images) {
    const { parsed } = await readImageAnnotations(sources.collab, row)
    for (const annotation of parsed) if (keep(annotation)) annotations++
  }
  return { images: images.length, annotations }
}

/**
 * Writes the export into `zip` (the caller ends it). `onProgress` hears (done, total) in images
 * as they are written; with original images included the total counts each image twice (its
 * annotations, its file).
 */
export async function exportDataset(
  sources: ExportSources,
  project: { id: number; name: string },
  query: ExportQuery,
  zip: ZipWriter,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<ExportManifest> {
  const table = new ClassTable(listClasses(sources.db, project.id))
  const keep = annotationFilter(query)
  const images = selectExportImages(sources.db, project.id, query)
  const report = emptyReport()
  const writer = formatWriter(query.format, table, report)
  const manifest: ExportManifest = {
    tessera: { format: 'tessera-dataset-export', formatVersion: 1 },
    project,
    format: query.format,
    filters: exportFilters(query),
    exportedAt: new Date().toISOString(),
    counts: { images: images.length, annotations: 0, byClass: {}, invalid: 0 },
    report,
    files: [],
  }
  const total = images.length * (query.images ? 2 : 1)
  let done = 0
  const progressed = () => onProgress(++done, total)
  onProgress(0, total)

  const annotationsOf = async (item: ExportImage) => {
    const { parsed, failed } = await readImageAnnotations(sources.collab, item.row)
    manifest.counts.invalid += failed.length
    const kept = parsed.filter(keep)
    manifest.counts.annotations += kept.length
    for (const annotation of kept) {
      const name = table.classOf(annotation.classId).name
      manifest.counts.byClass[name] = (manifest.counts.byClass[name] ?? 0) + 1
    }
    manifest.files.push({
      imageId: item.row.id,
      fileName: item.image.fileName,
      originalName: item.row.name,
      sha256: item.row.sha256,
      width: item.row.width,
      height: item.row.height,
      status: item.row.status,
      annotations: kept.length,
    })
    return kept
  }
  const writtenFiles = new Set<string>()
  const writeOriginal = async (item: ExportImage) => {
    const path = `${writer.imagesFolder}/${item.archiveName}`
    if (!writtenFiles.has(path)) {
      writtenFiles.add(path)
      const bytes = await sources.blobs.get(item.row.sha256)
      // PNG and JPEG are compressed already; TIFF often is not.
      await zip.file(path, bytes, { compress: item.row.format === 'tiff' })
    }
    progressed()
  }

  if (writer.kind === 'single-file') {
    // One entry for the whole dataset (COCO): streamed image by image, then the image files.
    await zip.entry(writer.path, async (write) => {
      await writer.begin(write, images)
      for (const item of images) {
        await writer.addImage(item, await annotationsOf(item), write)
        progressed()
      }
      await writer.end(write)
    })
    if (query.images) for (const item of images) await writeOriginal(item)
  } else {
    for (const item of images) {
      await writer.addImage(item, await annotationsOf(item), zip)
      progressed()
      if (query.images) await writeOriginal(item)
    }
    await writer.finish(zip, images)
  }
  await zip.file('manifest.json', `${JSON.stringify(manifest, null, 1)}\n`)
  return manifest
}
