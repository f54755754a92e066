// Importing a dataset into an existing project: plan (the dry run) matches each annotated image to
// a project image or to one the archive brings (imageMatching.ts), resolves class names, and
// checks every geometry against its image; commit
// applies the plan all or nothing: new images, new classes, then each image's document through
// CollabServer.transact (loaded or not). A failure undoes what was done before it.
import {
  createAnnotation,
  deleteAnnotation,
  modelOrigin,
  SERVER_ORIGIN,
  userOrigin,
} from '../../../shared/doc/index.ts'
import { geometryProblem } from '../../../shared/doc/validation.ts'
import type { ImportedAnnotation, ImportedImage } from '../../../shared/formats/dataset.ts'
import { PALETTE } from '../../../shared/imaging/palette.ts'
import { Geometry } from '../../../shared/schemas/annotation.ts'
import type { ImportOptions, ImportReport } from '../../../shared/schemas/datasets.ts'
import type { LabelClass } from '../../../shared/schemas/projects.ts'
import type { AppContext } from '../app.ts'
import type { CollabServer } from '../collab/collabServer.ts'
import type { ProjectRole } from '../http/ApiRouter.ts'
import { HttpError } from '../http/HttpError.ts'
import { getImageRow, type ImageRow } from '../images/imageRecords.ts'
import { deleteImage, ingestImages } from '../images/ingestImages.ts'
import { createClass, deleteClass, listClasses } from '../projects/index.ts'
import type { ImportArchive } from './ImportArchive.ts'
import { type ImageMatch, ImageMatcher, sha256Of } from './imageMatching.ts'
import { type DatasetFormat, detectFormat, readImportedDataset } from './importFormats.ts'

/** Images the archive brings are uploaded this many (or this many bytes) at a time. */
const INGEST_BATCH_FILES = 16
const INGEST_BATCH_BYTES = 256 * 1024 * 1024

/** Where one imported image's annotations go, and those that passed every check. */
interface Target extends ImageMatch {
  fileName: string
  annotations: ImportedAnnotation[]
}

export interface ImportPlan {
  report: ImportReport
  targets: Target[]
  /** Class name → what it becomes. */
  classes: Map<
    string,
    { action: 'existing' | 'create' | 'map' | 'none'; classId: number | null; color?: string }
  >
}

export async function planImport(
  context: AppContext,
  projectId: number,
  role: ProjectRole,
  archive: ImportArchive,
  options: ImportOptions,
): Promise<ImportPlan> {
  const format: DatasetFormat =
    options.format === 'auto' ? await detectFormat(archive) : options.format
  const matcher = await ImageMatcher.create(
    context.db,
    projectId,
    archive,
    context.config.maxImagePixels,
  )
  const dataset = await readImportedDataset(archive, format, options, (stem) =>
    matcher.imageOfStem(stem),
  )

  const targets = new Map<string, Target>()
  const unmatched: ImportReport['unmatched'] = [...dataset.unmatched]
  const problems = [...dataset.problems]
  for (const image of dataset.images) {
    const found = await matcher.resolve(image.fileName)
    if (!found) {
      unmatched.push({ fileName: image.fileName, annotations: image.annotations.length })
      continue
    }
    const key = found.row ? `row:${found.row.id}` : `entry:${found.entry!.path}`
    const target = targets.get(key) ?? { fileName: image.fileName, ...found, annotations: [] }
    targets.set(key, target)
    checkImage(image, target, problems)
  }
  problems.push(...matcher.problems)

  // Classes by name: the project's own first, then the caller's mapping, else created.
  const projectClasses = listClasses(context.db, projectId)
  const counts = new Map<string, number>()
  for (const target of targets.values())
    for (const a of target.annotations)
      if (a.className !== null) counts.set(a.className, (counts.get(a.className) ?? 0) + 1)
  const classes: ImportPlan['classes'] = new Map()
  for (const [name] of counts) {
    const mapping = options.classMap[name]
    const existing = findClass(projectClasses, name)
    if (mapping?.action === 'map') {
      const mapped = projectClasses.find((c) => c.id === mapping.classId)
      if (!mapped)
        problems.push({
          source: `class "${name}"`,
          message: `maps to class ${mapping.classId}, which this project does not have`,
        })
      classes.set(name, { action: 'map', classId: mapping.classId })
    } else if (mapping?.action === 'none') classes.set(name, { action: 'none', classId: null })
    else if (existing) classes.set(name, { action: 'existing', classId: existing.id })
    else {
      if (role !== 'owner')
        problems.push({
          source: `class "${name}"`,
          message:
            "is not a class of this project and only the project's owner can create classes: map it to an existing class or to no class",
        })
      classes.set(name, {
        action: 'create',
        classId: null,
        color: dataset.classes.find((c) => c.name === name)?.color,
      })
    }
  }

  const targetList = [...targets.values()]
  const report: ImportReport = {
    format,
    dryRun: options.dryRun,
    committed: false,
    matched: targetList.map((t) => ({
      fileName: t.fileName,
      imageId: t.row?.id ?? null,
      matchedBy: t.matchedBy,
      annotations: t.annotations.length,
    })),
    unmatched,
    classes: [...classes].map(([name, c]) => ({
      name,
      classId: c.classId,
      action: c.action,
      annotations: counts.get(name) ?? 0,
    })),
    problems,
    converted: dataset.converted,
    counts: {
      annotations: targetList.reduce((n, t) => n + t.annotations.length, 0),
      images: targetList.length,
      newImages: targetList.filter((t) => t.matchedBy === 'new').length,
      newClasses: [...classes.values()].filter((c) => c.action === 'create').length,
    },
  }
  return { report, targets: targetList, classes }
}

