// Default display colours of an image's channels as RGB weights in 0..1, by channel count: one
// grey channel; two as green and magenta; three as red, green, blue; a fourth as grey. Used by
// the server's renditions and the editor's window/level, so both show an image alike.
export type ChannelColor = [number, number, number]

export const DEFAULT_CHANNEL_COLORS: Record<number, ChannelColor[]> = {
  1: [[1, 1, 1]],
  2: [
    [0, 1, 0],
    [1, 0, 1],
  ],
  3: [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ],
  4: [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [0.5, 0.5, 0.5],
  ],
}
