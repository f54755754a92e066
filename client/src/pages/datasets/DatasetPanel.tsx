// The project's Import / export tab: every member exports; annotators and above import (only
// owners create classes). The project's classes are loaded once here for both dialogs.
import { useState } from 'react'
import type { LabelClass, ProjectRole } from '../../../../shared/schemas/projects.ts'
import { useResource } from '../../app/useResource.ts'
import { ExportForm } from './ExportForm.tsx'
import { ImportForm } from './ImportForm.tsx'

export function DatasetPanel({ projectId, role }: { projectId: number; role: ProjectRole }) {
  const classes = useResource<{ classes: LabelClass[] }>(`/api/projects/${projectId}/classes`)
  /** Imports done here: each one changes what an export holds. */
  const [imports, setImports] = useState(0)
  return (
    <section className="stack" data-testid="datasets.panel">
      {classes.error && (
        <p className="error" role="alert">
          {classes.error}
        </p>
      )}
      <div className="dataset-forms">
        <ExportForm
          projectId={projectId}
          classes={classes.data?.classes ?? null}
          imports={imports}
        />
        {role === 'viewer' ? (
          <p className="muted card dataset-card" data-testid="import.viewer">
            Viewers can export; importing needs the annotator role or above.
          </p>
        ) : (
          <ImportForm
            projectId={projectId}
            classes={classes.data?.classes ?? []}
            canCreateClasses={role === 'owner'}
            onImported={() => {
              classes.reload()
              setImports((n) => n + 1)
            }}
          />
        )}
      </div>
    </section>
  )
}
