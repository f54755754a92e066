// The annotation document of an image: schema, verbs, readers, origins, migrations.
export * from './annotationDoc.ts'
export * from './guard.ts'
export * from './migrations.ts'
export * from './origins.ts'
export * from './validation.ts'
