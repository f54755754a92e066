// Live collaboration: the y-websocket endpoint, document storage and the derived image index.
export { CollabServer } from './collabServer.ts'
export { DocStore } from './docStore.ts'
export { computeImageIndex, readImageIndex, writeImageIndex } from './imageIndex.ts'
export { registerCollabRoutes } from './routes.ts'
