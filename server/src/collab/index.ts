// Live collaboration: the y-websocket endpoint built from extensions, document storage and the
// derived image index.
export { CollabServer } from './collabServer.ts'
export type { AppliedUpdates, DocumentStore, StoredDocument } from './documentStore.ts'
export { AccessCheck } from './extensions/AccessCheck.ts'
export { DocumentPolicy } from './extensions/DocumentPolicy.ts'
export { ImageIndexing } from './extensions/ImageIndexing.ts'
export { Persistence } from './extensions/Persistence.ts'
export { Presence, presenceOf } from './extensions/Presence.ts'
export { SuggestionOutcomes } from './extensions/SuggestionOutcomes.ts'
export type { CollabExtension } from './hooks.ts'
export { computeImageIndex, readImageIndex, writeImageIndex } from './imageIndex.ts'
export { registerCollabRoutes } from './routes.ts'
export { SqliteDocumentStore } from './SqliteDocumentStore.ts'
