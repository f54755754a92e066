// Model versions as project data (ARCHITECTURE decisions 5 and 7): cards in SQLite, files in the
// blob store by sha256. Each project has one current version, moved only by promote, rollback
// and the auto-promotion rule. A version's files never change. The shipped bases are registered
// by baseVersions.ts and uploads checked by modelUploads.ts; this class is their entry point.
import type { CurrentModel, ModelCard } from '../../../shared/schemas/modelCard.ts'
import type { EvaluationMetrics, ProjectEvent } from '../../../shared/schemas/training.ts'
import type { BlobStore } from '../blobs/BlobStore.ts'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'
import { BaseVersionRegistration } from './baseVersions.ts'
import {
  isNotWorse,
  type PromotionReason,
  recordPromotion,
  rollbackTarget,
} from './modelPromotions.ts'
import { validateUpload, validateVersionFiles } from './modelUploads.ts'
import {
  isArtifactName,
  listVersions,
  type ModelVersionListBody,
  modelFileName,
  notAnArtifact,
  toCurrentModel,
  versionFiles,
} from './modelVersionInfo.ts'
import {
  getVersion,
  insertVersion,
  type ModelVersionRow,
  parseModelCard,
  selectVersion,
  type VersionFile,
} from './modelVersionRow.ts'

export { DEFAULT_MODELS_DIR } from './baseVersions.ts'
export type { PromotionReason } from './modelPromotions.ts'
export type { ModelVersionRow, ModelVersionState, VersionFile } from './modelVersionRow.ts'

const PROJECT_VERSION_NAME = /^v(\d+)$/

export type ModelChangeReason = Extract<ProjectEvent, { type: 'model' }>['reason']
export type ModelChangeListener = (
  projectId: number,
  change: { reason: ModelChangeReason; version: { id: number; name: string } },
) => void

/** A version a training job produced; its files are in the blob store already. */
export interface NewModelVersion {
  projectId: number
  jobId: number
  /** The version the job fine-tuned (the job's base). */
  parentId: number | null
  /** The name the worker was told (LeasedJob.resultName); nextName() when absent. */
  name?: string
  /** The uploaded card's text (kept byte for byte), or the parsed card. */
  card: ModelCard | string
  /** The uploaded files by artefact name; a 'card' entry is left out (cardJson holds it). */
  files: Record<string, VersionFile>
  metrics: Record<string, unknown>
  trainingSet: { images: number; objects: number; hash: string | null }
  triggeredBy: number | null
}

