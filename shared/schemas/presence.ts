// Who is working on which image of a project right now (from collaboration awareness).
import { z } from 'zod'

export const ImagePresence = z.object({
  imageId: z.number().int(),
  users: z.array(z.object({ name: z.string(), color: z.string() })),
})
export const ProjectPresence = z.object({ images: z.array(ImagePresence) })
export type ProjectPresence = z.infer<typeof ProjectPresence>
