import { type FormEvent, useState } from 'react'
import type { SessionInfo } from '../../../shared/schemas/auth.ts'
import { login } from '../api/apiClient.ts'

export function LoginPage({ onLogin }: { onLogin(session: SessionInfo): void }) {
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      onLogin(await login(username, password))
    } catch (reason) {
      setError((reason as Error).message)
    } finally {
      setBusy(false)
    }
  }
  return (
    <div className="login">
      <form className="card login-card" onSubmit={submit}>
        <h1 className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Tessera
        </h1>
        <p className="muted">
          Label scientific images together, with a model that learns as you go.
        </p>
        <label>
          Username
          <input
            autoFocus
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            data-testid="login.username"
          />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            data-testid="login.password"
          />
        </label>
        {error && (
          <p className="error" role="alert" data-testid="login.error">
            {error}
          </p>
        )}
        <button
          type="submit"
          className="primary"
          disabled={busy || !username || !password}
          data-testid="login.submit"
        >
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </div>
  )
}
