// Loads a value with an async function (a parsed API call) and reloads it on demand; errors
// become messages. useResource's counterpart for calls that parse their answer.
import { type DependencyList, useCallback, useEffect, useState } from 'react'

export function useLoaded<T>(load: () => Promise<T>, deps: DependencyList) {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [version, setVersion] = useState(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names what load depends on
  useEffect(() => {
    let current = true
    load().then(
      (value) => {
        if (!current) return
        setData(value)
        setError(null)
      },
      (reason: Error) => current && setError(reason.message),
    )
    return () => {
      current = false
    }
  }, [...deps, version])
  const reload = useCallback(() => setVersion((v) => v + 1), [])
  return { data, error, reload }
}
