// The learning loop's wire shapes (ARCHITECTURE decision 7): training jobs and model versions as
// the app's API returns them, the project live channel's events, and the worker protocol that
// `python -m tessera_trainer work` speaks (trainer/tessera_trainer/worker.py mirrors it).
import { z } from 'zod'
import { ImageScore, Strategy, SuggestionCounts } from './activeLearning.ts'
import { CurrentModel, ModelCard, Polarity } from './modelCard.ts'
import { FeedbackEvent, FrameSummary, StreamCounters, StreamInfo } from './streams.ts'

export const JobState = z.enum(['queued', 'leased', 'running', 'succeeded', 'failed', 'cancelled'])
export type JobState = z.infer<typeof JobState>
export const ACTIVE_JOB_STATES: readonly JobState[] = ['queued', 'leased', 'running']

/** What the worker is doing; each phase's seconds are reported on completion. */
export const TrainingPhase = z.enum(['download', 'train', 'evaluate', 'export', 'score', 'upload'])
export type TrainingPhase = z.infer<typeof TrainingPhase>

/** Metrics of a model on a set of labelled images (keys as the trainer's evaluate writes them). */
export const EvaluationMetrics = z
  .object({
    n_images: z.number().int().nonnegative(),
    n_objects: z.number().int().nonnegative(),
    auto_ap50: z.number(),
    auto_mean_matched_iou: z.number().optional(),
    noc85: z.number(),
    noc90: z.number().optional(),
    iou_at_1click: z.number().optional(),
    foreground_iou: z.number().optional(),
  })
  .passthrough()
export type EvaluationMetrics = z.infer<typeof EvaluationMetrics>

/** A training job's budget and recipe; every field has a server default. */
export const TrainingConfig = z.object({
  /** Wall-clock budget of the training phase. */
  minutes: z
    .number()
    .positive()
    .max(24 * 60),
  /** Most optimiser steps (the budget ends training at whichever comes first). */
  maxSteps: z.number().int().positive().max(1_000_000),
  batchSize: z.number().int().positive().max(256).default(8),
  cropSize: z.number().int().min(32).max(1024).default(128),
  learningRate: z.number().positive().max(1).default(1e-3),
  /** Share of the images held out for validation (at least one image when there are two). */
  validationFraction: z.number().min(0).max(0.5).default(0.2),
  seed: z.number().int().nonnegative().default(0),
})
export type TrainingConfig = z.infer<typeof TrainingConfig>

/** What a frozen training set holds, and what the documents held that it could not use. */
export const TrainingSetSummary = z.object({
  images: z.number().int().nonnegative(),
  objects: z.number().int().nonnegative(),
  /** Annotations that are not instance masks (boxes, points, polylines), by kind. */
  skipped: z.record(z.string(), z.number().int().nonnegative()),
  /** Suggestions nobody accepted (pending or rejected) are never trained on. */
  suggestionsLeftOut: z.number().int().nonnegative(),
  hash: z.string(),
})
export type TrainingSetSummary = z.infer<typeof TrainingSetSummary>

/** The latest progress a worker reported. */
export const JobProgress = z.object({
  phase: TrainingPhase,
  step: z.number().int().nonnegative(),
  totalSteps: z.number().int().nonnegative(),
  loss: z.number().nullable(),
  validation: z.record(z.string(), z.number()).nullable(),
  etaSeconds: z.number().nonnegative().nullable(),
})
export type JobProgress = z.infer<typeof JobProgress>

/** One point of the loss / validation chart. */
export const JobHistoryPoint = z.object({
  step: z.number().int().nonnegative(),
  seconds: z.number().nonnegative(),
  loss: z.number().nullable(),
  validationLoss: z.number().nullable().optional(),
})
export type JobHistoryPoint = z.infer<typeof JobHistoryPoint>

export const TrainingJob = z.object({
  id: z.number().int(),
  projectId: z.number().int(),
  kind: z.literal('train'),
  state: JobState,
  attempt: z.number().int().nonnegative(),
  maxAttempts: z.number().int().positive(),
  config: TrainingConfig,
  baseVersion: z.object({ id: z.number().int(), name: z.string() }),
  trainingSet: TrainingSetSummary,
  progress: JobProgress.nullable(),
  history: z.array(JobHistoryPoint),
  logTail: z.string(),
  error: z.string().nullable(),
  resultVersion: z.object({ id: z.number().int(), name: z.string() }).nullable(),
  /** Seconds per phase as the worker reported them on completion, plus queue wait. */
  timings: z.record(z.string(), z.number()).nullable(),
  cancelRequested: z.boolean(),
  triggeredBy: z.object({ userId: z.number().int(), username: z.string() }).nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
})
export type TrainingJob = z.infer<typeof TrainingJob>
export const TrainingJobList = z.object({ jobs: z.array(TrainingJob) })

