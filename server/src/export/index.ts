// Dataset export: the project's annotations in the field's formats, as a streamed ZIP.
export { exportDataset, previewExport, selectExportImages } from './datasetExport.ts'
export { registerExportRoutes } from './routes.ts'
export { ZipWriter } from './ZipWriter.ts'
