// The operator-set versions an ONNX file imports (ModelProto.opset_import), read with a minimal
// protobuf wire-format walk over the top-level fields, as trainer/tessera_trainer/onnx_summary.py
// does. Pure and read-only; it never decodes the graph.

export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError'
}

interface Field {
  number: number
  wire: number
  /** The varint of wire type 0. */
  value: bigint
  /** The bytes of wire type 2. */
  bytes: Uint8Array
}

function readVarint(data: Uint8Array, start: number): { value: bigint; next: number } {
  let value = 0n
  let shift = 0n
  for (let position = start; position < data.length; position++) {
    const byte = data[position]
    value |= BigInt(byte & 0x7f) << shift
    if (!(byte & 0x80)) return { value, next: position + 1 }
    shift += 7n
    if (shift > 70n) throw new OnnxFormatError('varint too long')
  }
  throw new OnnxFormatError('truncated varint')
}

/** The fields of one protobuf message, in order. */
function* fieldsOf(data: Uint8Array): Generator<Field> {
  let position = 0
  while (position < data.length) {
    const key = readVarint(data, position)
    position = key.next
    const number = Number(key.value >> 3n)
    const wire = Number(key.value & 7n)
    const empty = data.subarray(0, 0)
    if (wire === 0) {
      const varint = readVarint(data, position)
      position = varint.next
      yield { number, wire, value: varint.value, bytes: empty }
    } else if (wire === 1 || wire === 5) {
      position += wire === 1 ? 8 : 4
      if (position > data.length) throw new OnnxFormatError('truncated field')
    } else if (wire === 2) {
      const length = readVarint(data, position)
      const end = length.next + Number(length.value)
      if (end > data.length) throw new OnnxFormatError('truncated field')
      yield { number, wire, value: 0n, bytes: data.subarray(length.next, end) }
      position = end
    } else {
      throw new OnnxFormatError(`unsupported wire type ${wire}`)
    }
  }
}

const OPSET_IMPORT = 8
const GRAPH = 7

/** Operator-set version by domain ('' is the default ONNX domain). */
export function readOnnxOpsets(model: Uint8Array): Map<string, number> {
  const opsets = new Map<string, number>()
  let hasGraph = false
  for (const field of fieldsOf(model)) {
    if (field.number === GRAPH && field.wire === 2) hasGraph = true
    if (field.number !== OPSET_IMPORT || field.wire !== 2) continue
    let domain = ''
    let version = 0
    for (const entry of fieldsOf(field.bytes)) {
      if (entry.number === 1 && entry.wire === 2) domain = new TextDecoder().decode(entry.bytes)
      if (entry.number === 2 && entry.wire === 0) version = Number(entry.value)
    }
    opsets.set(domain, version)
  }
  if (!hasGraph) throw new OnnxFormatError('not an ONNX model: it has no graph')
  return opsets
}

/** The default-domain opset version of an ONNX model (what bioimage.io's opset_version means). */
export function readOnnxOpset(model: Uint8Array): number {
  const opsets = readOnnxOpsets(model)
  const version = opsets.get('') ?? opsets.get('ai.onnx')
  if (!version) throw new OnnxFormatError('the model imports no default-domain operator set')
  return version
}
