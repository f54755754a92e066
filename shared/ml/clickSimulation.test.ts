import { describe, expect, it } from 'vitest'
import { firstClick, nextClick } from './clickSimulation.ts'

function rectangle(width: number, height: number, x0: number, y0: number, x1: number, y1: number) {
  const mask = new Uint8Array(width * height)
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) mask[y * width + x] = 1
  return mask
}

describe('simulated clicks', () => {
  it('clicks first at the interior point farthest from the boundary', () => {
    const object = rectangle(32, 32, 4, 10, 25, 21) // 21 × 11, centre (14, 15)
    const click = firstClick(object, 32, 32)
    expect(click).toMatchObject({ y: 15, positive: true })
    expect(object[click!.y * 32 + click!.x]).toBe(1)
    expect(click!.x).toBeGreaterThanOrEqual(9)
    expect(click!.x).toBeLessThanOrEqual(19)
    expect(firstClick(new Uint8Array(32 * 32), 32, 32)).toBeNull()
  })

  it('clicks positive in the largest missed region, negative in the largest false one', () => {
    const object = rectangle(40, 40, 0, 0, 20, 40)
    const underSegmented = rectangle(40, 40, 0, 0, 20, 10) // misses a 20 × 30 block
    const missed = nextClick(object, underSegmented, 40, 40)
    expect(missed?.positive).toBe(true)
    expect(missed!.y).toBeGreaterThanOrEqual(10)
    expect(object[missed!.y * 40 + missed!.x]).toBe(1)

    const overSegmented = rectangle(40, 40, 0, 0, 36, 40) // a 16-wide false band
    const extra = nextClick(object, overSegmented, 40, 40)
    expect(extra?.positive).toBe(false)
    expect(extra!.x).toBeGreaterThanOrEqual(20)
    expect(object[extra!.y * 40 + extra!.x]).toBe(0)

    expect(nextClick(object, object, 40, 40)).toBeNull()
  })
})
