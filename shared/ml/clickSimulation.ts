// Simulated user clicks, as RITM defines them: the first click at the object's interior point
// farthest from its boundary; each next click at the centre of the largest error region,
// positive for a missed part, negative for a false one. Used by the evaluation CLI; the trainer
// implements the same protocol in Python (trainer/tessera_trainer/clicks.py).
import { distanceTransform } from './distanceTransform.ts'

export interface Click {
  /** Pixel column and row of the click (its centre is at x + 0.5, y + 0.5). */
  x: number
  y: number
  positive: boolean
}

function argmax(values: Float32Array): { index: number; value: number } {
  let index = -1
  let value = 0
  for (let i = 0; i < values.length; i++) {
    if (values[i] > value) {
      value = values[i]
      index = i
    }
  }
  return { index, value }
}

/** The first click on an object, or null for an empty mask. */
export function firstClick(object: Uint8Array, width: number, height: number): Click | null {
  const { index } = argmax(distanceTransform(object, width, height))
  if (index < 0) return null
  return { x: index % width, y: Math.floor(index / width), positive: true }
}

/**
 * The next click given the true object and the current prediction (both 0/1 masks), or null
 * when they agree. Ties between a missed and a false region go to the missed one.
 */
export function nextClick(
  object: Uint8Array,
  prediction: Uint8Array,
  width: number,
  height: number,
): Click | null {
  const missed = new Uint8Array(object.length)
  const extra = new Uint8Array(object.length)
  let errors = 0
  for (let i = 0; i < object.length; i++) {
    missed[i] = object[i] && !prediction[i] ? 1 : 0
    extra[i] = !object[i] && prediction[i] ? 1 : 0
    errors += missed[i] + extra[i]
  }
  if (errors === 0) return null
  const fn = argmax(distanceTransform(missed, width, height))
  const fp = argmax(distanceTransform(extra, width, height))
  const positive = fn.value >= fp.value
  const index = positive ? fn.index : fp.index
  return { x: index % width, y: Math.floor(index / width), positive }
}
