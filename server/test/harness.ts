// Starts a real Tessera server on a free loopback port with its own temporary data folder,
// and gives tests a small HTTP client with a cookie jar and CSRF header, or a bearer token.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type ConfigInput, parseConfig } from '../src/config.ts'
import { type RunningServer, startServer } from '../src/server.ts'

export const ADMIN_PASSWORD = 'admin-password-for-tests'

export interface TestServer {
  url: string
  dataDir: string
  server: RunningServer
  /** A client logged in as admin by cookie session. */
  admin: ApiClient
  close(): Promise<void>
}

export async function startTestServer(overrides: Partial<ConfigInput> = {}): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-test-'))
  const config = parseConfig({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    adminPassword: ADMIN_PASSWORD,
    demo: false,
    logLevel: 'silent',
    ...overrides,
  })
  const server = await startServer(config)
  await server.started
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  return {
    url: server.url,
    dataDir,
    server,
    admin,
    async close() {
      await server.close()
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export interface ApiResponse<T = any> {
  status: number
  body: T
  headers: Headers
}

export class ApiClient {
  private cookies = new Map<string, string>()
  csrfToken: string | null = null
  bearer: string | null = null
  /** When false, cookie-authenticated writes go out without the CSRF header. */
  sendCsrf = true

  constructor(readonly baseUrl: string) {}

  static withToken(baseUrl: string, token: string): ApiClient {
    const client = new ApiClient(baseUrl)
    client.bearer = token
    return client
  }

  async login(username: string, password: string): Promise<ApiResponse> {
    const response = await this.request('POST', '/api/auth/login', { username, password })
    if (response.status === 200) this.csrfToken = response.body.csrfToken
    return response
  }

  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  async request<T = any>(method: string, urlPath: string, body?: unknown): Promise<ApiResponse<T>> {
    const isForm = body instanceof FormData
    return this.send<T>(method, urlPath, {
      body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
      contentType: body === undefined || isForm ? undefined : 'application/json',
    })
  }

  async raw(
    method: string,
    urlPath: string,
    body?: BodyInit,
    contentType?: string,
  ): Promise<ApiResponse> {
    return this.send(method, urlPath, { body, contentType })
  }

  private async send<T>(
    method: string,
    urlPath: string,
    options: { body?: BodyInit; contentType?: string },
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {}
    if (options.contentType) headers['content-type'] = options.contentType
    if (this.cookies.size > 0) headers.cookie = this.cookieHeader()
    if (this.csrfToken && this.sendCsrf && method !== 'GET')
      headers['x-csrf-token'] = this.csrfToken
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`
    const response = await fetch(this.baseUrl + urlPath, { method, headers, body: options.body })
    for (const cookie of response.headers.getSetCookie()) {
      const [pair, ...attributes] = cookie.split(';')
      const [name, value] = pair.split('=')
      const expired = attributes.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim()))
      if (expired || value === '') this.cookies.delete(name.trim())
      else this.cookies.set(name.trim(), value.trim())
    }
    const type = response.headers.get('content-type') ?? ''
    const payload = type.includes('application/json')
      ? await response.json()
      : Buffer.from(await response.arrayBuffer())
    return { status: response.status, body: payload as T, headers: response.headers }
  }
}
