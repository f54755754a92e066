// Distinct colours for classes and collaborators (a subset of Sasha Trubetskoy's list).
export const PALETTE = [
  '#e6194b',
  '#3cb44b',
  '#4363d8',
  '#f58231',
  '#911eb4',
  '#42d4f4',
  '#f032e6',
  '#9a6324',
]
