// Runs a user action that talks to the server, keeps its error message for the UI, and calls
// back on success (usually to reload what the action changed).
import { useState } from 'react'

export function useAction(onSuccess: () => void) {
  const [error, setError] = useState<string | null>(null)
  const run = async (action: () => Promise<unknown>) => {
    setError(null)
    try {
      await action()
      onSuccess()
    } catch (reason) {
      setError((reason as Error).message)
    }
  }
  return { error, run }
}