export const CreateTrainingJobBody = z.object({
  minutes: z
    .number()
    .positive()
    .max(24 * 60)
    .optional(),
  maxSteps: z.number().int().positive().max(1_000_000).optional(),
})

/** What pressing Train would train on, said before it is pressed. */
export const TrainingPreview = z.object({
  images: z.number().int().nonnegative(),
  objects: z.number().int().nonnegative(),
  /** Done or reviewed images that the current version was not trained on. */
  newSinceCurrent: z.number().int().nonnegative(),
  currentVersion: z.object({ id: z.number().int(), name: z.string() }),
  activeJob: z.number().int().nullable(),
})
export type TrainingPreview = z.infer<typeof TrainingPreview>

export const TrainingSettings = z.object({
  /** Queue a training job every time this many more images are done (null: only by hand). */
  autoTrainEvery: z.number().int().positive().max(100_000).nullable(),
})
export type TrainingSettings = z.infer<typeof TrainingSettings>

export const ModelVersionState = z.enum(['candidate', 'current', 'retired'])
export const ModelVersionInfo = z.object({
  id: z.number().int(),
  /** null for a base version shipped with the app (shared by every project). */
  projectId: z.number().int().nullable(),
  name: z.string(),
  parent: z.object({ id: z.number().int(), name: z.string() }).nullable(),
  state: ModelVersionState,
  /** Whether this project's browsers load this version now. */
  isCurrent: z.boolean(),
  /** Which way the version reads images (its card's input.polarity). */
  polarity: Polarity.default('bright'),
  metrics: z.record(z.string(), z.unknown()),
  /** How people answered this version's suggestions and what its click masks cost. */
  suggestions: SuggestionCounts.optional(),
  trainingSet: z.object({
    images: z.number().int(),
    objects: z.number().int(),
    hash: z.string().nullable(),
  }),
  jobId: z.number().int().nullable(),
  triggeredBy: z.object({ userId: z.number().int(), username: z.string() }).nullable(),
  createdAt: z.string(),
  files: z.record(
    z.string(),
    z.object({ sha256: z.string(), bytes: z.number().int(), url: z.string() }),
  ),
})
export type ModelVersionInfo = z.infer<typeof ModelVersionInfo>
export const ModelVersionList = z.object({
  versions: z.array(ModelVersionInfo),
  currentId: z.number().int(),
})

/** Events of the project live channel (GET /api/projects/:id/events, server-sent events). */
export const ProjectEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('job'), job: TrainingJob }),
  z.object({
    type: z.literal('model'),
    reason: z.enum(['promoted', 'rolled-back', 'candidate']),
    version: z.object({ id: z.number().int(), name: z.string() }),
    /** The project's current model after the change (what editors load). */
    current: CurrentModel,
  }),
  /** A dataset export's progress, for the caller that chose `exportId` (ExportQuery.progress). */
  z.object({
    type: z.literal('export-progress'),
    exportId: z.string(),
    done: z.number().int(),
    total: z.number().int(),
    finished: z.boolean(),
  }),
  /** Instrument streams: processed frames, batched (at most ~5 a second per stream). */
  z.object({
    type: z.literal('stream-frames'),
    streamId: z.number().int(),
    frames: z.array(FrameSummary),
    counters: StreamCounters,
  }),
  /** A feedback event as it was sent to the instrument. */
  z.object({ type: z.literal('stream-event'), event: FeedbackEvent }),
  /** A stream was created, changed or deleted (stream null), or a series started or ended. */
  z.object({
    type: z.literal('stream'),
    streamId: z.number().int(),
    stream: StreamInfo.nullable(),
  }),
])
export type ProjectEvent = z.infer<typeof ProjectEvent>

// ── Worker protocol (bearer worker token; /api/worker/…) ─────────────────────────────────────

export const WorkerInfo = z.object({
  name: z.string().max(200),
  device: z.string().max(100),
  host: z.string().max(200).optional(),
})

export const LeaseRequest = z.object({
  /** Long poll: wait up to this many seconds for a job. */
  waitSeconds: z.number().min(0).max(60).default(20),
  worker: WorkerInfo,
})

/** A leased job: everything a worker needs, with URLs relative to the server. */
export const LeasedJob = z.object({
  id: z.number().int(),
  projectId: z.number().int(),
  attempt: z.number().int().positive(),
  leaseSeconds: z.number().positive(),
  heartbeatSeconds: z.number().positive(),
  config: TrainingConfig,
  base: z.object({
    id: z.number().int(),
    name: z.string(),
    card: ModelCard,
    /** PyTorch weights to fine-tune from (checkpoint.pt). */
    checkpoint: z.object({ url: z.string(), sha256: z.string() }),
  }),
  /** First page of the frozen training set. */
  dataset: z.string(),
  /** A checkpoint an earlier attempt uploaded: resume from it rather than restart. */
  resume: z.object({ url: z.string(), sha256: z.string() }).nullable(),
  /** The version name the result will get (the trainer writes it into the card). */
  resultName: z.string(),
  /**
   * Active learning: the first page of the project's images nobody has finished (PoolPage), to
   * score with the new version by the project's strategy and upload as the 'scores' file. Null
   * when there is nothing to score.
   */
  pool: z.string().nullable().default(null),
  scoring: z.object({ strategy: Strategy }).nullable().default(null),
})
export type LeasedJob = z.infer<typeof LeasedJob>

