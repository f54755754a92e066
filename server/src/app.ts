// Builds the Tessera server from a Config: database, blob store, access control and every
// module's routes. No module-level singletons: everything a module needs comes from AppContext.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import express from 'express'
import { z } from 'zod'
import { createAccessControl } from './auth/accessControl.ts'
import { registerAuthRoutes } from './auth/routes.ts'
import { ensureAdmin } from './auth/users.ts'
import { type BlobStore, FileBlobStore } from './blobs/BlobStore.ts'
import {
  AccessCheck,
  CollabServer,
  DocumentPolicy,
  ImageIndexing,
  Persistence,
  Presence,
  registerCollabRoutes,
  SqliteDocumentStore,
  SuggestionOutcomes,
} from './collab/index.ts'
import type { Config } from './config.ts'
import { type Db, openDatabase } from './db/database.ts'
import { registerExportRoutes } from './export/index.ts'
import { ApiRouter } from './http/ApiRouter.ts'
import { errorMiddleware } from './http/errorMiddleware.ts'
import { HttpError } from './http/HttpError.ts'
import { registerImageRoutes } from './images/routes.ts'
import { registerImportRoutes } from './imports/index.ts'
import { SqliteJobQueue } from './jobs/SqliteJobQueue.ts'
import { registerLearningRoutes } from './learning/index.ts'
import { ProjectEvents } from './live/ProjectEvents.ts'
import { createLogger, type Logger } from './logger.ts'
import { DEFAULT_MODELS_DIR, ModelVersions } from './models/ModelVersions.ts'
import { registerModelRoutes } from './models/routes.ts'
import { registerProjectRoutes } from './projects/routes.ts'
import { keepFrame, registerStreamRoutes, StreamHub, StreamSockets } from './streams/index.ts'
import { createFrameAnalyzerPool } from './streams/inference/FrameAnalyzerPool.ts'
import { registerTrainingRoutes } from './training/routes.ts'
import { TrainingService } from './training/TrainingService.ts'
import { WorkerJobs } from './training/WorkerJobs.ts'
import { registerWorkerRoutes } from './workers/routes.ts'
import { authenticateWorker } from './workers/workerTokens.ts'

export interface AppContext {
  config: Config
  db: Db
  blobs: BlobStore
  log: Logger
  /** Called after images were deleted (their live documents are dropped). */
  imagesDeleted(imageIds: number[]): void
  /** Called after a project was deleted (its instrument streams' sockets are closed). */
  projectDeleted(projectId: number): void
  /**
   * Called after who may do what changed (a membership, a role, an account disabled or its
   * password changed): open collaboration connections of that user or project are checked again.
   */
  accessChanged(change: { userId?: number; projectId?: number }): void
  /** Whether start-up work (the demo project) is done; /api/health says ready only then. */
  ready: boolean
}

export interface TesseraApp {
  app: express.Express
  context: AppContext
  /** The y-websocket endpoint; server.ts hands it the HTTP upgrades. */
  collab: CollabServer
  /** The instrument stream sockets (/streams/…); server.ts hands them their HTTP upgrades. */
  streams: StreamSockets
  /** Password generated for `admin` on first start when none was configured, else null. */
  generatedAdminPassword: string | null
  /** Resolves when the shipped base model versions are registered (start-up waits for it). */
  initialized: Promise<void>
  /** Closes collaboration (flushing documents) and then the database. */
  close(): Promise<void>
}

export const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
}

/** onnxruntime-web's dist folder (its main export for Node lives there too). */
const ORT_WASM_DIR = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'))
const ORT_WASM_FILE = /^\/ort-wasm-simd-threaded(\.jsep)?\.(mjs|wasm)$/

