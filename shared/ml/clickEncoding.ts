// Encodes clicks as the click decoder's input maps, exactly as the trainer does
// (trainer/tessera_trainer/clicks.py encode_clicks): two maps at feature resolution, positive
// then negative, each the maximum over its clicks of exp(-d²/(2σ²)), d in full-resolution
// pixels from the click's pixel centre to the feature cell's centre. Pure.
import type { Click } from './clickSimulation.ts'

/**
 * Clicks in crop pixel coordinates → a (1, 2, featureHeight, featureWidth) float32 buffer.
 * Feature cell (i, j) covers pixels [stride·j, stride·(j+1)) × [stride·i, stride·(i+1)).
 */
export function encodeClicks(
  clicks: readonly Click[],
  featureHeight: number,
  featureWidth: number,
  stride: number,
  sigma: number,
): Float32Array {
  const plane = featureHeight * featureWidth
  const maps = new Float32Array(2 * plane)
  const scale = 1 / (2 * sigma * sigma)
  // Beyond ~15σ the Gaussian underflows to zero in float32, as it does in the trainer.
  const reach = Math.ceil((15 * sigma) / stride) + 1
  for (const click of clicks) {
    const cx = click.x + 0.5
    const cy = click.y + 0.5
    const offset = click.positive ? 0 : plane
    const i0 = Math.max(0, Math.floor(cy / stride) - reach)
    const i1 = Math.min(featureHeight - 1, Math.floor(cy / stride) + reach)
    const j0 = Math.max(0, Math.floor(cx / stride) - reach)
    const j1 = Math.min(featureWidth - 1, Math.floor(cx / stride) + reach)
    for (let i = i0; i <= i1; i++) {
      const dy = stride * (i + 0.5) - cy
      for (let j = j0; j <= j1; j++) {
        const dx = stride * (j + 0.5) - cx
        const value = Math.fround(Math.exp(-(dx * dx + dy * dy) * scale))
        const index = offset + i * featureWidth + j
        if (value > maps[index]) maps[index] = value
      }
    }
  }
  return maps
}
