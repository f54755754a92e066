// Projects, memberships and label classes as plain service functions over SQLite.
// Routes call these after the router has checked the caller's role.
import type { LabelClass, Member, Project, ProjectRole } from '../../../shared/schemas/projects.ts'
import type { Db } from '../db/database.ts'
import type { Principal } from '../http/ApiRouter.ts'
import { HttpError } from '../http/HttpError.ts'

interface ProjectRow {
  id: number
  name: string
  description: string
  created_at: string
  role: ProjectRole | null
  image_count: number
}

const PROJECT_COLUMNS = `p.id, p.name, p.description, p.created_at,
  (SELECT count(*) FROM images i WHERE i.project_id = p.id) AS image_count`

function toProject(row: ProjectRow, fallbackRole: ProjectRole): Project {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    createdAt: row.created_at,
    role: row.role ?? fallbackRole,
    imageCount: row.image_count,
  }
}

export function listProjects(db: Db, principal: Principal): Project[] {
  // Administrators see every project, as its owner when they are not a member.
  const sql = principal.isAdmin
    ? `SELECT ${PROJECT_COLUMNS}, m.role FROM projects p
       LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = ? ORDER BY p.id`
    : `SELECT ${PROJECT_COLUMNS}, m.role FROM projects p
       JOIN project_members m ON m.project_id = p.id AND m.user_id = ? ORDER BY p.id`
  return (db.prepare(sql).all(principal.userId) as ProjectRow[]).map((row) =>
    toProject(row, 'owner'),
  )
}

export function getProject(db: Db, projectId: number, role: ProjectRole): Project {
  const row = db
    .prepare(`SELECT ${PROJECT_COLUMNS}, NULL AS role FROM projects p WHERE p.id = ?`)
    .get(projectId) as ProjectRow | undefined
  if (!row) throw new HttpError(404, 'Project not found')
  return toProject(row, role)
}

export function createProject(
  db: Db,
  userId: number,
  input: { name: string; description: string },
): Project {
  const projectId = db.transaction(() => {
    const result = db
      .prepare('INSERT INTO projects (name, description, created_by) VALUES (?, ?, ?)')
      .run(input.name, input.description, userId)
    const id = Number(result.lastInsertRowid)
    db.prepare(
      "INSERT INTO project_members (project_id, user_id, role) VALUES (?, ?, 'owner')",
    ).run(id, userId)
    return id
  })()
  return getProject(db, projectId, 'owner')
}

export function updateProject(
  db: Db,
  projectId: number,
  role: ProjectRole,
  changes: { name?: string; description?: string },
): Project {
  if (changes.name !== undefined) {
    db.prepare('UPDATE projects SET name = ? WHERE id = ?').run(changes.name, projectId)
  }
  if (changes.description !== undefined) {
    db.prepare('UPDATE projects SET description = ? WHERE id = ?').run(
      changes.description,
      projectId,
    )
  }
  return getProject(db, projectId, role)
}

export function deleteProject(db: Db, projectId: number): void {
  db.prepare('DELETE FROM projects WHERE id = ?').run(projectId)
}

const MEMBER_SQL = `SELECT u.id AS userId, u.username, u.display_name AS displayName, m.role
  FROM project_members m JOIN users u ON u.id = m.user_id`

export function listMembers(db: Db, projectId: number): Member[] {
  return db
    .prepare(`${MEMBER_SQL} WHERE m.project_id = ? ORDER BY u.username`)
    .all(projectId) as Member[]
}

function getMember(db: Db, projectId: number, userId: number): Member {
  const member = db
    .prepare(`${MEMBER_SQL} WHERE m.project_id = ? AND m.user_id = ?`)
    .get(projectId, userId) as Member | undefined
  if (!member) throw new HttpError(404, 'Member not found')
  return member
}

export function addMember(db: Db, projectId: number, username: string, role: ProjectRole): Member {
  const user = db.prepare('SELECT id FROM users WHERE username = ?').get(username) as
    | { id: number }
    | undefined
  if (!user) throw new HttpError(404, `No user named "${username}"`)
  const exists = db
    .prepare('SELECT 1 FROM project_members WHERE project_id = ? AND user_id = ?')
    .get(projectId, user.id)
  if (exists) throw new HttpError(409, `${username} is already a member of this project`)
  db.prepare('INSERT INTO project_members (project_id, user_id, role) VALUES (?, ?, ?)').run(
    projectId,
    user.id,
    role,
  )
  return getMember(db, projectId, user.id)
}

