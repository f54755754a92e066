// Frozen training sets (ARCHITECTURE decision 7): what a training job trains on, fixed when it is
// queued. Labels come from the image documents only (read as copies, never the live ones) and go
// to the blob store by content; the raw samples are the stored originals' keys, never copied.
import { createHash } from 'node:crypto'
import type { ImageDtype } from '../../../shared/schemas/images.ts'
import {
  ACTIVE_JOB_STATES,
  type DatasetPage,
  type TrainingPreview,
  type TrainingSetSummary,
} from '../../../shared/schemas/training.ts'
import { labelBytes, rasterizeInstanceLabels } from '../../../shared/training/instanceLabels.ts'
import type { BlobStore } from '../blobs/BlobStore.ts'
import type { CollabServer } from '../collab/index.ts'
import { readImageAnnotations } from '../collab/readImageAnnotations.ts'
import type { Db } from '../db/database.ts'
import type { ImageRow } from '../images/imageRecords.ts'
import { listClasses } from '../projects/index.ts'

/** Images whose annotators said they are finished: only these are trained on. */
const TRAINABLE_STATUSES = ['done', 'reviewed'] as const
const TRAINABLE = `status IN (${TRAINABLE_STATUSES.map((s) => `'${s}'`).join(', ')})`
const BYTES_PER_SAMPLE: Record<ImageDtype, number> = { uint8: 1, uint16: 2, float32: 4 }

/** One image of a frozen set, as stored in training_sets.items_json. */
export interface TrainingSetItem {
  imageId: number
  name: string
  width: number
  height: number
  channels: number
  dtype: ImageDtype
  /** The image's raw samples as stored (images.raw_key). */
  samplesKey: string
  samplesBytes: number
  /** Instance labels: uint16 little-endian, row-major (shared/training/instanceLabels.ts). */
  labelsKey: string
  labelsBytes: number
  /** Classes by label value; an instance without a class is in the labels but not listed. */
  instances: { label: number; classId: number }[]
  /** sha256 of the document's state vector when the set was frozen. */
  documentHash: string
}

export interface FrozenTrainingSet {
  summary: TrainingSetSummary
  items: TrainingSetItem[]
}

