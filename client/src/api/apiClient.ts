// The one HTTP client of the web app: JSON in and out, the session cookie, the CSRF header on
// writes, and server errors turned into ApiError with the server's message for the UI.
import type { z } from 'zod'
import type { SessionInfo } from '../../../shared/schemas/auth.ts'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

let csrfToken: string | null = null

export function setCsrfToken(token: string | null) {
  csrfToken = token
}

async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: string; code?: string }
    return new ApiError(response.status, body.error ?? response.statusText, body.code)
  } catch {
    return new ApiError(response.status, `${response.status} ${response.statusText}`)
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!response.ok) throw await errorOf(response)
  if (response.status === 204) return undefined as T
  return (await response.json()) as T
}

/** A response body checked against its schema; a mismatch names the field (an app older or newer
 * than the server). */
export function parsed<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  throw new Error(
    `The server's ${what} does not fit this app (${issue?.path.join('.')}: ${issue?.message})`,
  )
}

export async function login(username: string, password: string): Promise<SessionInfo> {
  const session = await api<SessionInfo>('POST', '/api/auth/login', { username, password })
  setCsrfToken(session.csrfToken)
  return session
}

export async function currentSession(): Promise<SessionInfo | null> {
  try {
    const session = await api<SessionInfo>('GET', '/api/auth/me')
    setCsrfToken(session.csrfToken)
    return session
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null
    throw error
  }
}

/** Uploads files as multipart/form-data with progress (fetch has no upload progress). */
export function uploadFiles<T>(
  path: string,
  files: File[],
  onProgress: (fraction: number) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest()
    request.open('POST', path)
    if (csrfToken) request.setRequestHeader('x-csrf-token', csrfToken)
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total)
    }
    request.onload = () => {
      let body: { error?: string; code?: string } = {}
      try {
        body = JSON.parse(request.responseText)
      } catch {
        // Non-JSON answers are reported by status below.
      }
      if (request.status >= 200 && request.status < 300) resolve(body as T)
      else
        reject(
          new ApiError(
            request.status,
            body.error ?? `Upload failed (${request.status})`,
            body.code,
          ),
        )
    }
    request.onerror = () =>
      reject(new ApiError(0, 'Upload failed: the server could not be reached'))
    const form = new FormData()
    for (const file of files) form.append('files', file, file.name)
    request.send(form)
  })
}
