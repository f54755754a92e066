// The app shell: session, top bar and the page for the current route.
import { createContext, useContext, useEffect, useState } from 'react'
import type { SessionInfo } from '../../../shared/schemas/auth.ts'
import { api, currentSession, setCsrfToken } from '../api/apiClient.ts'
import { ImagePage } from '../pages/ImagePage.tsx'
import { LoginPage } from '../pages/LoginPage.tsx'
import { ProjectPage } from '../pages/ProjectPage.tsx'
import { ProjectsPage } from '../pages/ProjectsPage.tsx'
import { UsersPage } from '../pages/UsersPage.tsx'
import { Link } from './Link.tsx'
import { matchRoute, navigate, usePath } from './router.ts'

export const SessionContext = createContext<SessionInfo | null>(null)
export const useSession = () => useContext(SessionContext)!

export function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined)
  const [error, setError] = useState<string | null>(null)
  const path = usePath()
  useEffect(() => {
    currentSession().then(setSession, (reason: Error) => setError(reason.message))
  }, [])

  if (error) return <div className="page-message error">Cannot reach the server: {error}</div>
  if (session === undefined) return <div className="page-message">Loading…</div>
  if (session === null) return <LoginPage onLogin={setSession} />

  const logout = async () => {
    await api('POST', '/api/auth/logout').catch(() => undefined)
    setCsrfToken(null)
    setSession(null)
    navigate('/', true)
  }
  const route = matchRoute(path)
  return (
    <SessionContext.Provider value={session}>
      <header className="topbar">
        <Link href="/" className="brand" data-testid="nav.home">
          <span className="brand-mark" aria-hidden="true" />
          Tessera
        </Link>
        <nav className="topbar-nav">
          <Link href="/">Projects</Link>
          {session.user.isAdmin && (
            <Link href="/admin/users" data-testid="nav.users">
              Users
            </Link>
          )}
        </nav>
        <div className="topbar-user">
          <span data-testid="user.name">{session.user.displayName}</span>
          <button type="button" className="link-button" onClick={logout} data-testid="user.logout">
            Log out
          </button>
        </div>
      </header>
      <main className={route.page === 'image' ? 'main main-wide' : 'main'}>
        {route.page === 'projects' && <ProjectsPage />}
        {route.page === 'project' && <ProjectPage projectId={route.projectId} tab={route.tab} />}
        {route.page === 'image' && (
          <ImagePage projectId={route.projectId} imageId={route.imageId} />
        )}
        {route.page === 'users' && <UsersPage />}
        {route.page === 'not-found' && (
          <div className="page-message">This page does not exist.</div>
        )}
      </main>
    </SessionContext.Provider>
  )
}
