// Trains a tiny model with the project's own trainer (a few CPU steps, seconds) so that tests of
// the ONNX runtimes need neither the shipped model nor a download.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const repoRoot = path.resolve(import.meta.dirname, '../..')

export function trainTinyModel(): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-model-'))
  execFileSync(
    '/usr/bin/python3',
    [
      '-m',
      'tessera_trainer',
      '--threads',
      '1',
      'pretrain',
      '--out',
      path.join(dir, 'v-test'),
      '--steps',
      '2',
      '--batch-size',
      '2',
      '--crop-size',
      '64',
      '--synthetic-eval-images',
      '1',
      '--eval-max-clicks',
      '2',
    ],
    { cwd: path.join(repoRoot, 'trainer'), stdio: 'pipe', timeout: 120_000 },
  )
  return {
    dir: path.join(dir, 'v-test'),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  }
}