/** One image to score: its raw samples as stored, like a training set item without labels. */
export const PoolItem = z.object({
  imageId: z.number().int(),
  name: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  channels: z.number().int().min(1).max(4),
  dtype: z.enum(['uint8', 'uint16', 'float32']),
  samples: z.object({ url: z.string(), sha256: z.string(), bytes: z.number().int() }),
})
export type PoolItem = z.infer<typeof PoolItem>
export const PoolPage = z.object({
  items: z.array(PoolItem),
  total: z.number().int().nonnegative(),
  next: z.string().nullable(),
})
export type PoolPage = z.infer<typeof PoolPage>

/**
 * The 'scores' file a worker uploads with a version: every pool image's score and rank under the
 * strategy (rank 1 = label first; a batch strategy such as 'diverse' sets the order itself).
 */
export const ScoresFile = z.object({
  strategy: Strategy,
  /** The version that scored them (the job's resultName). */
  version: z.string(),
  items: z.array(ImageScore).max(1_000_000),
  seconds: z.number().nonnegative(),
})
export type ScoresFile = z.infer<typeof ScoresFile>
export const LeaseResponse = z.object({ job: LeasedJob.nullable() })

/** One image of a frozen training set, as the trainer reads it. */
export const DatasetItem = z.object({
  imageId: z.number().int(),
  name: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  channels: z.number().int().min(1).max(4),
  dtype: z.enum(['uint8', 'uint16', 'float32']),
  /** Raw samples exactly as stored: little-endian, interleaved (row-major, channels last). */
  samples: z.object({ url: z.string(), sha256: z.string(), bytes: z.number().int() }),
  /** Instance labels: uint16 little-endian, row-major, 0 = background, 1..N = instances. */
  labels: z.object({ url: z.string(), sha256: z.string(), bytes: z.number().int() }),
  /** The class of each instance, by label value. */
  instances: z.array(z.object({ label: z.number().int().positive(), classId: z.number().int() })),
  /** sha256 of the document's state vector when the set was frozen. */
  documentHash: z.string(),
})
export type DatasetItem = z.infer<typeof DatasetItem>
export const DatasetPage = z.object({
  items: z.array(DatasetItem),
  total: z.number().int().nonnegative(),
  next: z.string().nullable(),
  classes: z.array(z.object({ id: z.number().int(), name: z.string() })),
})
export type DatasetPage = z.infer<typeof DatasetPage>

export const HeartbeatBody = z.object({
  attempt: z.number().int().positive(),
  progress: JobProgress,
  /** Points of the chart since the last heartbeat. */
  history: z.array(JobHistoryPoint).max(1000).default([]),
  /** Log lines since the last heartbeat. */
  log: z.array(z.string().max(2000)).max(500).default([]),
})
export const HeartbeatResponse = z.object({
  /** Stop now: the job was cancelled (or the lease is no longer this worker's). */
  cancel: z.boolean(),
  leaseSeconds: z.number().positive(),
})

export const CompleteBody = z.object({
  attempt: z.number().int().positive(),
  /** The new version's metrics and the base version's on the same validation images. */
  metrics: z.object({ validation: EvaluationMetrics, baseValidation: EvaluationMetrics }),
  /** Seconds per phase (download, train, evaluate, export, upload). */
  timings: z.record(z.string(), z.number().nonnegative()),
  log: z.array(z.string().max(2000)).max(500).default([]),
})
export const CompleteResponse = z.object({
  version: z.object({ id: z.number().int(), name: z.string() }),
  promoted: z.boolean(),
})

export const FailBody = z.object({
  attempt: z.number().int().positive(),
  error: z.string().max(10_000),
  log: z.array(z.string().max(2000)).max(500).default([]),
  /** false when retrying cannot help (bad data); the job fails at once. */
  retry: z.boolean().default(true),
})

/** Files a worker uploads before completing (PUT /api/worker/jobs/:id/files/:name?attempt=N). */
export const ARTIFACT_NAMES = [
  'encoder',
  'decoder',
  'card',
  'checkpoint',
  'parity',
  'scores',
] as const
export type ArtifactName = (typeof ARTIFACT_NAMES)[number]
export const REQUIRED_ARTIFACTS: readonly ArtifactName[] = [
  'encoder',
  'decoder',
  'card',
  'checkpoint',
]

export const WorkerTokenInfo = z.object({
  id: z.number().int(),
  name: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
})
export const WorkerTokenList = z.object({ tokens: z.array(WorkerTokenInfo) })
export const CreatedWorkerToken = WorkerTokenInfo.extend({ token: z.string() })
