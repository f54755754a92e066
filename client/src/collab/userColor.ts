// A stable, distinct colour per user for cursors and selections.
const COLORS = [
  '#e6194b',
  '#3cb44b',
  '#4363d8',
  '#f58231',
  '#911eb4',
  '#42d4f4',
  '#f032e6',
  '#9a6324',
]

export const userColor = (userId: number) => COLORS[Math.abs(userId) % COLORS.length]
