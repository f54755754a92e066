// Reads a model version folder (card.json and the two ONNX files it names) as the ModelFiles a
// frame worker loads: for the shipped v0, tests and the benchmark. Stored versions come from the
// blob store instead (the pipeline's `load`).
import fs from 'node:fs/promises'
import path from 'node:path'
import { ModelCard } from '../../../../shared/schemas/modelCard.ts'
import type { ModelFiles } from './FrameAnalyzer.ts'

export async function readModelFolder(
  dir: string,
  versionId: number,
  versionName?: string,
): Promise<ModelFiles> {
  const cardJson = await fs.readFile(path.join(dir, 'card.json'), 'utf8')
  const card = ModelCard.parse(JSON.parse(cardJson))
  const read = async (file: string) => new Uint8Array(await fs.readFile(path.join(dir, file)))
  const [encoder, decoder] = await Promise.all([read(card.encoder.file), read(card.decoder.file)])
  return { versionId, versionName: versionName ?? card.version, cardJson, encoder, decoder }
}
