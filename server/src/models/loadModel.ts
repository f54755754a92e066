// Loads a model version folder (card.json plus the two ONNX files it names) for onnxruntime-node.
import fs from 'node:fs'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { type OrtRuntime, Segmenter } from '../../../shared/ml/segmenter.ts'
import { ModelCard } from '../../../shared/schemas/modelCard.ts'
import { DatasetError } from './labelledFolder.ts'

export const SHIPPED_MODEL_DIR = path.resolve(import.meta.dirname, '../../../models/v0')

export function readModelCard(dir: string): ModelCard {
  const file = path.join(dir, 'card.json')
  if (!fs.existsSync(file)) throw new DatasetError(`No model card: ${file} does not exist`)
  const parsed = ModelCard.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')))
  if (!parsed.success)
    throw new DatasetError(`Invalid model card ${file}: ${parsed.error.issues[0]?.message}`)
  return parsed.data
}

export async function loadSegmenter(dir: string, threads = 0): Promise<Segmenter> {
  const card = readModelCard(dir)
  const read = (name: string) => {
    const file = path.join(dir, name)
    if (!fs.existsSync(file)) throw new DatasetError(`Model file missing: ${file}`)
    return new Uint8Array(fs.readFileSync(file))
  }
  return Segmenter.load(
    ort as unknown as OrtRuntime,
    card,
    read(card.encoder.file),
    read(card.decoder.file),
    {
      intraOpNumThreads: threads,
    },
  )
}
