// Turns anything thrown in a route into a JSON error {error, code, details}; never leaks
// stack traces to clients.
import type { NextFunction, Request, Response } from 'express'
import type { Logger } from '../logger.ts'
import { HttpError } from './HttpError.ts'

interface BodyParserError extends Error {
  type?: string
  status?: number
  expose?: boolean
}

export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error
  const e = error as BodyParserError
  if (e?.type === 'entity.too.large') return new HttpError(413, 'Request body too large')
  if (e?.type === 'entity.parse.failed') return new HttpError(400, 'Request body is not valid JSON')
  if (e?.expose && typeof e.status === 'number' && e.status < 500)
    return new HttpError(e.status, e.message)
  return new HttpError(500, 'Internal server error')
}

export function errorMiddleware(log: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const httpError = toHttpError(error)
    if (httpError.status >= 500) log.error(`${req.method} ${req.originalUrl} failed`, error)
    if (res.headersSent) {
      res.destroy()
      return
    }
    res.status(httpError.status).json({
      error: httpError.message,
      code: httpError.code,
      ...(httpError.details === undefined ? {} : { details: httpError.details }),
    })
  }
}
