// A stable, distinct colour per user for cursors and selections.
import { PALETTE } from '../imaging/palette.ts'

export const userColor = (userId: number) => PALETTE[Math.abs(userId) % PALETTE.length]
