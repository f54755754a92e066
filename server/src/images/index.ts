// Image ingest, renditions and routes.
export { encodeTiff } from './encodeTiff.ts'
export { getImageRow, toImageInfo } from './imageRecords.ts'
export { deleteProjectImages, ingestImages, type UploadedFile } from './ingestImages.ts'
export { registerImageRoutes } from './routes.ts'