export interface TrainingSetSources {
  db: Db
  blobs: BlobStore
  collab: Pick<CollabServer, 'readDocument'>
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex')

/**
 * Freezes the project's done and reviewed images: each document rasterised into instance
 * labels, stored in the blob store. An image without any instance is left out ('emptyImages').
 * One image at a time, yielding in between, so memory holds one image's labels.
 */
export async function freezeTrainingSet(
  { db, blobs, collab }: TrainingSetSources,
  projectId: number,
): Promise<FrozenTrainingSet> {
  const rows = db
    .prepare(`SELECT * FROM images WHERE project_id = ? AND ${TRAINABLE} ORDER BY id`)
    .all(projectId) as ImageRow[]
  const items: TrainingSetItem[] = []
  const skipped: Record<string, number> = {}
  const add = (reason: string, n = 1) => {
    if (n > 0) skipped[reason] = (skipped[reason] ?? 0) + n
  }
  let suggestionsLeftOut = 0
  let objects = 0
  for (const row of rows) {
    const { parsed, failed, stateVector } = await readImageAnnotations(collab, row)
    let item: TrainingSetItem | null = null
    const documentHash = sha256(stateVector)
    add('invalid', failed.length)
    const result = rasterizeInstanceLabels(row, parsed)
    for (const [reason, n] of Object.entries(result.skipped)) add(reason, n)
    suggestionsLeftOut += result.leftOut
    if (result.instances.length === 0) add('emptyImages')
    else {
      const bytes = labelBytes(result.labels)
      item = {
        imageId: row.id,
        name: row.name,
        width: row.width,
        height: row.height,
        channels: row.channels,
        dtype: row.dtype,
        samplesKey: row.raw_key,
        samplesBytes: row.width * row.height * row.channels * BYTES_PER_SAMPLE[row.dtype],
        labelsKey: await blobs.put(bytes),
        labelsBytes: bytes.byteLength,
        instances: result.instances.flatMap(({ label, classId }) =>
          classId === null ? [] : [{ label, classId }],
        ),
        documentHash,
      }
      objects += result.instances.length
    }
    if (item) items.push(item)
    await new Promise((resolve) => setImmediate(resolve))
  }
  return {
    summary: { images: items.length, objects, skipped, suggestionsLeftOut, hash: hashOf(items) },
    items,
  }
}

/**
 * The set's identity: the same images, samples, labels and classes give the same hash, however
 * the documents got there (edits that change no label leave it).
 */
function hashOf(items: readonly TrainingSetItem[]): string {
  const sorted = [...items].sort((a, b) => a.imageId - b.imageId)
  return sha256(
    JSON.stringify(sorted.map((i) => [i.imageId, i.samplesKey, i.labelsKey, i.instances])),
  )
}

/** Stores a job's frozen set; synchronous, for the queue's enqueue transaction. */
export function storeTrainingSet(db: Db, jobId: number, set: FrozenTrainingSet): void {
  db.prepare(
    'INSERT INTO training_sets (job_id, hash, summary_json, items_json) VALUES (?, ?, ?, ?)',
  ).run(jobId, set.summary.hash, JSON.stringify(set.summary), JSON.stringify(set.items))
}

export function readTrainingSet(db: Db, jobId: number): FrozenTrainingSet | null {
  const row = db
    .prepare('SELECT summary_json, items_json FROM training_sets WHERE job_id = ?')
    .get(jobId) as { summary_json: string; items_json: string } | undefined
  if (!row) return null
  return { summary: JSON.parse(row.summary_json), items: JSON.parse(row.items_json) }
}

/** Only the summary of a job's frozen set (what a job's listing shows), or null. */
export function readTrainingSetSummary(db: Db, jobId: number): TrainingSetSummary | null {
  const row = db.prepare('SELECT summary_json FROM training_sets WHERE job_id = ?').get(jobId) as
    | { summary_json: string }
    | undefined
  return row ? (JSON.parse(row.summary_json) as TrainingSetSummary) : null
}

/**
 * One page of a job's frozen set as the worker reads it, blobs by `urlOf(sha256)`; null when the
 * job has no set. Pages are read from the stored JSON by SQLite, not parsed whole here.
 */
export function datasetPage(
  db: Db,
  jobId: number,
  cursor: number,
  limit: number,
  urlOf: (sha256: string) => string,
): DatasetPage | null {
  const set = db
    .prepare(`SELECT j.project_id AS projectId, json_array_length(t.items_json) AS total
      FROM training_sets t JOIN jobs j ON j.id = t.job_id WHERE t.job_id = ?`)
    .get(jobId) as { projectId: number; total: number } | undefined
  if (!set) return null
  const from = Math.max(0, Math.floor(cursor))
  const stored = db
    .prepare(`SELECT e.value FROM training_sets t, json_each(t.items_json) e
      WHERE t.job_id = ? ORDER BY e.key LIMIT ? OFFSET ?`)
    .pluck()
    .all(jobId, Math.max(1, Math.floor(limit)), from) as string[]
  const items = stored.map((json) => {
    const item = JSON.parse(json) as TrainingSetItem
    return {
      imageId: item.imageId,
      name: item.name,
      width: item.width,
      height: item.height,
      channels: item.channels,
      dtype: item.dtype,
      samples: { url: urlOf(item.samplesKey), sha256: item.samplesKey, bytes: item.samplesBytes },
      labels: { url: urlOf(item.labelsKey), sha256: item.labelsKey, bytes: item.labelsBytes },
      instances: item.instances,
      documentHash: item.documentHash,
    }
  })
  const end = from + items.length
  return {
    items,
    total: set.total,
    next: end < set.total ? `/api/worker/jobs/${jobId}/dataset?cursor=${end}` : null,
    classes: listClasses(db, set.projectId).map(({ id, name }) => ({ id, name })),
  }
}

/** Every blob a job's frozen set references (a worker token reads only these). */
export function jobBlobKeys(db: Db, jobId: number): Set<string> {
  const rows = db
    .prepare(`SELECT json_extract(e.value, '$.samplesKey') AS samples,
        json_extract(e.value, '$.labelsKey') AS labels
      FROM training_sets t, json_each(t.items_json) e WHERE t.job_id = ?`)
    .all(jobId) as { samples: string; labels: string }[]
  const keys = new Set<string>()
  for (const row of rows) keys.add(row.samples).add(row.labels)
  return keys
}

/**
 * How many of the project's done or reviewed images the job's frozen set does not hold (all of
 * them when there is no job), counted by SQLite from the stored set.
 */
export function trainableImagesNotIn(db: Db, projectId: number, jobId: number | null): number {
  return db
    .prepare(`SELECT count(*) FROM images i WHERE i.project_id = ? AND i.${TRAINABLE}
      AND i.id NOT IN (SELECT json_extract(e.value, '$.imageId')
        FROM training_sets t, json_each(t.items_json) e WHERE t.job_id = ?)`)
    .pluck()
    .get(projectId, jobId ?? -1) as number
}

/**
 * What pressing Train would train on. `objects` is an estimate from the image index (annotations
 * less pending suggestions): boxes and the like count there, and freezing decides exactly.
 * `newSinceCurrent` counts trainable images missing from the set of the job that trained the
 * current version (all of them for a base version, which no job of the project trained).
 */
export function trainingPreview(
  db: Db,
  projectId: number,
  current: { id: number; name: string; jobId?: number | null },
): TrainingPreview {
  const { images, objects } = db
    .prepare(`SELECT count(*) AS images,
        coalesce(sum(max(coalesce(x.annotation_count, 0) - coalesce(x.suggestion_count, 0), 0)), 0)
          AS objects
      FROM images i LEFT JOIN image_index x ON x.image_id = i.id
      WHERE i.project_id = ? AND i.${TRAINABLE}`)
    .get(projectId) as { images: number; objects: number }
  const jobId =
    current.jobId !== undefined
      ? current.jobId
      : ((db.prepare('SELECT job_id FROM model_versions WHERE id = ?').pluck().get(current.id) as
          | number
          | null
          | undefined) ?? null)
  const newSinceCurrent = trainableImagesNotIn(db, projectId, jobId)
  const active = db
    .prepare(`SELECT id FROM jobs WHERE project_id = ? AND kind = 'train'
      AND state IN (${ACTIVE_JOB_STATES.map(() => '?').join(', ')}) ORDER BY id DESC LIMIT 1`)
    .pluck()
    .get(projectId, ...ACTIVE_JOB_STATES) as number | undefined
  return {
    images,
    objects,
    newSinceCurrent,
    currentVersion: { id: current.id, name: current.name },
    activeJob: active ?? null,
  }
}
