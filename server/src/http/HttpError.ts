// The one error type that routes and services throw; the error middleware turns it into
// a JSON response {error, code, details}.

export type ErrorCode =
  | 'bad_request'
  | 'unauthenticated'
  | 'forbidden'
  | 'csrf'
  | 'not_found'
  | 'conflict'
  /** A worker's lease on a job ended (expired, cancelled or another attempt): stop the job. */
  | 'lease-lost'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'too_many_requests'
  | 'unavailable'
  | 'internal'

const codeForStatus: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'too_many_requests',
  503: 'unavailable',
}

export class HttpError extends Error {
  readonly status: number
  readonly code: ErrorCode
  readonly details?: unknown

  constructor(status: number, message: string, details?: unknown, code?: ErrorCode) {
    super(message)
    this.name = 'HttpError'
    this.status = status
    this.details = details
    this.code = code ?? codeForStatus[status] ?? (status >= 500 ? 'internal' : 'bad_request')
  }
}

export const notFound = (what: string) => new HttpError(404, `${what} not found`)
export const forbidden = (message: string) => new HttpError(403, message)
