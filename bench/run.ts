// `npm run bench -- NAME` runs bench/NAME.bench.ts and writes bench-results/NAME.json (a flat
// JSON object of numbers); `npm run bench` runs every benchmark in turn. Options go after the last
// name: from the first argument that starts with '--' on, every argument is handed to that
// benchmark's run(args) (`npm run bench -- al --seeds 3 --strategies random,diverse`).
import fs from 'node:fs'
import path from 'node:path'

const here = import.meta.dirname
const available = fs
  .readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.replace(/\.bench\.ts$/, ''))
  .sort()
const argv = process.argv.slice(2)
const firstOption = argv.findIndex((arg) => arg.startsWith('--'))
const requested = firstOption < 0 ? argv : argv.slice(0, firstOption)
const options = firstOption < 0 ? [] : argv.slice(firstOption)
const unknown = requested.filter((name) => !available.includes(name))
if (unknown.length > 0) {
  console.error(`Unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}`)
  process.exit(2)
}
if (options.length > 0 && requested.length === 0) {
  console.error(`Options ${options.join(' ')} need a benchmark's name before them`)
  process.exit(2)
}
const outDir = path.resolve(here, '..', 'bench-results')
fs.mkdirSync(outDir, { recursive: true })
const names = requested.length > 0 ? requested : available
for (const [index, name] of names.entries()) {
  const module = (await import(path.join(here, `${name}.bench.ts`))) as {
    run(args: string[]): Promise<Record<string, number>>
  }
  console.log(`bench ${name} …`)
  // The options belong to the last name given.
  const results = await module.run(index === names.length - 1 ? options : [])
  for (const [key, value] of Object.entries(results)) {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new Error(`${name}: ${key} is not a number`)
  }
  fs.writeFileSync(path.join(outDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`)
  console.log(JSON.stringify(results, null, 2))
}
process.exit(0)
