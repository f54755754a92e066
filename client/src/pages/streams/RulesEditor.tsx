// A stream's feedback rules. Owners edit them as rows (name, enabled, metric, operator, value,
// action) and save them all at once (PUT rules); everyone else reads them as sentences.
import { useState } from 'react'
import {
  type Rule,
  RuleAction,
  RuleMetric,
  RuleOp,
  type StreamInfo,
} from '../../../../shared/schemas/streams.ts'
import { replaceRules } from '../../api/streams.ts'
import {
  ACTION_LABELS,
  CHANNELS,
  describeRule,
  draftOf,
  hasChannel,
  METRIC_LABELS,
  newDraft,
  OP_LABELS,
  type RuleDraft,
  rulesOf,
} from './ruleForm.ts'

const CHANNEL_OPTIONS = Array.from({ length: CHANNELS }, (_, channel) => String(channel))

/** Most rules a stream holds (ReplaceRules). */
const MAX_RULES = 32

function RuleRow({
  position,
  draft,
  onChange,
  onRemove,
}: {
  /** 1-based row number, which names the row's fields for screen readers. */
  position: number
  draft: RuleDraft
  onChange(draft: RuleDraft): void
  onRemove(): void
}) {
  const set = (changes: Partial<RuleDraft>) => onChange({ ...draft, ...changes })
  const name = `Rule ${position}`
  return (
    <tr data-testid="streams.rules.row">
      <td>
        <input
          type="checkbox"
          checked={draft.enabled}
          onChange={(e) => set({ enabled: e.target.checked })}
          aria-label={`${name}: enabled`}
          data-testid="streams.rules.enabled"
        />
      </td>
      <td>
        <input
          value={draft.name}
          maxLength={100}
          onChange={(e) => set({ name: e.target.value })}
          aria-label={`${name}: name`}
          data-testid="streams.rules.name"
        />
      </td>
      <td>
        <span className="inline-form">
          <select
            value={draft.metric}
            onChange={(e) => set({ metric: e.target.value as RuleDraft['metric'] })}
            aria-label={`${name}: metric`}
            data-testid="streams.rules.metric"
          >
            {RuleMetric.options.map((metric) => (
              <option key={metric} value={metric}>
                {METRIC_LABELS[metric]}
              </option>
            ))}
          </select>
          {hasChannel(draft.metric) && (
            <select
              value={draft.channel}
              onChange={(e) => set({ channel: e.target.value })}
              aria-label={`${name}: channel`}
              data-testid="streams.rules.channel"
            >
              {CHANNEL_OPTIONS.map((channel) => (
                <option key={channel} value={channel}>
                  channel {channel}
                </option>
              ))}
            </select>
          )}
          <select
            value={draft.op}
            onChange={(e) => set({ op: e.target.value as RuleDraft['op'] })}
            aria-label={`${name}: operator`}
            data-testid="streams.rules.op"
          >
            {RuleOp.options.map((op) => (
              <option key={op} value={op}>
                {OP_LABELS[op]}
              </option>
            ))}
          </select>
          <input
            type="number"
            step="any"
            className="stream-rule-value"
            value={draft.value}
            onChange={(e) => set({ value: e.target.value })}
            aria-label={`${name}: value`}
            data-testid="streams.rules.value"
          />
        </span>
      </td>
      <td>
        <select
          value={draft.action}
          onChange={(e) => set({ action: e.target.value as RuleDraft['action'] })}
          aria-label={`${name}: action`}
          data-testid="streams.rules.action"
        >
          {RuleAction.options.map((action) => (
            <option key={action} value={action}>
              {ACTION_LABELS[action]}
            </option>
          ))}
        </select>
      </td>
      <td>
        <button
          type="button"
          onClick={onRemove}
          aria-label={`Remove ${name}`}
          data-testid="streams.rules.remove"
        >
          Remove
        </button>
      </td>
    </tr>
  )
}

function RuleSentences({ rules }: { rules: readonly Rule[] }) {
  if (rules.length === 0) return <p className="muted small">No rules: frames are only measured.</p>
  return (
    <ul className="plain-list small" data-testid="streams.rules.list">
      {rules.map((rule) => (
        <li key={rule.id} data-testid="streams.rules.item" className={rule.enabled ? '' : 'muted'}>
          <strong>{rule.name}</strong>: {describeRule(rule)}
          {!rule.enabled && ' (off)'}
        </li>
      ))}
    </ul>
  )
}

export function RulesEditor({
  projectId,
  streamId,
  rules,
  canEdit,
  onSaved,
}: {
  projectId: number
  streamId: number
  rules: readonly Rule[]
  canEdit: boolean
  /** The stream as stored with its new rules. */
  onSaved(stream: StreamInfo): void
}) {
  const [drafts, setDrafts] = useState<RuleDraft[] | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [saved, setSaved] = useState(false)
  const editing = drafts !== null

  const edit = () => {
    setDrafts(rules.map(draftOf))
    setSaved(false)
    setError(null)
  }
  const save = async () => {
    if (!drafts) return
    const result = rulesOf(drafts)
    if ('error' in result) return setError(result.error)
    setBusy(true)
    setError(null)
    try {
      onSaved(await replaceRules(projectId, streamId, result.rules))
      setDrafts(null)
      setSaved(true)
    } catch (reason) {
      setError((reason as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="card stream-card stack-tight" data-testid="streams.rules">
      <h3>Rules</h3>
      <p className="muted small">
        Each frame's results are checked against the enabled rules; a rule that holds sends its
        action to the instrument and to subscribers, and is recorded in the event log.
      </p>
      {!editing && <RuleSentences rules={rules} />}
      {editing && (
        <div className="table-scroll">
          <table className="table compact stream-rules-table">
            <thead>
              <tr>
                <th>On</th>
                <th>Name</th>
                <th>Condition</th>
                <th>Action</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {drafts.map((draft, index) => (
                <RuleRow
                  key={draft.key}
                  position={index + 1}
                  draft={draft}
                  onChange={(next) => setDrafts(drafts.map((d, i) => (i === index ? next : d)))}
                  onRemove={() => setDrafts(drafts.filter((_, i) => i !== index))}
                />
              ))}
            </tbody>
          </table>
          {drafts.length === 0 && <p className="muted small">No rules.</p>}
        </div>
      )}
      {canEdit && (
        <div className="inline-form">
          {editing ? (
            <>
              <button
                type="button"
                disabled={drafts.length >= MAX_RULES}
                onClick={() => setDrafts([...drafts, newDraft(drafts.length + 1)])}
                data-testid="streams.rules.add"
              >
                Add rule
              </button>
              <button
                type="button"
                className="primary"
                disabled={busy}
                onClick={save}
                data-testid="streams.rules.save"
              >
                Save rules
              </button>
              <button type="button" disabled={busy} onClick={() => setDrafts(null)}>
                Cancel
              </button>
            </>
          ) : (
            <button type="button" onClick={edit} data-testid="streams.rules.edit">
              Edit rules
            </button>
          )}
          {saved && !editing && (
            <span className="success small" role="status" data-testid="streams.rules.saved">
              Rules saved.
            </span>
          )}
        </div>
      )}
      {error && (
        <p className="error small" role="alert" data-testid="streams.rules.error">
          {error}
        </p>
      )}
    </div>
  )
}
