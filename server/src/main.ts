// Entry point of `npm start`: configuration from the environment, demo project on an empty
// data folder, graceful shutdown on SIGTERM and SIGINT.
import { configFromEnv } from './config.ts'
import { seedDemoProject } from './demo/seedDemoProject.ts'
import { startServer } from './server.ts'

const config = configFromEnv(process.env)
const server = await startServer(config)
const { tessera } = server
if (tessera.generatedAdminPassword) {
  console.log(
    `\n  First start: created user "admin" with password ${tessera.generatedAdminPassword}\n  (set TESSERA_ADMIN_PASSWORD to choose it; this is shown only once)\n`,
  )
}
if (config.demo) await seedDemoProject(tessera.context)
console.log(`Tessera listening on ${server.url} (data in ${config.dataDir})`)

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: shutting down`)
    server.close().then(
      () => process.exit(0),
      (error) => {
        console.error(error)
        process.exit(1)
      },
    )
  })
}
