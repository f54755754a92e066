// The model card (card.json) of a model version, as written by the trainer
// (trainer/tessera_trainer/card.py): the fields every runtime needs are checked; the rest is kept.
import { z } from 'zod'

const TensorInfo = z.object({ name: z.string(), shape: z.array(z.union([z.string(), z.number()])) })

export const ModelCard = z
  .object({
    format: z.literal('tessera-model-card'),
    formatVersion: z.number().int(),
    version: z.string(),
    parentVersion: z.string().nullable(),
    input: z
      .object({
        channels: z.number().int().min(1).max(4),
        sizeMultiple: z.number().int().positive(),
        featureStride: z.number().int().positive(),
        tileSize: z.number().int().positive(),
        clickCropSize: z.number().int().positive(),
      })
      .passthrough(),
    encoder: z
      .object({ file: z.string(), inputs: z.array(TensorInfo), outputs: z.array(TensorInfo) })
      .passthrough(),
    decoder: z
      .object({ file: z.string(), inputs: z.array(TensorInfo), outputs: z.array(TensorInfo) })
      .passthrough(),
    clickEncoding: z
      .object({ sigmaPixels: z.number().positive(), maskThreshold: z.number() })
      .passthrough(),
    proposals: z
      .object({
        foregroundThreshold: z.number(),
        seedThreshold: z.number(),
        minSeedArea: z.number().int(),
        minArea: z.number().int(),
      })
      .passthrough(),
  })
  .passthrough()
export type ModelCard = z.infer<typeof ModelCard>

/** What a browser needs to load a project's current model: its card and where its files are. */
export const CurrentModel = z.object({
  version: z.string(),
  card: ModelCard,
  files: z.object({ encoder: z.string(), decoder: z.string(), parity: z.string().nullable() }),
})
export type CurrentModel = z.infer<typeof CurrentModel>
