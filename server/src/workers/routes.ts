// The worker API (ARCHITECTURE decision 7): training workers pull jobs over HTTP with a worker
// token — lease (long poll), download the frozen training set, heartbeat, upload the new
// version's files, complete or fail — and administrators manage the tokens. A worker token
// reads only the data of the job it holds.
import type { Request } from 'express'
import { z } from 'zod'
import {
  ARTIFACT_NAMES,
  CompleteBody,
  CompleteResponse,
  CreatedWorkerToken,
  DatasetPage,
  FailBody,
  HeartbeatBody,
  HeartbeatResponse,
  LeaseRequest,
  LeaseResponse,
  PoolPage,
  WorkerTokenList,
} from '../../../shared/schemas/training.ts'
import type { AppContext } from '../app.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import { HttpError } from '../http/HttpError.ts'
import { scoringPoolPage } from '../learning/index.ts'
import { datasetPage } from '../training/trainingSet.ts'
import type { WorkerJobs } from '../training/WorkerJobs.ts'
import { createWorkerToken, listWorkerTokens, revokeWorkerToken } from './workerTokens.ts'

const Id = z.coerce.number().int().positive()
const JobParams = z.object({ jobId: Id })
const AttemptQuery = z.object({ attempt: z.coerce.number().int().positive() })
const DATASET_PAGE = 100
const tag = 'workers'

