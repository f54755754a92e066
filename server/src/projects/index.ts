// Projects, memberships and label classes.

export * from './projects.ts'
export { ProjectParams, registerProjectRoutes } from './routes.ts'
