// Order statistics for benchmark samples.
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const position = q * (sorted.length - 1)
  const below = Math.floor(position)
  const above = Math.min(below + 1, sorted.length - 1)
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below)
}

export const median = (values: number[]) => quantile(values, 0.5)
export const round = (value: number, digits = 1) => Number(value.toFixed(digits))