function findClass(classes: LabelClass[], name: string): LabelClass | undefined {
  return (
    classes.find((c) => c.name === name) ??
    classes.find((c) => c.name.toLowerCase() === name.toLowerCase())
  )
}

/** Every annotation of an image checked against the document's schema and the image's bounds. */
function checkImage(image: ImportedImage, target: Target, problems: ImportReport['problems']) {
  if (
    image.width !== undefined &&
    image.height !== undefined &&
    (image.width !== target.width || image.height !== target.height)
  ) {
    problems.push({
      source: image.fileName,
      message: `the file says ${image.width}×${image.height} pixels but the image is ${target.width}×${target.height}`,
    })
    return
  }
  for (const annotation of image.annotations) {
    const parsed = Geometry.safeParse({ kind: annotation.kind, geometry: annotation.geometry })
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      problems.push({
        source: annotation.source,
        message: `invalid ${annotation.kind}: ${issue?.path.join('.')} ${issue?.message}`,
      })
      continue
    }
    const problem = geometryProblem(parsed.data, target)
    if (problem) {
      problems.push({ source: annotation.source, message: problem })
      continue
    }
    target.annotations.push(annotation)
  }
}

/**
 * Applies a plan that has no problems, all or nothing: on any failure what was written is taken
 * back (annotations deleted from the documents written so far, created classes and images deleted)
 * and the error is thrown.
 */
