// `npm run bench -- NAME` runs bench/NAME.bench.ts and writes bench-results/NAME.json (a flat
// JSON object of numbers); `npm run bench` runs every benchmark in turn.
import fs from 'node:fs'
import path from 'node:path'

const here = import.meta.dirname
const available = fs
  .readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.replace(/\.bench\.ts$/, ''))
  .sort()
const requested = process.argv.slice(2)
const unknown = requested.filter((name) => !available.includes(name))
if (unknown.length > 0) {
  console.error(`Unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}`)
  process.exit(2)
}
const outDir = path.resolve(here, '..', 'bench-results')
fs.mkdirSync(outDir, { recursive: true })
for (const name of requested.length > 0 ? requested : available) {
  const module = (await import(path.join(here, `${name}.bench.ts`))) as {
    run(): Promise<Record<string, number>>
  }
  console.log(`bench ${name} …`)
  const results = await module.run()
  for (const [key, value] of Object.entries(results)) {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new Error(`${name}: ${key} is not a number`)
  }
  fs.writeFileSync(path.join(outDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`)
  console.log(JSON.stringify(results, null, 2))
}
process.exit(0)
