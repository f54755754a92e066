// Writes the JSON Schemas generated from the zod schemas in shared/schemas, for code that is not
// TypeScript (the Python trainer checks its model cards against model-card.schema.json).
// Run with `npm run schemas` after changing a schema; modelCard.test.ts fails until then.
import fs from 'node:fs'
import path from 'node:path'
import { modelCardJsonSchema } from '../shared/schemas/modelCard.ts'

const target = path.resolve(import.meta.dirname, '../shared/schemas/model-card.schema.json')
fs.writeFileSync(target, modelCardJsonSchema())
console.log(`Wrote ${path.relative(process.cwd(), target)}`)
