// A project's active-learning settings (strategy, claim minutes, pre-annotation), kept in
// projects.settings_json under 'activeLearning' beside the training settings. Never touches the
// other keys of settings_json.
import {
  ActiveLearningSettings,
  DEFAULT_ACTIVE_LEARNING,
} from '../../../shared/schemas/activeLearning.ts'
import type { Db } from '../db/database.ts'
import { HttpError } from '../http/HttpError.ts'

const KEY = 'activeLearning'

function storedSettings(db: Db, projectId: number): Record<string, unknown> {
  const row = db.prepare('SELECT settings_json FROM projects WHERE id = ?').get(projectId) as
    | { settings_json: string }
    | undefined
  if (!row) throw new HttpError(404, 'Project not found')
  return JSON.parse(row.settings_json) as Record<string, unknown>
}

/**
 * The project's settings; the defaults where none were saved. A stored value that no longer
 * fits the schema (an older server's, a strategy since removed) gives way to the defaults field
 * by field rather than failing every reader.
 */
export function readActiveLearningSettings(db: Db, projectId: number): ActiveLearningSettings {
  const stored = storedSettings(db, projectId)[KEY]
  const settings: Record<string, unknown> = { ...DEFAULT_ACTIVE_LEARNING }
  if (stored && typeof stored === 'object') {
    for (const [field, value] of Object.entries(stored)) {
      const shape = ActiveLearningSettings.shape[field as keyof ActiveLearningSettings]
      if (shape?.safeParse(value).success) settings[field] = value
    }
  }
  return ActiveLearningSettings.parse(settings)
}

export function saveActiveLearningSettings(
  db: Db,
  projectId: number,
  settings: ActiveLearningSettings,
): ActiveLearningSettings {
  db.transaction(() => {
    const next = { ...storedSettings(db, projectId), [KEY]: settings }
    db.prepare('UPDATE projects SET settings_json = ? WHERE id = ?').run(
      JSON.stringify(next),
      projectId,
    )
  })()
  return readActiveLearningSettings(db, projectId)
}