export function createApp(config: Config): TesseraApp {
  const log = createLogger(config.logLevel)
  fs.mkdirSync(config.dataDir, { recursive: true })
  const db = openDatabase(path.join(config.dataDir, 'tessera.sqlite'))
  const blobs = new FileBlobStore(path.join(config.dataDir, 'blobs'))
  let collab: CollabServer | null = null
  let events: ProjectEvents | null = null
  let streamSockets: StreamSockets | null = null
  let streamHub: StreamHub | null = null
  const context: AppContext = {
    config,
    db,
    blobs,
    log,
    imagesDeleted: (ids) => {
      for (const id of ids) collab?.discardImage(id)
    },
    projectDeleted: (projectId) => {
      streamHub?.projectDeleted(projectId)
    },
    accessChanged: (change) => {
      collab?.refreshAccess(change)
      events?.refreshAccess(change)
      streamSockets?.refreshAccess(change)
    },
    ready: false,
  }
  const generatedAdminPassword = ensureAdmin(db, config.adminPassword)

  const access = createAccessControl(db)
  const accessCheck = new AccessCheck({
    db,
    access,
    log,
    publicUrl: config.publicUrl,
    allowedOrigins: config.allowedOrigins,
  })
  collab = new CollabServer({
    log,
    maxMessageBytes: config.maxMessageBytes,
    // In this order: who may connect, the stored document, the guard that repairs what a
    // connection may not change, then the index and presence derived from the result.
    extensions: [
      accessCheck,
      new Persistence({
        store: new SqliteDocumentStore(db),
        log,
        maxDocBytes: config.maxDocBytes,
        compactAfterUpdates: config.compactAfterUpdates,
      }),
      new DocumentPolicy(log),
      new SuggestionOutcomes(db, log),
      new ImageIndexing(db, log),
      new Presence(),
    ],
  })
  const api = new ApiRouter(access, (req) => authenticateWorker(db, req))
  api.route({
    method: 'get',
    path: '/api/health',
    summary: 'Liveness and readiness: ready once start-up work (the demo project) is done',
    tag: 'system',
    auth: 'public',
    response: z.object({ ok: z.literal(true), ready: z.literal(true) }),
    handler: () => {
      // Alive either way; 503 until ready, so a supervisor or a test waits for the right thing.
      if (!context.ready)
        throw new HttpError(503, 'Tessera is starting (creating the demo project)', {
          ready: false,
        })
      return { ok: true as const, ready: true as const }
    },
  })
  registerAuthRoutes(api, context)
  registerProjectRoutes(api, context)
  registerImageRoutes(api, context)
  registerCollabRoutes(api, context, collab)
  // The learning loop: model versions per project, the training queue, the worker API and the
  // project live channel that tells open editors of progress and new versions.
  const liveEvents = new ProjectEvents(access)
  events = liveEvents
  const versions = new ModelVersions(db, blobs, (projectId, change) => {
    liveEvents.publish(projectId, {
      type: 'model',
      reason: change.reason,
      version: change.version,
      current: versions.currentModel(projectId),
    })
  })
  // The shipped base versions (models/v0) are registered before the server says it is ready.
  const initialized = versions.registerBaseVersions(config.modelsDir ?? DEFAULT_MODELS_DIR)
  const queue = new SqliteJobQueue(db, {
    leaseMs: config.jobLeaseSeconds * 1_000,
    backoffMs: config.jobBackoffSeconds * 1_000,
    maxBackoffMs: 600_000,
    defaultMaxAttempts: config.jobMaxAttempts,
  })
  const training = new TrainingService({ context, queue, versions, collab, events: liveEvents })
  training.start()
  registerModelRoutes(api, context, versions)
  registerTrainingRoutes(api, context, training, versions, liveEvents)
  registerLearningRoutes(api, context)
  registerExportRoutes(api, context, collab, liveEvents)
  registerImportRoutes(api, context, collab)
  const workerJobs = new WorkerJobs(context, queue, versions)
  registerWorkerRoutes(api, context, workerJobs)
  // Instrument streams: the project's current model on every frame, in worker threads created
  // on the first frame; feedback events out; kept frames into the labelling loop.
  const hub: StreamHub = new StreamHub({
    db,
    log,
    versions,
    createAnalyzer: () =>
      createFrameAnalyzerPool({
        workers: config.streamWorkers,
        threadsPerWorker: config.streamThreadsPerWorker,
      }),
    publish: (projectId, event) => liveEvents.publish(projectId, event),
    keep: (stream, frame, userId) => keepFrame(context, collab, hub, stream, frame, userId),
  })
  streamHub = hub
  registerStreamRoutes(api, context, collab, hub)
  streamSockets = new StreamSockets({
    db,
    log,
    hub,
    access,
    maxMessageBytes: config.streamMaxMessageBytes,
    checkOrigin: (request) => accessCheck.onUpgrade({ request }),
  })
  const openApi = api.openApi({ title: 'Tessera API', version: '0.1.0' })

  const app = express()
  app.disable('x-powered-by')
  app.set('trust proxy', config.trustProxy === 'false' ? false : config.trustProxy)
  app.use((req, res, next) => {
    res.set(CROSS_ORIGIN_ISOLATION)
    const started = process.hrtime.bigint()
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      log.info(`${req.method} ${req.originalUrl} ${res.statusCode} ${ms.toFixed(1)}ms`)
    })
    next()
  })
  app.use('/api', express.json({ limit: config.maxBodyBytes }))
  app.get('/api/openapi.json', (_req, res) => {
    res.json(openApi)
  })
  app.use(api.router)
  app.use('/api', (req) => {
    throw new HttpError(404, `No route ${req.method} ${req.originalUrl}`)
  })

  // onnxruntime-web's wasm runtime for the segmentation worker (it fetches it by URL).
  const ortFiles = express.static(ORT_WASM_DIR, { index: false, maxAge: '1d' })
  app.use('/ort', (req, res, next) => {
    if (!ORT_WASM_FILE.test(req.path)) throw new HttpError(404, `No runtime file ${req.path}`)
    ortFiles(req, res, next)
  })

  const clientDir = config.clientDir ?? path.resolve('dist/client')
  if (fs.existsSync(path.join(clientDir, 'index.html'))) {
    app.use(express.static(clientDir, { index: false, maxAge: '1h' }))
    app.get('/{*path}', (_req, res) => {
      res.sendFile(path.join(clientDir, 'index.html'))
    })
  }
  app.use(errorMiddleware(log))

  return {
    app,
    context,
    collab,
    streams: streamSockets,
    generatedAdminPassword,
    initialized: initialized.then(() => undefined),
    async close() {
      training.stop()
      workerJobs.stop()
      streamSockets.close()
      await hub.close()
      liveEvents.close()
      await collab.close()
      if (db.open) db.close()
    },
  }
}
