// The model card (card.json) of a model version, as written by the trainer
// (trainer/tessera_trainer/card.py). This schema is the card's one definition: the trainer checks
// its cards against model-card.schema.json, generated from it (`npm run schemas`). The fields
// every runtime needs, and those the trainer always writes, are checked; the rest is kept.
import { z } from 'zod'

const TensorInfo = z
  .object({ name: z.string(), shape: z.array(z.union([z.string(), z.number()])) })
  .passthrough()

/** One file of a version: its name in the version's folder, size and sha256 (its blob key). */
const FileInfo = z
  .object({
    path: z.string().min(1),
    bytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex digits'),
  })
  .passthrough()

/** Bright objects on a dark background (fluorescence), or dark ones on a bright background. */
export const Polarity = z.enum(['bright', 'dark'])
export type Polarity = z.infer<typeof Polarity>

export const ModelCard = z
  .object({
    format: z.literal('tessera-model-card'),
    formatVersion: z.number().int(),
    version: z.string(),
    parentVersion: z.string().nullable(),
    /** ISO 8601 with offset; orders the shipped base versions. */
    createdAt: z.string().min(1),
    /** Encoder and decoder always; parity and checkpoint when the trainer wrote them. */
    files: z
      .object({
        encoder: FileInfo,
        decoder: FileInfo,
        parity: FileInfo.optional(),
        checkpoint: FileInfo.optional(),
      })
      .catchall(FileInfo),
    input: z
      .object({
        channels: z.number().int().min(1).max(4),
        sizeMultiple: z.number().int().positive(),
        featureStride: z.number().int().positive(),
        tileSize: z.number().int().positive(),
        clickCropSize: z.number().int().positive(),
        /**
         * Which way the objects differ from their background. 'dark' (stained tissue, brightfield):
         * after the normalisation every image channel the model reads is inverted (x' = 1 − x),
         * so objects come in bright, as the network was pretrained to see them; a channel the
         * image lacks stays 0. Chosen by the fine-tune from its training images' labels.
         */
        polarity: Polarity.default('bright'),
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
    /** Evaluation results; their keys depend on what the trainer evaluated on. */
    metrics: z.object({}).passthrough(),
  })
  .passthrough()
  .meta({
    title: 'Tessera model card',
    description:
      'card.json of a Tessera model version. Generated from shared/schemas/modelCard.ts by `npm run schemas`; do not edit.',
  })
export type ModelCard = z.infer<typeof ModelCard>

/** The JSON Schema text of ModelCard that shared/schemas/model-card.schema.json holds. */
export function modelCardJsonSchema(): string {
  const schema = z.toJSONSchema(ModelCard, { target: 'draft-2020-12', io: 'input' })
  return `${JSON.stringify(schema, null, 2)}\n`
}

/**
 * What a browser needs to load a project's current model: its card and where its files are.
 * File URLs name the version by id; a version's files never change, so they are cached for good.
 */
export const CurrentModel = z.object({
  versionId: z.number().int(),
  version: z.string(),
  card: ModelCard,
  files: z.object({
    encoder: z.string(),
    decoder: z.string(),
    parity: z.string().nullable(),
    checkpoint: z.string().nullable(),
    card: z.string(),
  }),
})
export type CurrentModel = z.infer<typeof CurrentModel>
