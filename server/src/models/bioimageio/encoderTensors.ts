// The encoder's tensors as a bioimage.io package names them, read from the model card: one input
// (`raw`, the card's image input) and every ONNX output with its channels and its spatial scale
// relative to the input (1 for `height`, 4 for `height/4`). Outputs the card's proposals read
// (foreground, distance) are logits; the package turns them into probabilities with a sigmoid.
import type { ModelCard } from '../../../../shared/schemas/modelCard.ts'

export const INPUT_ID = 'raw'
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/

export interface EncoderInput {
  id: typeof INPUT_ID
  /** The graph input's name (the card's `image`). */
  onnxName: string
  channels: number
  meaning: string
}

export interface EncoderOutput {
  /** The tensor id in rdf.yaml: the graph output's name, which must be a lower-case identifier. */
  id: string
  onnxName: string
  channels: number
  /** Input pixels per output pixel along y and x. */
  scale: number
  /** A logit map the package passes through a sigmoid (an automatic-head output). */
  probability: boolean
  meaning: string
}

export interface EncoderTensors {
  input: EncoderInput
  outputs: EncoderOutput[]
}

/** Channels (a number) and scale ('height' or 'height/N') of a card shape [batch, C, H, W]. */
function shapeOf(name: string, shape: readonly (string | number)[]) {
  const [, channels, height, width] = shape
  const scaleOf = (size: string | number | undefined, axis: 'height' | 'width') => {
    const match = typeof size === 'string' ? new RegExp(`^${axis}(?:/(\\d+))?$`).exec(size) : null
    if (!match) throw new Error(`The card's ${name} shape has ${size} where ${axis} belongs`)
    return match[1] ? Number(match[1]) : 1
  }
  if (shape.length !== 4 || typeof channels !== 'number')
    throw new Error(`The card's ${name} shape is not [batch, channels, height, width]`)
  const scale = scaleOf(height, 'height')
  if (scaleOf(width, 'width') !== scale)
    throw new Error(`The card's ${name} shape scales height and width differently`)
  return { channels, scale }
}

export function encoderTensors(card: ModelCard): EncoderTensors {
  const [image, ...others] = card.encoder.inputs
  if (!image || others.length > 0) throw new Error('The card names more than one encoder input')
  const probabilities = new Set(
    Array.isArray(card.proposals.from) ? (card.proposals.from as string[]) : [],
  )
  const meaningOf = (tensor: Record<string, unknown>) =>
    typeof tensor.meaning === 'string' ? tensor.meaning : ''
  const outputs = card.encoder.outputs.map((tensor): EncoderOutput => {
    if (!IDENTIFIER.test(tensor.name) || tensor.name === INPUT_ID)
      throw new Error(`The encoder output ${tensor.name} cannot be a bioimage.io tensor id`)
    return {
      id: tensor.name,
      onnxName: tensor.name,
      ...shapeOf(tensor.name, tensor.shape),
      probability: probabilities.has(tensor.name),
      meaning: meaningOf(tensor),
    }
  })
  if (new Set(outputs.map((o) => o.id)).size !== outputs.length)
    throw new Error('The card names an encoder output twice')
  const input = shapeOf(image.name, image.shape)
  if (input.scale !== 1) throw new Error('The encoder input must be full resolution')
  if (input.channels !== card.input.channels)
    throw new Error(
      `The encoder takes ${input.channels} channels; the card's input says ${card.input.channels}`,
    )
  return {
    input: {
      id: INPUT_ID,
      onnxName: image.name,
      channels: input.channels,
      meaning: meaningOf(image),
    },
    outputs,
  }
}