export async function commitImport(
  context: AppContext,
  collab: Pick<CollabServer, 'transact'>,
  projectId: number,
  userId: number,
  archive: ImportArchive,
  plan: ImportPlan,
  options: ImportOptions,
): Promise<ImportReport> {
  if (plan.report.problems.length > 0)
    throw new HttpError(
      422,
      `The import has ${plan.report.problems.length} problem(s); nothing was imported`,
      plan.report,
    )
  const createdImages: ImageRow[] = []
  const hasImage = context.db.prepare('SELECT 1 FROM images WHERE project_id = ? AND sha256 = ?')
  const createdClasses: number[] = []
  const written: { target: Target; row: ImageRow; ids: string[] }[] = []
  try {
    // Images the archive brings, uploaded as any upload (decoded and tiled), a few at a time so
    // that memory holds a batch of files, not the archive.
    const fresh = plan.targets.filter((t) => t.matchedBy === 'new')
    const created = new Set<number>()
    for (let start = 0; start < fresh.length; ) {
      const batch: { target: Target; name: string; bytes: Buffer; sha256: string }[] = []
      let bytes = 0
      while (
        start < fresh.length &&
        batch.length < INGEST_BATCH_FILES &&
        bytes < INGEST_BATCH_BYTES
      ) {
        const target = fresh[start++]
        const data = await archive.read(target.entry!)
        bytes += data.length
        batch.push({
          target,
          name: target.entry!.path.split('/').pop()!,
          bytes: data,
          sha256: sha256Of(data),
        })
      }
      // Rows for these bytes that exist before the upload are not this import's to take back.
      const existed = new Set(
        batch
          .filter(({ sha256: digest }) => hasImage.get(projectId, digest) !== undefined)
          .map(({ sha256: digest }) => digest),
      )
      const result = await ingestImages(context, {
        projectId,
        userId,
        files: batch.map(({ name, bytes, sha256 }) => ({ name, bytes, sha256 })),
      })
      for (const { target, sha256: digest } of batch) {
        // By content: two files with the same bytes are one image.
        const info = result.images.find((i) => i.sha256 === digest && i.page === 0)
        if (!info) throw new HttpError(422, `${target.entry!.path} was not added as an image`)
        const row = getImageRow(context.db, projectId, info.id)
        if (!existed.has(digest) && !created.has(row.id)) {
          created.add(row.id)
          createdImages.push(row)
        }
        target.row = row
      }
    }
    // Classes, in one transaction.
    const classIds = new Map<string, number | null>()
    context.db.transaction(() => {
      let index = listClasses(context.db, projectId).length
      for (const [name, c] of plan.classes) {
        if (c.action === 'create') {
          const color =
            c.color && /^#[0-9a-fA-F]{6}$/.test(c.color)
              ? c.color
              : PALETTE[index++ % PALETTE.length]
          const created = createClass(context.db, projectId, { name: name.slice(0, 100), color })
          createdClasses.push(created.id)
          classIds.set(name, created.id)
        } else classIds.set(name, c.classId)
      }
    })()
    // The documents, image by image.
    const suggestions = options.as === 'suggestions'
    const origin = suggestions ? modelOrigin('import') : userOrigin(userId)
    for (const target of plan.targets) {
      const row = target.row!
      const ids: string[] = []
      collab.transact(
        { imageId: row.id, projectId, image: row },
        (doc) => {
          for (const a of target.annotations) {
            ids.push(
              createAnnotation(
                doc,
                {
                  kind: a.kind,
                  geometry: a.geometry,
                  classId: a.className === null ? null : (classIds.get(a.className) ?? null),
                  origin: suggestions
                    ? { type: 'model', modelVersion: 'import', score: clampScore(a.score) }
                    : undefined,
                },
                origin,
                row,
              ),
            )
          }
        },
        origin,
      )
      written.push({ target, row, ids })
      await new Promise((resolve) => setImmediate(resolve))
    }
  } catch (error) {
    await undo(context, collab, projectId, written, createdClasses, createdImages)
    throw error
  }
  context.log.info(
    `project ${projectId}: user ${userId} imported ${plan.report.counts.annotations} annotations (${plan.report.format}) into ${plan.targets.length} images`,
  )
  return {
    ...plan.report,
    dryRun: false,
    committed: true,
    matched: plan.report.matched.map((m, i) => ({
      ...m,
      imageId: plan.targets[i].row?.id ?? m.imageId,
    })),
  }
}

const clampScore = (score: number | undefined) =>
  score === undefined || !Number.isFinite(score) ? 1 : Math.min(1, Math.max(0, score))

async function undo(
  context: AppContext,
  collab: Pick<CollabServer, 'transact'>,
  projectId: number,
  written: { row: ImageRow; ids: string[] }[],
  createdClasses: number[],
  createdImages: ImageRow[],
) {
  const origin = SERVER_ORIGIN
  for (const { row, ids } of written) {
    try {
      collab.transact(
        { imageId: row.id, projectId, image: row },
        (doc) => {
          for (const id of ids) deleteAnnotation(doc, id, origin)
        },
        origin,
      )
    } catch (error) {
      context.log.error(
        `import into project ${projectId}: could not take back image ${row.id}`,
        error,
      )
    }
  }
  for (const id of createdClasses) deleteClass(context.db, projectId, id)
  for (const row of createdImages) await deleteImage(context, row)
}
