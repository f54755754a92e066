// The project's instrument tokens, for owners: an instrument (or its bridge) sends frames with
// one. A new token is shown once, here, with where to send frames; only its hash is kept.
import { type FormEvent, useState } from 'react'
import {
  type CreatedInstrumentTokenValue,
  createInstrumentToken,
  fetchInstrumentTokens,
  ingestUrl,
  revokeInstrumentToken,
} from '../../api/streams.ts'
import { useAction } from '../../app/useAction.ts'
import { useLoaded } from './useLoaded.ts'

function CreatedToken({
  created,
  streamId,
}: {
  created: CreatedInstrumentTokenValue
  streamId: number | null
}) {
  const [copied, setCopied] = useState(false)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.token)
      setCopied(true)
    } catch {
      setCopied(false)
    }
  }
  return (
    <div
      className="card success stream-token-created stack-tight"
      data-testid="streams.tokens.created"
    >
      <p>
        Token for <strong>{created.name}</strong>. Copy it now: it is shown only once.
      </p>
      <div className="inline-form">
        <input
          readOnly
          value={created.token}
          className="stream-token-value"
          aria-label="New instrument token"
          onFocus={(e) => e.target.select()}
          data-testid="streams.tokens.value"
        />
        {navigator.clipboard && (
          <button type="button" onClick={copy}>
            {copied ? 'Copied' : 'Copy'}
          </button>
        )}
      </div>
      <p className="small">
        The instrument connects to <code>{ingestUrl(streamId ?? ':streamId')}</code> with{' '}
        <code>Authorization: Bearer {created.token.slice(0, 8)}…</code>. A token works for this
        project's streams only.
      </p>
    </div>
  )
}

export function InstrumentTokensCard({
  projectId,
  streamId,
  connections,
}: {
  projectId: number
  /** The stream the ingest hint names (the selected one). */
  streamId: number | null
  /** Instruments connected to the project's streams: a change reloads the tokens' last use. */
  connections: number
}) {
  const tokens = useLoaded(() => fetchInstrumentTokens(projectId), [projectId, connections])
  const [name, setName] = useState('')
  const [created, setCreated] = useState<CreatedInstrumentTokenValue | null>(null)
  const { error, run } = useAction(tokens.reload)
  const create = (event: FormEvent) => {
    event.preventDefault()
    run(async () => {
      setCreated(await createInstrumentToken(projectId, name.trim()))
      setName('')
    })
  }
  return (
    <div className="card stream-card stack-tight" data-testid="streams.tokens">
      <h3>Instrument tokens</h3>
      <p className="muted small">
        An instrument, or the bridge in front of it, sends frames with a token of this project.
      </p>
      {(error || tokens.error) && (
        <p className="error small" role="alert">
          {error ?? tokens.error}
        </p>
      )}
      {created && <CreatedToken created={created} streamId={streamId} />}
      {tokens.data && tokens.data.length > 0 && (
        <table className="table compact">
          <thead>
            <tr>
              <th>Name</th>
              <th>Created</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((token) => (
              <tr key={token.id} data-testid="streams.tokens.item" data-token-id={token.id}>
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
                      className="danger"
                      onClick={() => run(() => revokeInstrumentToken(projectId, token.id))}
                      aria-label={`Revoke ${token.name}`}
                      data-testid="streams.tokens.revoke"
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="inline-form" onSubmit={create}>
        <input
          className="stream-token-name"
          placeholder="Instrument name (e.g. confocal-2)"
          aria-label="Instrument name"
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
          data-testid="streams.tokens.name"
        />
        <button type="submit" disabled={!name.trim()} data-testid="streams.tokens.create">
          New instrument token
        </button>
      </form>
    </div>
  )
}
