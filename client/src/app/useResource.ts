// Loads a JSON resource for a page and reloads it on demand; errors become messages.
import { useCallback, useEffect, useState } from 'react'
import { api } from '../api/apiClient.ts'

export interface Resource<T> {
  data: T | null
  error: string | null
  loading: boolean
  reload(): void
}

export function useResource<T>(path: string | null): Resource<T> {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const [version, setVersion] = useState(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: version triggers a reload
  useEffect(() => {
    if (!path) return
    let current = true
    setLoading(true)
    api<T>('GET', path).then(
      (value) => {
        if (!current) return
        setData(value)
        setError(null)
        setLoading(false)
      },
      (reason: Error) => {
        if (!current) return
        setError(reason.message)
        setLoading(false)
      },
    )
    return () => {
      current = false
    }
  }, [path, version])
  const reload = useCallback(() => setVersion((v) => v + 1), [])
  return { data, error, loading, reload }
}
