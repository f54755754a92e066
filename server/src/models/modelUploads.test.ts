// The checks on uploaded model files, through the store as TrainingService calls them: models/v0's
// real files as the good case, then each way a file or a finished version's card can be wrong.
import { afterEach, describe, it } from 'vitest'
import { DEFAULT_MODELS_DIR } from './baseVersions.ts'
import {
  dataFolder,
  expectHttpError,
  removeModelVersionFixtures,
  v0Card,
  v0File,
} from './modelVersionFixtures.ts'

afterEach(removeModelVersionFixtures)

describe('uploaded files', () => {
  const MAX = 64 * 1024 * 1024

  async function registered() {
    const data = dataFolder()
    await data.versions.registerBaseVersions(DEFAULT_MODELS_DIR)
    return data.versions
  }

  it("accepts models/v0's real files", async () => {
    const versions = await registered()
    for (const [name, file] of [
      ['encoder', 'encoder.onnx'],
      ['decoder', 'decoder.onnx'],
      ['card', 'card.json'],
      ['checkpoint', 'checkpoint.pt'],
      ['parity', 'parity.json'],
    ] as const) {
      await versions.validateUpload(name, v0File(file), MAX)
    }
  })

  it('refuses what a file of that name cannot be', async () => {
    const versions = await registered()
    await expectHttpError(
      versions.validateUpload('encoder', Buffer.from('not a model'), MAX),
      400,
      /encoder is not an ONNX model/,
    )
    await expectHttpError(
      versions.validateUpload('decoder', v0File('decoder.onnx'), 1000),
      413,
      /at most 1000/,
    )
    await expectHttpError(
      versions.validateUpload('decoder', v0File('encoder.onnx'), MAX),
      400,
      /decoder's inputs are image; v0's card lists clicks, features, previousMask/,
    )
    const card = v0Card()
    delete card.input.channels
    await expectHttpError(
      versions.validateUpload('card', Buffer.from(JSON.stringify(card)), MAX),
      400,
      /input\.channels/,
    )
    await expectHttpError(versions.validateUpload('card', Buffer.from('{'), MAX), 400, /not JSON/)
    await expectHttpError(
      versions.validateUpload('checkpoint', v0File('encoder.onnx'), MAX),
      400,
      /PyTorch zip checkpoint/,
    )
    await expectHttpError(versions.validateUpload('parity', Buffer.from('nan'), MAX), 400, /JSON/)
    await expectHttpError(
      versions.validateUpload('weights', Buffer.from('x'), MAX),
      400,
      /not weights/,
    )
  })

  it('checks that a finished version’s card names its files and tensors', async () => {
    const versions = await registered()
    const card = v0Card()
    const files = Object.fromEntries(
      Object.entries(card.files as Record<string, { sha256: string; bytes: number }>).map(
        ([name, file]) => [name, { sha256: file.sha256, bytes: file.bytes }],
      ),
    )
    await versions.validateVersionFiles(card, {
      ...files,
      card: { sha256: 'f'.repeat(64), bytes: 1 },
    })

    const { parity: _parity, ...withoutParity } = files
    await expectHttpError(
      versions.validateVersionFiles(card, withoutParity),
      400,
      /lists a parity file that was not uploaded/,
    )
    await expectHttpError(
      versions.validateVersionFiles(card, { ...files, decoder: files.encoder! }),
      400,
      /card's decoder .* is not the uploaded file/,
    )
    const renamed = v0Card()
    renamed.decoder.outputs[0].name = 'mask'
    await expectHttpError(
      versions.validateVersionFiles(renamed, files),
      400,
      /decoder's outputs are coarse; the card lists mask/,
    )
    const channels = v0Card()
    channels.input.channels = 3
    await expectHttpError(
      versions.validateVersionFiles(channels, files),
      400,
      /encoder takes 2 channels; the card's input.channels is 3/,
    )
  })
})