export class ModelVersions {
  private readonly bases: BaseVersionRegistration

  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    /** Told after a promotion, a rollback or a new candidate has committed; must not throw. */
    private readonly onChange?: ModelChangeListener,
  ) {
    this.bases = new BaseVersionRegistration(db, blobs)
  }

  /** Registers the shipped folders of modelsDir as base versions (see baseVersions.ts). */
  registerBaseVersions(modelsDir: string): Promise<ModelVersionRow[]> {
    return this.bases.register(modelsDir)
  }

  /** Resolves once the last registerBaseVersions call is done (routes wait for it). */
  whenRegistered(): Promise<void> {
    return this.bases.whenRegistered()
  }

  get(id: number): ModelVersionRow | null {
    return getVersion(this.db, id)
  }

  /** The version if it belongs to the project or is a base version, else null. */
  visibleTo(projectId: number, id: number): ModelVersionRow | null {
    const row = this.get(id)
    return row && (row.projectId === null || row.projectId === projectId) ? row : null
  }

  private visibleOr404(projectId: number, id: number): ModelVersionRow {
    const row = this.visibleTo(projectId, id)
    if (!row) throw new HttpError(404, `This project has no model version ${id}`)
    return row
  }

  /** The base a project without a version of its own uses: the newest registered. */
  defaultBase(): ModelVersionRow | null {
    return selectVersion(
      this.db,
      'SELECT * FROM model_versions WHERE project_id IS NULL ORDER BY created_at DESC, id DESC LIMIT 1',
    )
  }

  /** The version the project's browsers load. */
  currentFor(projectId: number): ModelVersionRow {
    const project = this.db
      .prepare('SELECT model_version_id FROM projects WHERE id = ?')
      .get(projectId) as { model_version_id: number | null } | undefined
    if (!project) throw new HttpError(404, `No project ${projectId}`)
    const own = project.model_version_id === null ? null : this.get(project.model_version_id)
    const current = own ?? this.defaultBase()
    if (!current) throw new HttpError(404, 'This server has no model version yet')
    return current
  }

  currentModel(projectId: number): CurrentModel {
    return toCurrentModel(projectId, this.currentFor(projectId))
  }

  /** The base versions and the project's, newest first. */
  list(projectId: number): ModelVersionListBody {
    return listVersions(this.db, projectId, this.currentFor(projectId).id)
  }

  /** One file of a version the project may see, with a download name; 404 otherwise. */
  async readFile(
    projectId: number,
    versionId: number,
    file: string,
  ): Promise<{ bytes: Buffer; sha256: string; fileName: string }> {
    const version = this.visibleOr404(projectId, versionId)
    if (!isArtifactName(file)) throw notAnArtifact(404, file)
    const stored = versionFiles(version)[file]
    if (!stored) throw new HttpError(404, `Model ${version.name} has no ${file} file`)
    const bytes =
      file === 'card' ? Buffer.from(version.cardJson) : await this.blobs.get(stored.sha256)
    const project = this.db.prepare('SELECT name FROM projects WHERE id = ?').get(projectId) as
      | { name: string }
      | undefined
    const fileName = modelFileName({ id: projectId, name: project?.name }, version, file)
    return { bytes, sha256: stored.sha256, fileName }
  }

  /** 'v1', 'v2', …: one more than the largest vN of the project and the base versions. */
  nextName(projectId: number): string {
    const names = this.db
      .prepare('SELECT name FROM model_versions WHERE project_id = ? OR project_id IS NULL')
      .all(projectId) as { name: string }[]
    let largest = 0
    for (const { name } of names) {
      const match = PROJECT_VERSION_NAME.exec(name)
      if (match) largest = Math.max(largest, Number(match[1]))
    }
    return `v${largest + 1}`
  }

  /**
   * Adds a job's result as a candidate of its project. Synchronous: it runs inside the queue's
   * completion transaction. A job makes at most one version; calling again returns that one.
   */
  createFromJob(input: NewModelVersion): ModelVersionRow {
    const existing = selectVersion(
      this.db,
      'SELECT * FROM model_versions WHERE job_id = ?',
      input.jobId,
    )
    if (existing) return existing
    const cardJson =
      typeof input.card === 'string' ? input.card : `${JSON.stringify(input.card, null, 2)}\n`
    parseModelCard(cardJson)
    const files: Record<string, VersionFile> = {}
    for (const [name, file] of Object.entries(input.files)) {
      if (name !== 'card') files[name] = { sha256: file.sha256, bytes: file.bytes }
    }
    for (const required of ['encoder', 'decoder'] as const) {
      if (!files[required]) throw new HttpError(400, `A model version needs its ${required} file`)
    }
    if (input.parentId !== null && !this.visibleTo(input.projectId, input.parentId))
      throw new HttpError(400, `Model version ${input.parentId} is not this project's`)
    const name = input.name ?? this.nextName(input.projectId)
    const taken = this.db
      .prepare('SELECT 1 FROM model_versions WHERE project_id = ? AND name = ?')
      .get(input.projectId, name)
    if (taken) throw new HttpError(409, `The project has a model version ${name} already`)
    const row = insertVersion(this.db, {
      projectId: input.projectId,
      name,
      parentId: input.parentId,
      state: 'candidate',
      cardJson,
      files,
      metrics: input.metrics,
      trainingSet: input.trainingSet,
      jobId: input.jobId,
      triggeredBy: input.triggeredBy,
    })
    this.notify(input.projectId, 'candidate', row, () => this.get(row.id) !== null)
    return row
  }

  /**
   * Makes a version the project's current one: the version it replaces (if the project's own)
   * is retired, and the change is recorded in model_promotions. Promoting the current one does
   * nothing. Synchronous, so that auto-promotion can run inside the completion transaction.
   */
  promote(
    projectId: number,
    versionId: number,
    reason: PromotionReason,
    byUser: number | null,
  ): ModelVersionRow {
    const version = this.db.transaction(() => {
      const target = this.visibleOr404(projectId, versionId)
      if (this.currentFor(projectId).id === target.id) return null
      this.makeCurrent(projectId, target, reason, byUser)
      return target
    })()
    if (!version) return this.currentFor(projectId)
    return this.announceCurrent(projectId, reason, version)
  }

  /** Back to the version that was current before the present one; 409 when there is none. */
  rollback(projectId: number, byUser: number | null): ModelVersionRow {
    const version = this.db.transaction(() => {
      const current = this.currentFor(projectId)
      const target = rollbackTarget(this.db, projectId, current.id, (id) =>
        id === null ? this.defaultBase() : this.visibleTo(projectId, id),
      )
      if (!target)
        throw new HttpError(
          409,
          `Nothing to roll back to: ${current.name} is the first model version this project used`,
        )
      this.makeCurrent(projectId, target, 'rolled-back', byUser)
      return target
    })()
    return this.announceCurrent(projectId, 'rolled-back', version)
  }

  /** Tells listeners of a version made current (once committed) and returns it as stored now. */
  private announceCurrent(
    projectId: number,
    reason: PromotionReason,
    version: ModelVersionRow,
  ): ModelVersionRow {
    this.notify(
      projectId,
      reason === 'rolled-back' ? 'rolled-back' : 'promoted',
      version,
      () => this.currentFor(projectId).id === version.id,
    )
    return this.get(version.id)!
  }

  private makeCurrent(
    projectId: number,
    version: ModelVersionRow,
    reason: PromotionReason,
    byUser: number | null,
  ): void {
    const defaultBaseId = this.defaultBase()?.id
    recordPromotion(this.db, projectId, version, { reason, byUser, defaultBaseId })
  }

  /**
   * Whether a job's result becomes current by itself. Only when nobody changed the project's
   * current version while the job ran (it is still the version the job fine-tuned), and the new
   * version is not worse on the same validation images: automatic AP50 at least the base's and
   * clicks to reach IoU 0.85 (NoC85) at most the base's. Anything else waits for an owner.
   */
  shouldAutoPromote(
    projectId: number,
    baseVersionId: number,
    metrics: { validation: EvaluationMetrics; baseValidation: EvaluationMetrics },
  ): boolean {
    return this.currentFor(projectId).id === baseVersionId && isNotWorse(metrics)
  }

  /** One uploaded file of a version, checked against the default base's card (modelUploads.ts). */
  validateUpload(name: string, bytes: Buffer, maxBytes: number): Promise<void> {
    return validateUpload(name, bytes, maxBytes, () => this.defaultBase())
  }

  /** A finished version's card against its uploaded files (modelUploads.ts). */
  validateVersionFiles(card: ModelCard, files: Record<string, VersionFile>): Promise<void> {
    return validateVersionFiles(card, files, this.blobs)
  }

  private notify(
    projectId: number,
    reason: ModelChangeReason,
    version: ModelVersionRow,
    stillTrue: () => boolean,
  ): void {
    const listener = this.onChange
    if (!listener) return
    const emit = () => {
      if (stillTrue())
        listener(projectId, { reason, version: { id: version.id, name: version.name } })
    }
    // Inside a transaction (job completion), tell only once it committed: a microtask runs after
    // the synchronous transaction returned, and stillTrue() sees whether it was rolled back.
    if (this.db.inTransaction) queueMicrotask(emit)
    else emit()
  }
}
