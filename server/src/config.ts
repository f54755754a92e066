// Reads the process environment through one schema and hands a typed Config to createApp.
// Nothing else in the server reads process.env.
import path from 'node:path'
import { z } from 'zod'
import {
  DEFAULT_STREAM_THREADS,
  DEFAULT_STREAM_WORKERS,
} from './streams/inference/FrameAnalyzerPool.ts'

const booleanFromEnv = z.union([
  z.boolean(),
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((value) => value === 'true' || value === '1' || value === 'yes'),
])

export const ConfigSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1).default('./data'),
  adminPassword: z
    .string()
    .min(8, 'TESSERA_ADMIN_PASSWORD must have at least 8 characters')
    .optional(),
  maxUploadBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024 * 1024),
  /**
   * Most pixels (width × height) of one image, i.e. one page of a file, read from its header.
   * The default, 16384², is also the largest canvas Chrome draws: the editor composes one of the
   * whole image.
   */
  maxImagePixels: z.coerce
    .number()
    .int()
    .positive()
    .default(16384 * 16384),
  /** Most images (pages) one upload may create, over all its files, counted from the headers. */
  maxUploadPages: z.coerce.number().int().positive().default(256),
  /**
   * Most bytes of decoded samples one upload may create: width × height × channels × bytes per
   * sample (1, 2 or 4), summed over every page of every file, from the headers before anything is
   * decoded. Pages are decoded one at a time, so this also bounds the largest page, which sets the
   * server's peak memory: up to about 3 × that page's samples plus 170 MiB (`npm run bench --
   * upload`: 2.5 GiB for one 16384² RGB 8-bit image, the default's 768 MiB; 1.5 GiB for 16384²
   * 16-bit grey). At most 2 GiB − 1: a stored image's samples are read back whole, and Node
   * reads at most that from a file at once.
   */
  maxUploadDecodedBytes: z.coerce
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1)
    .default(768 * 1024 * 1024),
  /** Wrong passwords per account, and per client address, before logins are refused for a while. */
  loginMaxFailures: z.coerce.number().int().positive().default(10),
  loginMaxFailuresPerAddress: z.coerce.number().int().positive().default(50),
  /** The window over which wrong passwords are counted, in seconds. */
  loginWindowSeconds: z.coerce.number().int().positive().default(60),
  /** How long the first lockout lasts, in seconds; each further lockout in a row doubles it. */
  loginLockoutSeconds: z.coerce.number().int().positive().default(60),
  /**
   * The longest lockout, in seconds. A username or address that stays clear of lockouts this long
   * after its last one ended starts again at the first.
   */
  loginMaxLockoutSeconds: z.coerce.number().int().positive().default(900),
  /**
   * The address people open the app at (e.g. https://tessera.example.org): its origin may open
   * collaboration websockets, and an https URL makes the session cookie Secure.
   */
  publicUrl: z.url().optional(),
  /** Further origins allowed to open collaboration websockets, comma separated. */
  allowedOrigins: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin.length > 0),
    ),
  /** Express's 'trust proxy': which proxies' X-Forwarded-* headers to believe ('false' for none). */
  trustProxy: z.string().default('loopback'),
  /** Compact an image's update log into a snapshot after this many updates. */
  compactAfterUpdates: z.coerce.number().int().positive().default(500),
  maxBodyBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  maxMessageBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(16 * 1024 * 1024),
  maxDocBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024),
  displayTileSize: z.coerce.number().int().min(256).max(8192).default(2048),
  sessionDays: z.coerce.number().positive().default(14),
  demo: booleanFromEnv.default(true),
  logLevel: z.enum(['silent', 'error', 'info', 'debug']).default('info'),
  clientDir: z.string().optional(),
  /**
   * Folder of the shipped base model versions (one sub-folder with card.json each; the repo's
   * models/). Each is registered once in the data folder; projects start on the newest.
   */
  modelsDir: z.string().optional(),
  /** `npm start` runs one local CPU training worker (false: only workers that join by token). */
  localWorker: booleanFromEnv.default(true),
  /** The Python that runs the local worker (Debian's, which has PyTorch). */
  workerPython: z.string().min(1).default('/usr/bin/python3'),
  /** A training job's lease: a worker that sends no heartbeat for this long loses the job. */
  jobLeaseSeconds: z.coerce.number().positive().default(60),
  /** How often a worker sends a heartbeat (progress, and hears "cancel"). */
  jobHeartbeatSeconds: z.coerce.number().positive().default(5),
  /** Attempts of a training job before it fails for good. */
  jobMaxAttempts: z.coerce.number().int().positive().default(3),
  /** Backoff before a job's next attempt: this × 2^(attempt−1) seconds, at most 10 minutes. */
  jobBackoffSeconds: z.coerce.number().nonnegative().default(10),
  /** Default wall-clock budget of a training job's training phase, in minutes. */
  trainingMinutes: z.coerce.number().positive().default(3),
  /** Default most optimiser steps of a training job. */
  trainingMaxSteps: z.coerce.number().int().positive().default(20_000),
  /** How often projects with an automatic training trigger are checked, in seconds. */
  autoTrainCheckSeconds: z.coerce.number().positive().default(15),
  /** Largest file a worker may upload (ONNX, checkpoint, card). */
  maxModelFileBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024),
  /**
   * Largest message an instrument may send on a stream socket. The default takes one 4096²
   * float32 frame (64 MiB of samples) with its CBOR framing and metadata; frames with several
   * channels that large need more.
   */
  streamMaxMessageBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(72 * 1024 * 1024),
  /** Worker threads that run the model on stream frames (shared by every stream), created on the
   * first frame. */
  streamWorkers: z.coerce.number().int().min(1).max(64).default(DEFAULT_STREAM_WORKERS),
  /** onnxruntime threads in each stream worker. */
  streamThreadsPerWorker: z.coerce.number().int().min(1).max(64).default(DEFAULT_STREAM_THREADS),
})

