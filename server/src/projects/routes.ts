// Routes for projects, their members and their label classes. Roles are declared per route
// and checked by the ApiRouter before any handler runs.
import { z } from 'zod'
import {
  AddMemberBody,
  CreateLabelClassBody,
  CreateProjectBody,
  LabelClass,
  LabelClassList,
  Member,
  MemberList,
  Project,
  ProjectList,
  UpdateLabelClassBody,
  UpdateMemberBody,
  UpdateProjectBody,
} from '../../../shared/schemas/projects.ts'
import type { AppContext } from '../app.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import { deleteProjectImages } from '../images/index.ts'
import {
  addMember,
  createClass,
  createProject,
  deleteClass,
  deleteProject,
  getProject,
  listClasses,
  listMembers,
  listProjects,
  removeMember,
  updateClass,
  updateMember,
  updateProject,
} from './projects.ts'

const Id = z.coerce.number().int().positive()
export const ProjectParams = z.object({ projectId: Id })

export function registerProjectRoutes(api: ApiRouter, context: AppContext): void {
  const { db } = context
  const tag = 'projects'
  api.route({
    method: 'get',
    path: '/api/projects',
    summary: 'List the projects I am a member of',
    tag,
    auth: 'user',
    response: ProjectList,
    handler: ({ principal }) => ({ projects: listProjects(db, principal!) }),
  })
  api.route({
    method: 'post',
    path: '/api/projects',
    summary: 'Create a project; its creator becomes its owner',
    tag,
    auth: 'user',
    body: CreateProjectBody,
    response: Project,
    status: 201,
    handler: ({ principal, body }) => createProject(db, principal!.userId, body),
  })
  api.route({
    method: 'get',
    path: '/api/projects/:projectId',
    summary: 'One project',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: Project,
    handler: ({ params, role }) => getProject(db, params.projectId, role!),
  })
  api.route({
    method: 'patch',
    path: '/api/projects/:projectId',
    summary: 'Rename a project or change its description',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams,
    body: UpdateProjectBody,
    response: Project,
    handler: ({ params, body, role }) => updateProject(db, params.projectId, role!, body),
  })
  api.route({
    method: 'delete',
    path: '/api/projects/:projectId',
    summary: 'Delete a project with its images and annotations',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams,
    handler: async ({ params }) => {
      await deleteProjectImages(context, params.projectId)
      deleteProject(db, params.projectId)
      context.projectDeleted(params.projectId)
      return undefined
    },
  })

  const MemberParams = ProjectParams.extend({ userId: Id })
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/members',
    summary: 'Members of a project and their roles',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: MemberList,
    handler: ({ params }) => ({ members: listMembers(db, params.projectId) }),
  })
  api.route({
    method: 'post',
    path: '/api/projects/:projectId/members',
    summary: 'Add a user to a project with a role',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams,
    body: AddMemberBody,
    response: Member,
    status: 201,
    handler: ({ params, body }) => {
      const member = addMember(db, params.projectId, body.username, body.role)
      context.accessChanged({ userId: member.userId, projectId: params.projectId })
      return member
    },
  })
  api.route({
    method: 'patch',
    path: '/api/projects/:projectId/members/:userId',
    summary: "Change a member's role",
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: MemberParams,
    body: UpdateMemberBody,
    response: Member,
    handler: ({ params, body }) => {
      const member = updateMember(db, params.projectId, params.userId, body.role)
      // Open editors of that member get the new role at once (read-only for a viewer).
      context.accessChanged({ userId: params.userId, projectId: params.projectId })
      return member
    },
  })
  api.route({
    method: 'delete',
    path: '/api/projects/:projectId/members/:userId',
    summary: 'Remove a member from a project',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: MemberParams,
    handler: ({ params }) => {
      removeMember(db, params.projectId, params.userId)
      context.accessChanged({ userId: params.userId, projectId: params.projectId })
      return undefined
    },
  })

  const ClassParams = ProjectParams.extend({ classId: Id })
  api.route({
    method: 'get',
    path: '/api/projects/:projectId/classes',
    summary: 'Label classes of a project, in order',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: LabelClassList,
    handler: ({ params }) => ({ classes: listClasses(db, params.projectId) }),
  })
  api.route({
    method: 'post',
    path: '/api/projects/:projectId/classes',
    summary: 'Add a label class',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ProjectParams,
    body: CreateLabelClassBody,
    response: LabelClass,
    status: 201,
    handler: ({ params, body }) => createClass(db, params.projectId, body),
  })
  api.route({
    method: 'patch',
    path: '/api/projects/:projectId/classes/:classId',
    summary: 'Rename, recolour, re-key or move a label class',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ClassParams,
    body: UpdateLabelClassBody,
    response: LabelClass,
    handler: ({ params, body }) => updateClass(db, params.projectId, params.classId, body),
  })
  api.route({
    method: 'delete',
    path: '/api/projects/:projectId/classes/:classId',
    summary: 'Delete a label class',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ClassParams,
    handler: ({ params }) => {
      deleteClass(db, params.projectId, params.classId)
      return undefined
    },
  })
}