function assertNotLastOwner(db: Db, projectId: number, userId: number) {
  const member = getMember(db, projectId, userId)
  if (member.role !== 'owner') return
  const { n } = db
    .prepare("SELECT count(*) AS n FROM project_members WHERE project_id = ? AND role = 'owner'")
    .get(projectId) as { n: number }
  if (n <= 1) throw new HttpError(409, 'A project needs at least one owner')
}

export function updateMember(db: Db, projectId: number, userId: number, role: ProjectRole): Member {
  if (role !== 'owner') assertNotLastOwner(db, projectId, userId)
  else getMember(db, projectId, userId)
  db.prepare('UPDATE project_members SET role = ? WHERE project_id = ? AND user_id = ?').run(
    role,
    projectId,
    userId,
  )
  return getMember(db, projectId, userId)
}

export function removeMember(db: Db, projectId: number, userId: number): void {
  assertNotLastOwner(db, projectId, userId)
  db.prepare('DELETE FROM project_members WHERE project_id = ? AND user_id = ?').run(
    projectId,
    userId,
  )
}

export function listClasses(db: Db, projectId: number): LabelClass[] {
  return db
    .prepare(
      'SELECT id, name, color, shortcut, position FROM label_classes WHERE project_id = ? ORDER BY position, id',
    )
    .all(projectId) as LabelClass[]
}

function getClass(db: Db, projectId: number, classId: number): LabelClass {
  const row = db
    .prepare(
      'SELECT id, name, color, shortcut, position FROM label_classes WHERE id = ? AND project_id = ?',
    )
    .get(classId, projectId) as LabelClass | undefined
  if (!row) throw new HttpError(404, 'Class not found')
  return row
}

function assertClassUnique(
  db: Db,
  projectId: number,
  exceptId: number,
  name?: string,
  shortcut?: string | null,
) {
  const sameName =
    name !== undefined &&
    db
      .prepare('SELECT 1 FROM label_classes WHERE project_id = ? AND name = ? AND id != ?')
      .get(projectId, name, exceptId)
  if (sameName) throw new HttpError(409, `A class named "${name}" already exists`)
  const sameShortcut =
    shortcut &&
    (db
      .prepare('SELECT name FROM label_classes WHERE project_id = ? AND shortcut = ? AND id != ?')
      .get(projectId, shortcut, exceptId) as { name: string } | undefined)
  if (sameShortcut) {
    throw new HttpError(409, `Shortcut "${shortcut}" is already used by "${sameShortcut.name}"`)
  }
}

export function createClass(
  db: Db,
  projectId: number,
  input: { name: string; color: string; shortcut?: string | null },
): LabelClass {
  assertClassUnique(db, projectId, -1, input.name, input.shortcut)
  const { next } = db
    .prepare(
      'SELECT coalesce(max(position) + 1, 0) AS next FROM label_classes WHERE project_id = ?',
    )
    .get(projectId) as { next: number }
  const result = db
    .prepare(
      'INSERT INTO label_classes (project_id, name, color, shortcut, position) VALUES (?, ?, ?, ?, ?)',
    )
    .run(projectId, input.name, input.color.toLowerCase(), input.shortcut ?? null, next)
  return getClass(db, projectId, Number(result.lastInsertRowid))
}

export function updateClass(
  db: Db,
  projectId: number,
  classId: number,
  changes: { name?: string; color?: string; shortcut?: string | null; position?: number },
): LabelClass {
  getClass(db, projectId, classId)
  assertClassUnique(db, projectId, classId, changes.name, changes.shortcut)
  db.transaction(() => {
    if (changes.name !== undefined) {
      db.prepare('UPDATE label_classes SET name = ? WHERE id = ?').run(changes.name, classId)
    }
    if (changes.color !== undefined) {
      db.prepare('UPDATE label_classes SET color = ? WHERE id = ?').run(
        changes.color.toLowerCase(),
        classId,
      )
    }
    if (changes.shortcut !== undefined) {
      db.prepare('UPDATE label_classes SET shortcut = ? WHERE id = ?').run(
        changes.shortcut,
        classId,
      )
    }
    if (changes.position !== undefined) {
      // Move the class to the requested index and renumber the others densely.
      const ids = listClasses(db, projectId)
        .map((c) => c.id)
        .filter((id) => id !== classId)
      ids.splice(Math.min(changes.position, ids.length), 0, classId)
      const setPosition = db.prepare('UPDATE label_classes SET position = ? WHERE id = ?')
      for (const [index, id] of ids.entries()) setPosition.run(index, id)
    }
  })()
  return getClass(db, projectId, classId)
}

export function deleteClass(db: Db, projectId: number, classId: number): void {
  getClass(db, projectId, classId)
  db.prepare('DELETE FROM label_classes WHERE id = ?').run(classId)
}
