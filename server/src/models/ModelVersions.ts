// Model versions as project data (ARCHITECTURE decisions 5 and 7): cards in SQLite, files in the
// blob store by sha256. The shipped folders (models/v0) become global base versions; each project
// has one current version, moved only by promote and rollback. A version's files never change.
import fs from 'node:fs'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import type { z } from 'zod'
import { type CurrentModel, ModelCard } from '../../../shared/schemas/modelCard.ts'
import {
  ARTIFACT_NAMES,
  type ArtifactName,
  type EvaluationMetrics,
  type ModelVersionInfo,
  type ModelVersionList,
  type ProjectEvent,
} from '../../../shared/schemas/training.ts'
import { type BlobStore, sha256Hex } from '../blobs/BlobStore.ts'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'

export const DEFAULT_MODELS_DIR = path.resolve(import.meta.dirname, '../../../models')

/** Base version folders are named like versions; nothing else in modelsDir is read. */
const VERSION_FOLDER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const PROJECT_VERSION_NAME = /^v(\d+)$/
/** What a PyTorch zip checkpoint (torch.save since 1.6) starts with. */
const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1')
const EXTENSIONS: Record<ArtifactName, string> = {
  encoder: '.onnx',
  decoder: '.onnx',
  parity: '.json',
  card: '.json',
  checkpoint: '.pt',
}

export type ModelVersionState = 'candidate' | 'current' | 'retired'
export type PromotionReason = 'promoted' | 'rolled-back' | 'automatic'
export type ModelChangeReason = Extract<ProjectEvent, { type: 'model' }>['reason']
export type ModelChangeListener = (
  projectId: number,
  change: { reason: ModelChangeReason; version: { id: number; name: string } },
) => void

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

type ModelVersionListBody = z.infer<typeof ModelVersionList>

