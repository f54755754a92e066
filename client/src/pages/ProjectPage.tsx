// A project: its images (with upload), label classes, members, training, instrument streams and
// dataset import / export, in tabs.
import type { Project } from '../../../shared/schemas/projects.ts'
import { Link } from '../app/Link.tsx'
import { type ProjectTab, useDocumentTitle } from '../app/router.ts'
import { useResource } from '../app/useResource.ts'
import { ClassesPanel } from './ClassesPanel.tsx'
import { DatasetPanel } from './datasets/DatasetPanel.tsx'
import { ImagesPanel } from './ImagesPanel.tsx'
import { MembersPanel } from './MembersPanel.tsx'
import { StreamsPanel } from './streams/StreamsPanel.tsx'
import { TrainingPanel } from './TrainingPanel.tsx'

const TABS: readonly (readonly [ProjectTab, string])[] = [
  ['images', 'Images'],
  ['classes', 'Classes'],
  ['members', 'Members'],
  ['training', 'Training'],
  ['streams', 'Streams'],
  ['data', 'Import / export'],
]

export function ProjectPage({ projectId, tab }: { projectId: number; tab: ProjectTab }) {
  const project = useResource<Project>(`/api/projects/${projectId}`)
  useDocumentTitle(project.data?.name ?? 'Project')
  if (project.error) return <p className="error page-message">{project.error}</p>
  if (!project.data) return <p className="page-message">Loading…</p>
  const { role } = project.data
  return (
    <div className="stack">
      <div className="page-header">
        <div>
          <p className="breadcrumb">
            <Link href="/">Projects</Link> /
          </p>
          <h1 data-testid="project.name">{project.data.name}</h1>
          {project.data.description && <p className="muted">{project.data.description}</p>}
        </div>
        <span className={`badge role-${role}`}>{role}</span>
      </div>
      <nav className="tabs">
        {TABS.map(([id, label]) => (
          <Link
            key={id}
            href={`/projects/${projectId}/${id}`}
            className={id === tab ? 'tab active' : 'tab'}
            data-testid={`project.tab.${id}`}
          >
            {label}
          </Link>
        ))}
      </nav>
      {tab === 'images' && (
        <ImagesPanel projectId={projectId} role={role} onChange={project.reload} />
      )}
      {tab === 'classes' && <ClassesPanel projectId={projectId} canEdit={role === 'owner'} />}
      {tab === 'members' && <MembersPanel projectId={projectId} canEdit={role === 'owner'} />}
      {tab === 'training' && <TrainingPanel key={projectId} projectId={projectId} role={role} />}
      {tab === 'streams' && <StreamsPanel key={projectId} projectId={projectId} role={role} />}
      {tab === 'data' && <DatasetPanel key={projectId} projectId={projectId} role={role} />}
    </div>
  )
}
