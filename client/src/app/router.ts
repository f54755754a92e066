// A small router on the History API: the current path as React state, links that push it.
import { useEffect, useSyncExternalStore } from 'react'

const listeners = new Set<() => void>()

export function navigate(path: string, replace = false) {
  if (replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  for (const listener of listeners) listener()
}

function subscribe(listener: () => void) {
  listeners.add(listener)
  window.addEventListener('popstate', listener)
  return () => {
    listeners.delete(listener)
    window.removeEventListener('popstate', listener)
  }
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => location.pathname)
}

export const PROJECT_TABS = ['images', 'classes', 'members', 'training', 'streams', 'data'] as const
export type ProjectTab = (typeof PROJECT_TABS)[number]

export type Route =
  | { page: 'projects' }
  | { page: 'project'; projectId: number; tab: ProjectTab }
  | { page: 'image'; projectId: number; imageId: number }
  | { page: 'users' }
  | { page: 'not-found' }

export function matchRoute(path: string): Route {
  if (path === '/' || path === '/projects') return { page: 'projects' }
  if (path === '/admin/users') return { page: 'users' }
  const image = path.match(/^\/projects\/(\d+)\/images\/(\d+)$/)
  if (image) return { page: 'image', projectId: Number(image[1]), imageId: Number(image[2]) }
  const project = path.match(/^\/projects\/(\d+)(?:\/([a-z]+))?$/)
  const tab = (project?.[2] ?? 'images') as ProjectTab
  if (project && PROJECT_TABS.includes(tab)) {
    return { page: 'project', projectId: Number(project[1]), tab }
  }
  return { page: 'not-found' }
}

export function useDocumentTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · Tessera` : 'Tessera'
  }, [title])
}
