// "1 image", "3 images": counts in the import and export dialogs.
export const plural = (n: number, word: string, many = `${word}s`) =>
  `${n} ${n === 1 ? word : many}`
