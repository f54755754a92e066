// A stored model version as the rest of the server sees it: the model_versions record, its typed
// row, reading and inserting one, and the card parsing every reader of a card shares. Nothing
// here changes a stored version (only its state moves, in modelPromotions.ts).
import { ModelCard } from '../../../shared/schemas/modelCard.ts'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'

export type ModelVersionState = 'candidate' | 'current' | 'retired'

/** A stored file of a version: its blob key and size. */
export interface VersionFile {
  sha256: string
  bytes: number
}

export interface ModelVersionRow {
  id: number
  /** null for a base version (shared by every project). */
  projectId: number | null
  name: string
  parentId: number | null
  state: ModelVersionState
  card: ModelCard
  /** The card's text exactly as shipped or uploaded; served as the version's card file. */
  cardJson: string
  /** Every file but the card, by artefact name (encoder, decoder, parity, checkpoint). */
  files: Record<string, VersionFile>
  metrics: Record<string, unknown>
  trainingImages: number
  trainingObjects: number
  trainingSetHash: string | null
  jobId: number | null
  triggeredBy: number | null
  createdAt: string
}

/** A model_versions record as SQLite returns it. */
export interface VersionRecord {
  id: number
  project_id: number | null
  name: string
  parent_id: number | null
  state: ModelVersionState
  card_json: string
  files_json: string
  metrics_json: string
  training_images: number
  training_objects: number
  training_set_hash: string | null
  job_id: number | null
  triggered_by: number | null
  created_at: string
}

export function fromRecord(record: VersionRecord): ModelVersionRow {
  return {
    id: record.id,
    projectId: record.project_id,
    name: record.name,
    parentId: record.parent_id,
    state: record.state,
    card: parseModelCard(record.card_json),
    cardJson: record.card_json,
    files: JSON.parse(record.files_json),
    metrics: JSON.parse(record.metrics_json),
    trainingImages: record.training_images,
    trainingObjects: record.training_objects,
    trainingSetHash: record.training_set_hash,
    jobId: record.job_id,
    triggeredBy: record.triggered_by,
    createdAt: record.created_at,
  }
}

/** The first version a `SELECT * FROM model_versions …` query finds, or null. */
export function selectVersion(db: Db, sql: string, ...params: unknown[]): ModelVersionRow | null {
  const record = db.prepare(sql).get(...params) as VersionRecord | undefined
  return record ? fromRecord(record) : null
}

export function getVersion(db: Db, id: number): ModelVersionRow | null {
  return selectVersion(db, 'SELECT * FROM model_versions WHERE id = ?', id)
}

/** A new model_versions record; the columns left out keep their defaults. */
export interface VersionInsert {
  projectId: number | null
  name: string
  parentId: number | null
  state: ModelVersionState
  cardJson: string
  files: Record<string, VersionFile>
  metrics: Record<string, unknown>
  trainingSet?: { images: number; objects: number; hash: string | null }
  jobId?: number | null
  triggeredBy?: number | null
  /** The insertion time when absent. */
  createdAt?: string
}

export function insertVersion(db: Db, version: VersionInsert): ModelVersionRow {
  const columns: Record<string, unknown> = {
    project_id: version.projectId,
    name: version.name,
    parent_id: version.parentId,
    state: version.state,
    card_json: version.cardJson,
    files_json: JSON.stringify(version.files),
    metrics_json: JSON.stringify(version.metrics),
    training_images: version.trainingSet?.images ?? 0,
    training_objects: version.trainingSet?.objects ?? 0,
    training_set_hash: version.trainingSet?.hash ?? null,
    job_id: version.jobId ?? null,
    triggered_by: version.triggeredBy ?? null,
  }
  if (version.createdAt !== undefined) columns.created_at = version.createdAt
  const names = Object.keys(columns)
  const { lastInsertRowid } = db
    .prepare(
      `INSERT INTO model_versions (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
    )
    .run(...Object.values(columns))
  return getVersion(db, Number(lastInsertRowid))!
}

/** Parses a card's text, or a 400 that names the failing field. */
export function parseModelCard(text: string, what = 'model card'): ModelCard {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new HttpError(400, `The ${what} is not JSON: ${(error as Error).message}`)
  }
  const parsed = ModelCard.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = issue?.path.length ? issue.path.join('.') : '(the card)'
    throw new HttpError(400, `Invalid ${what}: ${field}: ${issue?.message}`, parsed.error.issues)
  }
  return parsed.data
}
