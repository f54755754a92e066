// Entry point of `npm start`: configuration from the environment, demo project on an empty
// data folder, graceful shutdown on SIGTERM and SIGINT.
import { configFromEnv } from './config.ts'
import { seedDemoProject } from './demo/seedDemoProject.ts'
import { startServer } from './server.ts'
import { type LocalWorker, startLocalWorker } from './workers/localWorker.ts'

const config = configFromEnv(process.env)
const server = await startServer(config, async (tessera) => {
  if (config.demo) await seedDemoProject(tessera.context)
})
if (server.tessera.generatedAdminPassword) {
  console.log(
    `\n  First start: created user "admin" with password ${server.tessera.generatedAdminPassword}\n  (set TESSERA_ADMIN_PASSWORD to choose it; this is shown only once)\n`,
  )
}
console.log(`Tessera listening on ${server.url} (data in ${config.dataDir})`)
let localWorker: LocalWorker | null = null
try {
  await server.started
  console.log('Tessera is ready')
  if (config.localWorker) {
    localWorker = startLocalWorker({
      db: server.tessera.context.db,
      log: server.tessera.context.log,
      serverUrl: server.url,
      python: config.workerPython,
    })
  }
} catch (error) {
  console.error('Start-up failed:', error)
  await server.close()
  process.exit(1)
}

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: shutting down`)
    Promise.resolve(localWorker?.stop())
      .then(() => server.close())
      .then(
        () => process.exit(0),
        (error) => {
          console.error(error)
          process.exit(1)
        },
      )
  })
}
