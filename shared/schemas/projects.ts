// HTTP bodies of projects, memberships and label classes.
import { z } from 'zod'

export const ProjectRole = z.enum(['viewer', 'annotator', 'reviewer', 'owner'])
export type ProjectRole = z.infer<typeof ProjectRole>

export const Project = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string(),
  createdAt: z.string(),
  role: ProjectRole,
  imageCount: z.number().int(),
})
export type Project = z.infer<typeof Project>

export const CreateProjectBody = z.object({
  name: z.string().trim().min(1, 'Project name is required').max(200),
  description: z.string().max(5000).default(''),
})
export const UpdateProjectBody = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(5000).optional(),
})
export const ProjectList = z.object({ projects: z.array(Project) })

export const Member = z.object({
  userId: z.number().int(),
  username: z.string(),
  displayName: z.string(),
  role: ProjectRole,
})
export type Member = z.infer<typeof Member>
export const MemberList = z.object({ members: z.array(Member) })
export const AddMemberBody = z.object({ username: z.string().min(1), role: ProjectRole })
export const UpdateMemberBody = z.object({ role: ProjectRole })

const HexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'Colour must be #rrggbb')
const Shortcut = z
  .string()
  .regex(/^[0-9a-z]$/, 'Shortcut must be one digit or lower-case letter')
  .nullable()

export const LabelClass = z.object({
  id: z.number().int(),
  name: z.string(),
  color: z.string(),
  shortcut: z.string().nullable(),
  position: z.number().int(),
})
export type LabelClass = z.infer<typeof LabelClass>
export const LabelClassList = z.object({ classes: z.array(LabelClass) })
export const CreateLabelClassBody = z.object({
  name: z.string().trim().min(1, 'Class name is required').max(100),
  color: HexColor,
  shortcut: Shortcut.optional(),
})
export const UpdateLabelClassBody = z.object({
  name: z.string().trim().min(1).max(100).optional(),
  color: HexColor.optional(),
  shortcut: Shortcut.optional(),
  position: z.number().int().min(0).optional(),
})
