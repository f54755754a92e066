import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { SHIPPED_MODEL_DIR } from '../loadModel.ts'
import { OnnxFormatError, readOnnxOpset, readOnnxOpsets } from './onnxOpset.ts'

describe('readOnnxOpset', () => {
  it('reads opset 17 from the shipped encoder and decoder (trainer export.py OPSET)', () => {
    for (const file of ['encoder.onnx', 'decoder.onnx']) {
      const model = new Uint8Array(fs.readFileSync(path.join(SHIPPED_MODEL_DIR, file)))
      expect(readOnnxOpset(model), file).toBe(17)
      expect(readOnnxOpsets(model).get('')).toBe(17)
    }
  })

  it('refuses bytes that are not an ONNX model', () => {
    expect(() => readOnnxOpset(new TextEncoder().encode('{"not": "onnx"}'))).toThrow(
      OnnxFormatError,
    )
    expect(() => readOnnxOpset(new Uint8Array([0x42, 0x05, 1, 2]))).toThrow(/truncated/)
    // A graph field but no opset_import.
    expect(() => readOnnxOpset(new Uint8Array([0x3a, 0x00]))).toThrow(/no default-domain/)
  })
})
