// Sends a dataset file to POST /api/projects/:id/import as multipart/form-data: the "options"
// field first (the server reads it before the file streams in), then "archive". Upload progress
// needs XMLHttpRequest; a refused commit (422) comes back with its report.
import type { ImportOptions, ImportReport } from '../../../../shared/schemas/datasets.ts'
import { ApiError, currentSession } from '../../api/apiClient.ts'

export class ImportRefused extends ApiError {
  constructor(
    status: number,
    message: string,
    /** What the server found, when it refused a commit over problems. */
    readonly report: ImportReport | null,
  ) {
    super(status, message)
    this.name = 'ImportRefused'
  }
}

export async function postImport(
  projectId: number,
  file: File,
  options: ImportOptions,
  onProgress: (fraction: number) => void,
): Promise<ImportReport> {
  // The session's CSRF token (apiClient keeps it private); asking is cheap and always current.
  const session = await currentSession()
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest()
    request.open('POST', `/api/projects/${projectId}/import`)
    if (session?.csrfToken) request.setRequestHeader('x-csrf-token', session.csrfToken)
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total)
    }
    request.onload = () => {
      let body: { error?: string; details?: unknown } | null = null
      try {
        body = JSON.parse(request.responseText)
      } catch {
        // Reported by status below.
      }
      if (request.status === 200 && body) resolve(body as ImportReport)
      else
        reject(
          new ImportRefused(
            request.status,
            body?.error ?? `Import failed (${request.status} ${request.statusText})`,
            request.status === 422 && isReport(body?.details) ? body.details : null,
          ),
        )
    }
    request.onerror = () =>
      reject(new ImportRefused(0, 'Import failed: the server could not be reached', null))
    const form = new FormData()
    form.append('options', JSON.stringify(options))
    form.append('archive', file, file.name)
    request.send(form)
  })
}

function isReport(value: unknown): value is ImportReport {
  return typeof value === 'object' && value !== null && 'matched' in value && 'problems' in value
}