/** The request body as bytes, refused with 413 past `maxBytes` (before reading it all). */
export async function readRawBody(req: Request, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.get('content-length') ?? Number.NaN)
  if (declared > maxBytes)
    throw new HttpError(413, `Upload is ${declared} bytes; at most ${maxBytes} are accepted`)
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > maxBytes) {
      req.resume()
      throw new HttpError(413, `Upload exceeds ${maxBytes} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, total)
}

export function registerWorkerRoutes(api: ApiRouter, context: AppContext, jobs: WorkerJobs): void {
  const { db, blobs, config } = context

  api.route({
    method: 'post',
    path: '/api/worker/lease',
    summary: 'Lease the next training job (long poll up to waitSeconds); job null when none',
    tag,
    auth: 'worker',
    body: LeaseRequest,
    response: LeaseResponse,
    handler: async ({ body, worker, res }) => ({
      job: await jobs.lease(worker!, body.worker, body.waitSeconds, res),
    }),
  })
  api.route({
    method: 'get',
    path: '/api/worker/jobs/:jobId/dataset',
    summary: "A page of the held job's frozen training set (follow `next`)",
    tag,
    auth: 'worker',
    params: JobParams,
    query: z.object({
      cursor: z.coerce.number().int().min(0).default(0),
      limit: z.coerce.number().int().min(1).max(1000).default(DATASET_PAGE),
    }),
    response: DatasetPage,
    handler: async ({ params, query, worker }) => {
      await jobs.held(worker!, params.jobId)
      const page = datasetPage(
        db,
        params.jobId,
        query.cursor,
        query.limit,
        (sha256) => `/api/worker/jobs/${params.jobId}/blobs/${sha256}`,
      )
      if (!page) throw new HttpError(404, `Job ${params.jobId} has no training set`)
      return page
    },
  })
  api.route({
    method: 'get',
    path: '/api/worker/jobs/:jobId/pool',
    summary:
      "A page of the images the held job's new version scores: the project's images nobody has finished, read now (follow `next`)",
    tag,
    auth: 'worker',
    params: JobParams,
    query: z.object({
      cursor: z.coerce.number().int().min(0).default(0),
      limit: z.coerce.number().int().min(1).max(1000).default(DATASET_PAGE),
    }),
    response: PoolPage,
    handler: async ({ params, query, worker }) => {
      const job = await jobs.held(worker!, params.jobId)
      return scoringPoolPage(
        db,
        { jobId: job.id, projectId: job.projectId, cursor: query.cursor, limit: query.limit },
        (sha256) => `/api/worker/jobs/${params.jobId}/blobs/${sha256}`,
      )
    },
  })
  api.route({
    method: 'get',
    path: '/api/worker/jobs/:jobId/blobs/:sha256',
    summary:
      "Raw samples, labels or weights of the held job (by sha256; only the job's own and its project's raw samples)",
    tag,
    auth: 'worker',
    params: JobParams.extend({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
    response: { contentType: 'application/octet-stream', description: 'The blob' },
    handler: async ({ params, worker, res }) => {
      const job = await jobs.held(worker!, params.jobId)
      if (!(await jobs.mayReadBlob(job, params.sha256)))
        throw new HttpError(403, `That blob is not part of job ${params.jobId}`)
      if (!(await blobs.has(params.sha256)))
        throw new HttpError(410, `Blob ${params.sha256} of job ${params.jobId} is gone`)
      const bytes = await blobs.get(params.sha256)
      res.set({ 'Content-Type': 'application/octet-stream', ETag: `"${params.sha256}"` })
      res.send(bytes)
    },
  })
  api.route({
    method: 'post',
    path: '/api/worker/jobs/:jobId/heartbeat',
    summary: 'Renew the lease and report progress; the answer says whether to cancel',
    tag,
    auth: 'worker',
    params: JobParams,
    body: HeartbeatBody,
    response: HeartbeatResponse,
    handler: ({ params, body, worker }) => jobs.heartbeat(worker!, params.jobId, body),
  })
  api.route({
    method: 'put',
    path: '/api/worker/jobs/:jobId/checkpoint',
    summary: 'Store a checkpoint that a later attempt resumes from (PyTorch zip, raw body)',
    tag,
    auth: 'worker',
    params: JobParams,
    query: AttemptQuery,
    handler: async ({ params, query, worker, req }) => {
      const bytes = await readRawBody(req, config.maxModelFileBytes)
      await jobs.putCheckpoint(worker!, params.jobId, query.attempt, bytes)
    },
  })
  api.route({
    method: 'put',
    path: '/api/worker/jobs/:jobId/files/:name',
    summary: "Upload one of the new version's files (encoder, decoder, card, checkpoint, parity)",
    tag,
    auth: 'worker',
    params: JobParams.extend({ name: z.enum(ARTIFACT_NAMES) }),
    query: AttemptQuery,
    response: z.object({ sha256: z.string(), bytes: z.number().int() }),
    handler: async ({ params, query, worker, req }) => {
      const bytes = await readRawBody(req, config.maxModelFileBytes)
      return jobs.putArtifact(worker!, params.jobId, query.attempt, params.name, bytes)
    },
  })
  api.route({
    method: 'post',
    path: '/api/worker/jobs/:jobId/complete',
    summary: 'Complete the attempt: registers the new version (idempotent per job and attempt)',
    tag,
    auth: 'worker',
    params: JobParams,
    body: CompleteBody,
    response: CompleteResponse,
    handler: ({ params, body, worker }) => jobs.complete(worker!, params.jobId, body),
  })
  api.route({
    method: 'post',
    path: '/api/worker/jobs/:jobId/fail',
    summary: 'Fail the attempt with its error and log; it is retried unless retry is false',
    tag,
    auth: 'worker',
    params: JobParams,
    body: FailBody,
    handler: ({ params, body, worker }) => jobs.fail(worker!, params.jobId, body),
  })

  api.route({
    method: 'get',
    path: '/api/admin/worker-tokens',
    summary: 'Worker tokens (never the secrets)',
    tag,
    auth: 'admin',
    response: WorkerTokenList,
    handler: () => ({ tokens: listWorkerTokens(db) }),
  })
  api.route({
    method: 'post',
    path: '/api/admin/worker-tokens',
    summary: 'Create a worker token; the secret is in this answer only',
    tag,
    auth: 'admin',
    body: z.object({ name: z.string().trim().min(1).max(100) }),
    response: CreatedWorkerToken,
    status: 201,
    handler: ({ body, principal }) => createWorkerToken(db, body.name, principal!.userId),
  })
  api.route({
    method: 'delete',
    path: '/api/admin/worker-tokens/:tokenId',
    summary: 'Revoke a worker token; its worker is refused from its next call',
    tag,
    auth: 'admin',
    params: z.object({ tokenId: Id }),
    handler: ({ params }) => revokeWorkerToken(db, params.tokenId),
  })
}
