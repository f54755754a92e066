// Dataset import: annotations (and images) from the field's formats into an existing project.
export { commitImport, planImport } from './datasetImport.ts'
export { openImportArchive, unsafeEntryPath } from './ImportArchive.ts'
export { registerImportRoutes } from './routes.ts'