export type Config = z.infer<typeof ConfigSchema>
export type ConfigInput = z.input<typeof ConfigSchema>

/** Environment variable for each config key, as documented in the README. */
export const CONFIG_ENV: Record<keyof Config, string> = {
  port: 'PORT',
  host: 'HOST',
  dataDir: 'TESSERA_DATA',
  adminPassword: 'TESSERA_ADMIN_PASSWORD',
  maxUploadBytes: 'TESSERA_MAX_UPLOAD_BYTES',
  maxImagePixels: 'TESSERA_MAX_IMAGE_PIXELS',
  maxUploadPages: 'TESSERA_MAX_UPLOAD_PAGES',
  maxUploadDecodedBytes: 'TESSERA_MAX_UPLOAD_DECODED_BYTES',
  loginMaxFailures: 'TESSERA_LOGIN_MAX_FAILURES',
  loginMaxFailuresPerAddress: 'TESSERA_LOGIN_MAX_FAILURES_PER_ADDRESS',
  loginWindowSeconds: 'TESSERA_LOGIN_WINDOW_SECONDS',
  loginLockoutSeconds: 'TESSERA_LOGIN_LOCKOUT_SECONDS',
  loginMaxLockoutSeconds: 'TESSERA_LOGIN_MAX_LOCKOUT_SECONDS',
  publicUrl: 'TESSERA_PUBLIC_URL',
  allowedOrigins: 'TESSERA_ALLOWED_ORIGINS',
  trustProxy: 'TESSERA_TRUST_PROXY',
  compactAfterUpdates: 'TESSERA_COMPACT_AFTER_UPDATES',
  maxBodyBytes: 'TESSERA_MAX_BODY_BYTES',
  maxMessageBytes: 'TESSERA_MAX_MESSAGE_BYTES',
  maxDocBytes: 'TESSERA_MAX_DOC_BYTES',
  displayTileSize: 'TESSERA_DISPLAY_TILE_SIZE',
  sessionDays: 'TESSERA_SESSION_DAYS',
  demo: 'TESSERA_DEMO',
  logLevel: 'TESSERA_LOG_LEVEL',
  clientDir: 'TESSERA_CLIENT_DIR',
  modelsDir: 'TESSERA_MODELS_DIR',
  localWorker: 'TESSERA_LOCAL_WORKER',
  workerPython: 'TESSERA_WORKER_PYTHON',
  jobLeaseSeconds: 'TESSERA_JOB_LEASE_SECONDS',
  jobHeartbeatSeconds: 'TESSERA_JOB_HEARTBEAT_SECONDS',
  jobMaxAttempts: 'TESSERA_JOB_MAX_ATTEMPTS',
  jobBackoffSeconds: 'TESSERA_JOB_BACKOFF_SECONDS',
  trainingMinutes: 'TESSERA_TRAINING_MINUTES',
  trainingMaxSteps: 'TESSERA_TRAINING_MAX_STEPS',
  autoTrainCheckSeconds: 'TESSERA_AUTO_TRAIN_CHECK_SECONDS',
  maxModelFileBytes: 'TESSERA_MAX_MODEL_FILE_BYTES',
  streamMaxMessageBytes: 'TESSERA_STREAM_MAX_MESSAGE_BYTES',
  streamWorkers: 'TESSERA_STREAM_WORKERS',
  streamThreadsPerWorker: 'TESSERA_STREAM_THREADS_PER_WORKER',
}

export function parseConfig(input: ConfigInput): Config {
  const result = ConfigSchema.safeParse(input)
  if (!result.success) {
    const lines = result.error.issues.map(
      (issue) =>
        `${CONFIG_ENV[issue.path[0] as keyof Config] ?? issue.path.join('.')}: ${issue.message}`,
    )
    throw new Error(`Invalid configuration:\n  ${lines.join('\n  ')}`)
  }
  return { ...result.data, dataDir: path.resolve(result.data.dataDir) }
}

export function configFromEnv(env: NodeJS.ProcessEnv): Config {
  const input: Record<string, string> = {}
  for (const [key, name] of Object.entries(CONFIG_ENV)) {
    const value = env[name]
    if (value !== undefined && value !== '') input[key] = value
  }
  return parseConfig(input as ConfigInput)
}