interface VersionRecord {
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

function fromRecord(record: VersionRecord): ModelVersionRow {
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

export const modelFileUrl = (projectId: number, versionId: number, file: ArtifactName) =>
  `/api/projects/${projectId}/models/${versionId}/files/${file}`

export class ModelVersions {
  private registration: Promise<void> = Promise.resolve()

  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    /** Told after a promotion, a rollback or a new candidate has committed; must not throw. */
    private readonly onChange?: ModelChangeListener,
  ) {}

  /**
   * Registers each sub-folder of modelsDir holding a card.json as a base version, once: a folder
   * whose name and encoder are registered already is skipped. Returns the versions it added.
   */
  registerBaseVersions(modelsDir: string): Promise<ModelVersionRow[]> {
    const run = this.registerFolders(modelsDir)
    this.registration = run.then(() => undefined)
    // Whoever awaits whenRegistered() sees a failure; the caller of this handles it too.
    this.registration.catch(() => {})
    return run
  }

  /** Resolves once the last registerBaseVersions call is done (routes wait for it). */
  whenRegistered(): Promise<void> {
    return this.registration
  }

  private async registerFolders(modelsDir: string): Promise<ModelVersionRow[]> {
    if (!fs.existsSync(modelsDir)) return []
    const folders = fs
      .readdirSync(modelsDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && VERSION_FOLDER.test(entry.name))
      .map((entry) => entry.name)
      .filter((name) => fs.existsSync(path.join(modelsDir, name, 'card.json')))
      .sort()
    const added: ModelVersionRow[] = []
    for (const folder of folders) {
      const row = await this.registerFolder(path.join(modelsDir, folder), folder)
      if (row) added.push(row)
    }
    return added
  }

  private async registerFolder(dir: string, folder: string): Promise<ModelVersionRow | null> {
    const cardJson = await fs.promises.readFile(path.join(dir, 'card.json'), 'utf8')
    const card = parseModelCard(cardJson, `model card ${path.join(dir, 'card.json')}`)
    const createdAt = Date.parse(card.createdAt)
    if (Number.isNaN(createdAt))
      throw new Error(`${dir}/card.json: createdAt ${card.createdAt} is not a date`)
    const read = async (name: string, info: { path: string; sha256: string }) => {
      if (path.basename(info.path) !== info.path)
        throw new Error(`${dir}/card.json: file ${name} must be in the folder, not ${info.path}`)
      const bytes = await fs.promises.readFile(path.join(dir, info.path))
      const sha256 = sha256Hex(bytes)
      if (sha256 !== info.sha256)
        throw new Error(`${dir}/${info.path}: sha256 ${sha256} is not the card's ${info.sha256}`)
      return bytes
    }
    const encoder = await read('encoder', card.files.encoder)
    if (this.findBase(folder, card.files.encoder.sha256).existing) return null

    const files: Record<string, VersionFile> = {}
    for (const [name, info] of Object.entries(card.files)) {
      if (!info || name === 'card') continue
      const bytes = name === 'encoder' ? encoder : await read(name, info)
      await this.blobs.put(bytes, info.sha256)
      files[name] = { sha256: info.sha256, bytes: bytes.length }
    }
    // Checked again under the write lock: another process may have registered it meanwhile.
    return this.db
      .transaction(() => {
        const { existing, name } = this.findBase(folder, card.files.encoder.sha256)
        if (existing) return null
        const parent = card.parentVersion
          ? (this.db
              .prepare(
                'SELECT id FROM model_versions WHERE project_id IS NULL AND name = ? ORDER BY id DESC LIMIT 1',
              )
              .get(card.parentVersion) as { id: number } | undefined)
          : undefined
        const { lastInsertRowid } = this.db
          .prepare(
            `INSERT INTO model_versions (project_id, name, parent_id, state, card_json, files_json,
             metrics_json, created_at)
           VALUES (NULL, ?, ?, 'current', ?, ?, ?, ?)`,
          )
          .run(
            name,
            parent?.id ?? null,
            cardJson,
            JSON.stringify(files),
            JSON.stringify(card.metrics),
            new Date(createdAt).toISOString(),
          )
        return this.get(Number(lastInsertRowid))
      })
      .immediate()
  }

  /**
   * The base registered from `folder` with this encoder, if any, and the name a new one gets: the
   * folder's, or (when a different model holds that name) the folder's plus the encoder's hash.
   */
  private findBase(folder: string, encoderSha256: string) {
    const alternative = `${folder}-${encoderSha256.slice(0, 8)}`
    const rows = (
      this.db
        .prepare('SELECT * FROM model_versions WHERE project_id IS NULL AND name IN (?, ?)')
        .all(folder, alternative) as VersionRecord[]
    ).map(fromRecord)
    const existing = rows.find((row) => row.files.encoder?.sha256 === encoderSha256) ?? null
    const name = rows.some((row) => row.name === folder) ? alternative : folder
    return { existing, name }
  }

  get(id: number): ModelVersionRow | null {
    const record = this.db.prepare('SELECT * FROM model_versions WHERE id = ?').get(id) as
      | VersionRecord
      | undefined
    return record ? fromRecord(record) : null
  }

  /** The version if it belongs to the project or is a base version, else null. */
  visibleTo(projectId: number, id: number): ModelVersionRow | null {
    const row = this.get(id)
    return row && (row.projectId === null || row.projectId === projectId) ? row : null
  }

  /** The base a project without a version of its own uses: the newest registered. */
  defaultBase(): ModelVersionRow | null {
    const record = this.db
      .prepare(
        'SELECT * FROM model_versions WHERE project_id IS NULL ORDER BY created_at DESC, id DESC LIMIT 1',
      )
      .get() as VersionRecord | undefined
    return record ? fromRecord(record) : null
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
    const current = this.currentFor(projectId)
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
  list(projectId: number): ModelVersionListBody {
    const currentId = this.currentFor(projectId).id
    const records = this.db
      .prepare(
        `SELECT v.*, parent.name AS parent_name, users.username
         FROM model_versions v
         LEFT JOIN model_versions parent ON parent.id = v.parent_id
         LEFT JOIN users ON users.id = v.triggered_by
         WHERE v.project_id IS NULL OR v.project_id = ?
         ORDER BY v.created_at DESC, v.id DESC`,
      )
      .all(projectId) as (VersionRecord & {
      parent_name: string | null
      username: string | null
    })[]
    const versions = records.map((record): ModelVersionInfo => {
      const row = fromRecord(record)
      const files: ModelVersionInfo['files'] = {}
      for (const [name, file] of Object.entries(this.filesOf(row))) {
        files[name] = { ...file, url: modelFileUrl(projectId, row.id, name as ArtifactName) }
      }
      return {
        id: row.id,
        projectId: row.projectId,
        name: row.name,
        parent:
          row.parentId !== null && record.parent_name !== null
            ? { id: row.parentId, name: record.parent_name }
            : null,
        state: row.state,
        isCurrent: row.id === currentId,
        metrics: row.metrics,
        trainingSet: {
          images: row.trainingImages,
          objects: row.trainingObjects,
          hash: row.trainingSetHash,
        },
        jobId: row.jobId,
        triggeredBy:
          row.triggeredBy !== null && record.username !== null
            ? { userId: row.triggeredBy, username: record.username }
            : null,
        createdAt: row.createdAt,
        files,
      }
    })
    return { versions, currentId }
  }

  /** Every file of a version, the card included (its blob key is the hash of card_json). */
  private filesOf(row: ModelVersionRow): Record<string, VersionFile> {
    const card = Buffer.from(row.cardJson)
    return { ...row.files, card: { sha256: sha256Hex(card), bytes: card.length } }
  }

  /** One file of a version the project may see, with a download name; 404 otherwise. */
  async readFile(
    projectId: number,
    versionId: number,
    file: string,
  ): Promise<{ bytes: Buffer; sha256: string; fileName: string }> {
    const version = this.visibleTo(projectId, versionId)
    if (!version) throw new HttpError(404, `This project has no model version ${versionId}`)
    if (!(ARTIFACT_NAMES as readonly string[]).includes(file))
      throw new HttpError(404, `Model files are ${ARTIFACT_NAMES.join(', ')}; not ${file}`)
    const stored = this.filesOf(version)[file]
    if (!stored) throw new HttpError(404, `Model ${version.name} has no ${file} file`)
    const bytes =
      file === 'card' ? Buffer.from(version.cardJson) : await this.blobs.get(stored.sha256)
    const project = this.db.prepare('SELECT name FROM projects WHERE id = ?').get(projectId) as
      | { name: string }
      | undefined
    const slug = (text: string) =>
      text
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, '-')
        .replace(/^[-.]+|-+$/g, '')
        .slice(0, 60)
    const projectPart = slug(project?.name ?? '') || `project-${projectId}`
    const fileName = `${projectPart}-${slug(version.name)}-${file}${EXTENSIONS[file as ArtifactName]}`
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
    const existing = this.db
      .prepare('SELECT * FROM model_versions WHERE job_id = ?')
      .get(input.jobId) as VersionRecord | undefined
    if (existing) return fromRecord(existing)
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
    const { lastInsertRowid } = this.db
      .prepare(
        `INSERT INTO model_versions (project_id, name, parent_id, state, card_json, files_json,
           metrics_json, training_images, training_objects, training_set_hash, job_id, triggered_by)
         VALUES (?, ?, ?, 'candidate', ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        input.projectId,
        name,
        input.parentId,
        cardJson,
        JSON.stringify(files),
        JSON.stringify(input.metrics),
        input.trainingSet.images,
        input.trainingSet.objects,
        input.trainingSet.hash,
        input.jobId,
        input.triggeredBy,
      )
    const row = this.get(Number(lastInsertRowid))!
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
      const target = this.visibleTo(projectId, versionId)
      if (!target) throw new HttpError(404, `This project has no model version ${versionId}`)
      if (this.currentFor(projectId).id === target.id) return null
      this.makeCurrent(projectId, target, reason, byUser)
      return target
    })()
    if (!version) return this.currentFor(projectId)
    this.notify(
      projectId,
      reason === 'rolled-back' ? 'rolled-back' : 'promoted',
      version,
      () => this.currentFor(projectId).id === version.id,
    )
    return this.get(version.id)!
  }

  /** Back to the version that was current before the present one; 409 when there is none. */
  rollback(projectId: number, byUser: number | null): ModelVersionRow {
    const version = this.db.transaction(() => {
      const current = this.currentFor(projectId)
      const target = this.rollbackTarget(projectId, current)
      if (!target)
        throw new HttpError(
          409,
          `Nothing to roll back to: ${current.name} is the first model version this project used`,
        )
      this.makeCurrent(projectId, target, 'rolled-back', byUser)
      return target
    })()
    this.notify(
      projectId,
      'rolled-back',
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
    // NULL follows the default base (a newer shipped base then applies); an older base is named.
    const followsDefaultBase = version.projectId === null && version.id === this.defaultBase()?.id
    this.db
      .prepare('UPDATE projects SET model_version_id = ? WHERE id = ?')
      .run(followsDefaultBase ? null : version.id, projectId)
    this.db
      .prepare(
        "UPDATE model_versions SET state = 'retired' WHERE project_id = ? AND state = 'current' AND id != ?",
      )
      .run(projectId, version.id)
    if (version.projectId !== null)
      this.db.prepare("UPDATE model_versions SET state = 'current' WHERE id = ?").run(version.id)
    this.db
      .prepare(
        'INSERT INTO model_promotions (project_id, version_id, reason, by_user) VALUES (?, ?, ?, ?)',
      )
      .run(projectId, version.id, reason, byUser)
  }

  /**
   * Replays the promotions as a stack of the versions that were current, the default base at the
   * bottom (null): a promotion pushes, a rollback pops. The target is the newest entry below the
   * present version that still exists, so rolling back twice goes back twice.
   */
  private rollbackTarget(projectId: number, current: ModelVersionRow): ModelVersionRow | null {
    const promotions = this.db
      .prepare('SELECT version_id, reason FROM model_promotions WHERE project_id = ? ORDER BY id')
      .all(projectId) as { version_id: number; reason: PromotionReason }[]
    const stack: (number | null)[] = [null]
    for (const promotion of promotions) {
      if (promotion.reason !== 'rolled-back') stack.push(promotion.version_id)
      else if (stack.length > 1) stack.pop()
    }
    while (stack.length > 0) {
      const entry = stack.pop()!
      const version = entry === null ? this.defaultBase() : this.visibleTo(projectId, entry)
      if (version && version.id !== current.id) return version
    }
    return null
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
    if (this.currentFor(projectId).id !== baseVersionId) return false
    const { validation, baseValidation } = metrics
    return (
      validation.auto_ap50 >= baseValidation.auto_ap50 && validation.noc85 <= baseValidation.noc85
    )
  }

  /**
   * Checks one uploaded file of a version by its artefact name: 413 over maxBytes, 400 with the
   * reason when it is not what that name must be (the card's schema, a loadable ONNX graph with
   * the base card's tensor names, a PyTorch zip checkpoint, JSON).
   */
  async validateUpload(name: string, bytes: Buffer, maxBytes: number): Promise<void> {
    if (bytes.length > maxBytes)
      throw new HttpError(
        413,
        `The ${name} file is ${bytes.length} bytes; a model file may be at most ${maxBytes}`,
      )
    switch (name) {
      case 'card':
        parseModelCard(bytes.toString('utf8'), 'uploaded card')
        return
      case 'encoder':
      case 'decoder': {
        const reference = this.defaultBase()
        if (!reference) throw new HttpError(503, 'No base model version is registered')
        const tensors = reference.card[name]
        const graph = await inspectOnnx(bytes, name)
        expectNames(name, 'inputs', graph.inputs, tensors.inputs, `${reference.name}'s card`)
        expectNames(name, 'outputs', graph.outputs, tensors.outputs, `${reference.name}'s card`)
        return
      }
      case 'checkpoint':
        if (bytes.length < 4 || !bytes.subarray(0, 4).equals(ZIP_MAGIC))
          throw new HttpError(
            400,
            'The checkpoint is not a PyTorch zip checkpoint (torch.save writes a zip file)',
          )
        return
      case 'parity':
        try {
          JSON.parse(bytes.toString('utf8'))
        } catch (error) {
          throw new HttpError(400, `The parity file is not JSON: ${(error as Error).message}`)
        }
        return
      default:
        throw new HttpError(400, `Model files are ${ARTIFACT_NAMES.join(', ')}; not ${name}`)
    }
  }

