// The projects list: the projects the user belongs to, each card opening its project, and a
// form to create one.
import { type FormEvent, useState } from 'react'
import type { Project } from '../../../shared/schemas/projects.ts'
import { api } from '../api/apiClient.ts'
import { Link } from '../app/Link.tsx'
import { navigate, useDocumentTitle } from '../app/router.ts'
import { useResource } from '../app/useResource.ts'

export function ProjectsPage() {
  useDocumentTitle('Projects')
  const projects = useResource<{ projects: Project[] }>('/api/projects')
  const [name, setName] = useState('')
  const [error, setError] = useState<string | null>(null)
  const create = async (event: FormEvent) => {
    event.preventDefault()
    setError(null)
    try {
      const project = await api<Project>('POST', '/api/projects', { name })
      navigate(`/projects/${project.id}`)
    } catch (reason) {
      setError((reason as Error).message)
    }
  }
  return (
    <div className="stack">
      <div className="page-header">
        <h1>Projects</h1>
        <form className="inline-form" onSubmit={create}>
          <input
            placeholder="New project name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            data-testid="projects.name"
          />
          <button
            type="submit"
            className="primary"
            disabled={!name.trim()}
            data-testid="projects.create"
          >
            Create project
          </button>
        </form>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {projects.error && <p className="error">{projects.error}</p>}
      {projects.data && projects.data.projects.length === 0 && (
        <p className="empty">No projects yet. Create one to upload images and start labelling.</p>
      )}
      <ul className="project-list" data-testid="projects.list">
        {projects.data?.projects.map((project) => (
          <li key={project.id} className="card project-card" data-testid="projects.item">
            {/* The name's link covers the whole card (styles.css), so a click anywhere on it
                opens the project while keyboards and screen readers meet one plain link. */}
            <Link href={`/projects/${project.id}`} className="project-name">
              {project.name}
            </Link>
            <p className="muted">{project.description || 'No description'}</p>
            <div className="project-meta">
              <span className={`badge role-${project.role}`}>{project.role}</span>
              <span>
                {project.imageCount} image{project.imageCount === 1 ? '' : 's'}
              </span>
            </div>
          </li>
        ))}
      </ul>
    </div>
  )
}
