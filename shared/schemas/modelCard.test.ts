// The card's one schema: the committed JSON Schema (which the trainer checks its cards against)
// is exactly what modelCard.ts generates, and the shipped v0 card passes it.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ModelCard, modelCardJsonSchema } from './modelCard.ts'

const root = path.resolve(import.meta.dirname, '../..')
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'))

describe('ModelCard', () => {
  it('is what shared/schemas/model-card.schema.json holds (run `npm run schemas` after a change)', () => {
    const committed = fs.readFileSync(
      path.join(root, 'shared/schemas/model-card.schema.json'),
      'utf8',
    )
    expect(committed).toBe(modelCardJsonSchema())
  })

  it('accepts the shipped v0 card and keeps its extra fields', () => {
    const card = readJson('models/v0/card.json')
    const parsed = ModelCard.parse(card)
    expect(parsed.files.encoder.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect((parsed as { training?: unknown }).training).toEqual(card.training)
    expect((parsed.input as { normalization?: unknown }).normalization).toEqual(
      card.input.normalization,
    )
  })

  it('refuses a card without input.channels, naming the field', () => {
    const card = readJson('models/v0/card.json')
    delete card.input.channels
    const result = ModelCard.safeParse(card)
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.path).toEqual(['input', 'channels'])
  })

  it('refuses a card whose files lack a sha256 or that has no metrics', () => {
    const card = readJson('models/v0/card.json')
    delete card.files.decoder.sha256
    expect(ModelCard.safeParse(card).success).toBe(false)
    const noMetrics = readJson('models/v0/card.json')
    delete noMetrics.metrics
    expect(ModelCard.safeParse(noMetrics).success).toBe(false)
  })
})
