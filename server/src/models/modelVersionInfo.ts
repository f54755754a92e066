// What clients see of stored model versions: artefact names, file URLs and download names, the
// current-model body browsers load and the version list with how each version's suggestions were
// answered. Reads only: it never writes a version nor reads a blob; ModelVersions decides which
// version is current and serves the files.
import type { z } from 'zod'
import type { SuggestionCounts } from '../../../shared/schemas/activeLearning.ts'
import type { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import {
  ARTIFACT_NAMES,
  type ArtifactName,
  type ModelVersionInfo,
  type ModelVersionList,
} from '../../../shared/schemas/training.ts'
import { sha256Hex } from '../blobs/BlobStore.ts'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'
import {
  fromRecord,
  type ModelVersionRow,
  type VersionFile,
  type VersionRecord,
} from './modelVersionRow.ts'

export type ModelVersionListBody = z.infer<typeof ModelVersionList>

const EXTENSIONS: Record<ArtifactName, string> = {
  encoder: '.onnx',
  decoder: '.onnx',
  parity: '.json',
  card: '.json',
  checkpoint: '.pt',
  scores: '.json',
}

export function isArtifactName(name: string): name is ArtifactName {
  return (ARTIFACT_NAMES as readonly string[]).includes(name)
}

/** The error for a file name that is no artefact (404 when reading, 400 when uploading). */
export function notAnArtifact(status: 400 | 404, name: string): HttpError {
  return new HttpError(status, `Model files are ${ARTIFACT_NAMES.join(', ')}; not ${name}`)
}

export const modelFileUrl = (projectId: number, versionId: number, file: ArtifactName) =>
  `/api/projects/${projectId}/models/${versionId}/files/${file}`

/** Every file of a version, the card included (its blob key is the hash of card_json). */
export function versionFiles(row: ModelVersionRow): Record<string, VersionFile> {
  const card = Buffer.from(row.cardJson)
  return { ...row.files, card: { sha256: sha256Hex(card), bytes: card.length } }
}

/** The name a download of the file gets: project, version and file, slugged, with its extension. */
export function modelFileName(
  project: { id: number; name: string | undefined },
  version: ModelVersionRow,
  file: ArtifactName,
): string {
  const slug = (text: string) =>
    text
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[-.]+|-+$/g, '')
      .slice(0, 60)
  const projectPart = slug(project.name ?? '') || `project-${project.id}`
  return `${projectPart}-${slug(version.name)}-${file}${EXTENSIONS[file]}`
}

/** The body of GET /api/projects/:id/model: the current version's card and file URLs. */
export function toCurrentModel(projectId: number, current: ModelVersionRow): CurrentModel {
  const url = (file: ArtifactName) => modelFileUrl(projectId, current.id, file)
  return {
    versionId: current.id,
    version: current.name,
    card: current.card,
    files: {
      encoder: url('encoder'),
      decoder: url('decoder'),
      parity: current.files.parity ? url('parity') : null,
      checkpoint: current.files.checkpoint ? url('checkpoint') : null,
      card: url('card'),
    },
  }
}

/** The base versions and the project's, newest first. */
export function listVersions(db: Db, projectId: number, currentId: number): ModelVersionListBody {
  const records = db
    .prepare(
      `SELECT v.*, parent.name AS parent_name, users.username
       FROM model_versions v
       LEFT JOIN model_versions parent ON parent.id = v.parent_id
       LEFT JOIN users ON users.id = v.triggered_by
       WHERE v.project_id IS NULL OR v.project_id = ?
       ORDER BY v.created_at DESC, v.id DESC`,
    )
    .all(projectId) as (VersionRecord & { parent_name: string | null; username: string | null })[]
  const suggestions = suggestionCountsByVersion(db, projectId)
  const versions = records.map((record) =>
    toVersionInfo(projectId, fromRecord(record), {
      parentName: record.parent_name,
      username: record.username,
      currentId,
      suggestions: suggestions.get(record.name) ?? NO_SUGGESTIONS,
    }),
  )
  return { versions, currentId }
}

const NO_SUGGESTIONS: SuggestionCounts = {
  accepted: 0,
  edited: 0,
  rejected: 0,
  clickMasks: 0,
  clicks: 0,
}

/**
 * How the project's people answered each version's suggestions, by version name (the name a
 * suggestion's origin carries), in one grouped query (collab/extensions/SuggestionOutcomes.ts
 * writes the rows).
 */
export function suggestionCountsByVersion(
  db: Db,
  projectId: number,
): Map<string, SuggestionCounts> {
  const rows = db
    .prepare(
      `SELECT model_version,
         SUM(outcome = 'accepted') AS accepted,
         SUM(outcome = 'edited') AS edited,
         SUM(outcome = 'rejected') AS rejected,
         SUM(outcome = 'clicked') AS click_masks,
         TOTAL(CASE WHEN outcome = 'clicked' THEN clicks END) AS clicks
       FROM suggestion_outcomes WHERE project_id = ? GROUP BY model_version`,
    )
    .all(projectId) as {
    model_version: string
    accepted: number
    edited: number
    rejected: number
    click_masks: number
    clicks: number
  }[]
  return new Map(
    rows.map((row) => [
      row.model_version,
      {
        accepted: row.accepted,
        edited: row.edited,
        rejected: row.rejected,
        clickMasks: row.click_masks,
        clicks: row.clicks,
      },
    ]),
  )
}

/** One entry of the version list; the parent's name and the username come from joins. */
function toVersionInfo(
  projectId: number,
  row: ModelVersionRow,
  context: {
    parentName: string | null
    username: string | null
    currentId: number
    suggestions: SuggestionCounts
  },
): ModelVersionInfo {
  const files: ModelVersionInfo['files'] = {}
  for (const [name, file] of Object.entries(versionFiles(row))) {
    files[name] = { ...file, url: modelFileUrl(projectId, row.id, name as ArtifactName) }
  }
  return {
    id: row.id,
    projectId: row.projectId,
    name: row.name,
    parent:
      row.parentId !== null && context.parentName !== null
        ? { id: row.parentId, name: context.parentName }
        : null,
    state: row.state,
    isCurrent: row.id === context.currentId,
    polarity: row.card.input.polarity,
    metrics: row.metrics,
    suggestions: context.suggestions,
    trainingSet: {
      images: row.trainingImages,
      objects: row.trainingObjects,
      hash: row.trainingSetHash,
    },
    jobId: row.jobId,
    triggeredBy:
      row.triggeredBy !== null && context.username !== null
        ? { userId: row.triggeredBy, username: context.username }
        : null,
    createdAt: row.createdAt,
    files,
  }
}