  /**
   * Checks a finished version before it is registered: the card names every uploaded file with
   * its sha256 and size, every file the card names was uploaded, and the card's tensor names and
   * input channels are the ONNX graphs'.
   */
  async validateVersionFiles(card: ModelCard, files: Record<string, VersionFile>): Promise<void> {
    const listed = card.files as Record<string, { sha256: string; bytes: number } | undefined>
    for (const [name, file] of Object.entries(files)) {
      if (name === 'card') continue
      const entry = listed[name]
      if (!entry) throw new HttpError(400, `The card does not list the uploaded ${name} file`)
      if (entry.sha256 !== file.sha256 || entry.bytes !== file.bytes)
        throw new HttpError(
          400,
          `The card's ${name} (sha256 ${entry.sha256}, ${entry.bytes} bytes) is not the uploaded file (${file.sha256}, ${file.bytes} bytes)`,
        )
    }
    for (const name of Object.keys(listed)) {
      if ((ARTIFACT_NAMES as readonly string[]).includes(name) && !files[name])
        throw new HttpError(400, `The card lists a ${name} file that was not uploaded`)
    }
    for (const name of ['encoder', 'decoder'] as const) {
      const graph = await inspectOnnx(await this.blobs.get(files[name]!.sha256), name)
      expectNames(name, 'inputs', graph.inputs, card[name].inputs, 'the card')
      expectNames(name, 'outputs', graph.outputs, card[name].outputs, 'the card')
      if (name === 'encoder') {
        const channels = graph.inputs[0]?.shape[1]
        if (typeof channels === 'number' && channels !== card.input.channels)
          throw new HttpError(
            400,
            `The encoder takes ${channels} channels; the card's input.channels is ${card.input.channels}`,
          )
      }
    }
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

interface Tensor {
  name: string
  shape: readonly (number | string)[]
}

/** Loads an ONNX graph in onnxruntime-node and returns its input and output tensors. */
async function inspectOnnx(
  bytes: Uint8Array,
  name: string,
): Promise<{ inputs: Tensor[]; outputs: Tensor[] }> {
  let session: ort.InferenceSession
  try {
    // A copy: onnxruntime reads the whole underlying buffer of a pooled Buffer.
    session = await ort.InferenceSession.create(new Uint8Array(bytes))
  } catch (error) {
    throw new HttpError(
      400,
      `The ${name} is not an ONNX model onnxruntime can load: ${(error as Error).message}`,
    )
  }
  try {
    const tensors = (metadata: readonly ort.InferenceSession.ValueMetadata[]) =>
      metadata.map((value) => ({
        name: value.name,
        shape: value.isTensor ? value.shape : [],
      }))
    return { inputs: tensors(session.inputMetadata), outputs: tensors(session.outputMetadata) }
  } finally {
    await session.release()
  }
}

function expectNames(
  file: string,
  kind: 'inputs' | 'outputs',
  actual: readonly { name: string }[],
  expected: readonly { name: string }[],
  source: string,
): void {
  const names = (tensors: readonly { name: string }[]) =>
    tensors.map((tensor) => tensor.name).sort()
  const got = names(actual)
  const want = names(expected)
  if (got.join('\n') !== want.join('\n'))
    throw new HttpError(
      400,
      `The ${file}'s ${kind} are ${got.join(', ') || 'none'}; ${source} lists ${want.join(', ') || 'none'}`,
    )
}
