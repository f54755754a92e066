// Worker tokens for site administrators: training workers (a GPU machine, a Slurm node) pull
// jobs with one. A new token is shown once, here; only its hash is kept.
import { type FormEvent, useState } from 'react'
import type { z } from 'zod'
import type { CreatedWorkerToken, WorkerTokenList } from '../../../shared/schemas/training.ts'
import { api } from '../api/apiClient.ts'
import { useAction } from '../app/useAction.ts'
import { useResource } from '../app/useResource.ts'

export function WorkerTokensPanel() {
  const tokens = useResource<z.infer<typeof WorkerTokenList>>('/api/admin/worker-tokens')
  const [name, setName] = useState('')
  const [created, setCreated] = useState<z.infer<typeof CreatedWorkerToken> | null>(null)
  const { error, run } = useAction(tokens.reload)
  const create = (event: FormEvent) => {
    event.preventDefault()
    run(async () => {
      setCreated(await api('POST', '/api/admin/worker-tokens', { name }))
      setName('')
    })
  }
  return (
    <section className="stack" data-testid="worker-tokens">
      <h2>Worker tokens</h2>
      <p className="muted">
        Training workers lease jobs with a worker token:{' '}
        <code>
          TESSERA_WORKER_TOKEN=… python3 -m tessera_trainer work --server {window.location.origin}{' '}
          --device cuda
        </code>{' '}
        (see the README). A token works for the worker API only.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {created && (
        <p className="card success" data-testid="worker-tokens.created">
          Token for {created.name} (shown once): <code>{created.token}</code>
        </p>
      )}
      <table className="table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Created</th>
            <th>Last used</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {tokens.data?.tokens.map((token) => (
            <tr key={token.id} data-testid="worker-tokens.item">
              <td>{token.name}</td>
              <td className="muted">{new Date(token.createdAt).toLocaleString()}</td>
              <td className="muted">
                {token.lastUsedAt ? new Date(token.lastUsedAt).toLocaleString() : 'never'}
              </td>
              <td>
                {token.revokedAt ? (
                  <span className="muted">revoked</span>
                ) : (
                  <button
                    type="button"
                    onClick={() => run(() => api('DELETE', `/api/admin/worker-tokens/${token.id}`))}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="inline-form" onSubmit={create}>
        <input
          placeholder="Worker name (e.g. gpu-node-1)"
          value={name}
          onChange={(e) => setName(e.target.value)}
          data-testid="worker-tokens.name"
        />
        <button type="submit" className="primary" disabled={!name.trim()}>
          New worker token
        </button>
      </form>
    </section>
  )
}
