// Close codes of the collaboration websocket, shared by server and client (the client shows
// a message for each instead of reconnecting forever).
export const CloseCode = {
  /** No valid session cookie or token. */
  Unauthorized: 4401,
  /** Authenticated, but not a member of the image's project. */
  Forbidden: 4403,
  /** An update the server cannot apply (it depends on history the server never received). */
  BadUpdate: 4400,
  /** The room names no image (or is not the image's one canonical name, `image:<id>`). */
  NotFound: 4404,
  /** A message above the server's message size limit (the websocket's own 1009 is used). */
  MessageTooBig: 1009,
  /** The update would grow the image's document beyond the server's limit. */
  DocTooLarge: 4413,
  /** The server is shutting down; reconnect later. */
  ServerShutdown: 1012,
} as const
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

export const CLOSE_REASON: Record<number, string> = {
  [CloseCode.Unauthorized]: 'Log in again to keep editing',
  [CloseCode.Forbidden]: 'You are not a member of this project',
  [CloseCode.BadUpdate]: 'The server could not apply an edit from this browser; reload the image',
  [CloseCode.NotFound]: 'This image no longer exists',
  [CloseCode.MessageTooBig]: 'An edit was too large for the server',
  [CloseCode.DocTooLarge]: "This image's annotations reached the server's size limit",
  [CloseCode.ServerShutdown]: 'The server is restarting',
}
