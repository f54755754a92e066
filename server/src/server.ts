// Starts a TesseraApp on an HTTP server and stops it gracefully: stop accepting, let
// requests in flight finish, then close SQLite.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createApp, type TesseraApp } from './app.ts'
import type { Config } from './config.ts'

export interface RunningServer {
  url: string
  port: number
  httpServer: http.Server
  tessera: TesseraApp
  /** Resolves when start-up work is done (the server is ready), rejects if it failed. */
  started: Promise<void>
  close(): Promise<void>
}

/**
 * Listens, then runs start-up work (the demo project) while already answering requests;
 * /api/health says ready once it is done.
 */
export async function startServer(
  config: Config,
  startup?: (tessera: TesseraApp) => Promise<void>,
): Promise<RunningServer> {
  const tessera = createApp(config)
  const httpServer = http.createServer(tessera.app)
  httpServer.keepAliveTimeout = 5_000
  httpServer.on('upgrade', (req, socket, head) => {
    if (tessera.collab.handleUpgrade(req, socket, head)) return
    if (!tessera.streams.handleUpgrade(req, socket, head)) socket.destroy()
  })
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject)
    httpServer.listen(config.port, config.host, () => resolve())
  })
  const started = tessera.initialized
    .then(() => (startup ? startup(tessera) : undefined))
    .then(() => {
      tessera.context.ready = true
    })
  const { port } = httpServer.address() as AddressInfo
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  let closing: Promise<void> | null = null
  const close = () => {
    closing ??= (async () => {
      const httpClosed = new Promise<void>((resolve) => {
        httpServer.close(() => resolve())
        httpServer.closeIdleConnections()
        setTimeout(() => httpServer.closeAllConnections(), 5_000).unref()
      })
      // Websockets first (their documents are flushed), then requests in flight, then SQLite.
      await tessera.collab.close()
      tessera.streams.close()
      await httpClosed
      await tessera.close()
    })()
    return closing
  }
  return { url: `http://${host}:${port}`, port, httpServer, tessera, started, close }
}
