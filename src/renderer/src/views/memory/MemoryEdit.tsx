/**
 * What the person at the cockpit may change in any memory: its tags, its importance (which weighs its rank), whether
 * every project's agents see it; and deleting it, after a confirmation. Each change answers with the memory as it is
 * now, which the panel shows at once.
 */
import { useState, type FormEvent } from 'react';
import type { MemoryUpdate } from '../../../../shared/memory-graph-protocol';
import type { Memory } from '../../../../shared/memory-protocol';
import { ErrorNotice } from '../../components/ui';
import { invoke, useTransport } from '../../hooks';
import { parseTags } from './model';

export function MemoryEdit({ memory, onChanged, onDeleted }: { memory: Memory; onChanged(memory: Memory): void; onDeleted(id: string): void }) {
  const transport = useTransport();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [newTags, setNewTags] = useState('');
  // The slider's value while it differs from the memory's (null: not being changed).
  const [draft, setDraft] = useState<number | null>(null);
  const importance = draft ?? memory.importance;
  const [confirming, setConfirming] = useState(false);

  const update = async (what: string, change: MemoryUpdate) => {
    setBusy(what);
    setError(null);
    try {
      onChanged(await invoke(transport, 'memory.update', { id: memory.id, update: change }));
      return true;
    } catch (failure) {
      setError((failure as Error).message);
      return false;
    } finally {
      setBusy(null);
    }
  };

  const addTags = async (event: FormEvent) => {
    event.preventDefault();
    const adding = parseTags(newTags).filter((tag) => !memory.tags.includes(tag));
    if (adding.length === 0) return setNewTags('');
    if (await update('tags', { tags: [...memory.tags, ...adding] })) setNewTags('');
  };

  const remove = async () => {
    setBusy('delete');
    setError(null);
    try {
      await invoke(transport, 'memory.delete', { id: memory.id });
      onDeleted(memory.id);
    } catch (failure) {
      setError((failure as Error).message);
      setBusy(null);
    }
  };

  return (
    <div className="mem-edit" data-testid="memory-edit">
      <div className="mem-edit-row">
        <span className="mem-edit-label">Tags</span>
        <div className="mem-tags" data-testid="memory-tags">
          {memory.tags.length === 0 && <span className="muted small">none</span>}
          {memory.tags.map((tag) => (
            <span key={tag} className="tag mem-tag" data-testid="memory-tag">
              #{tag}
              <button
                type="button"
                className="mem-tag-remove"
                onClick={() => update('tags', { tags: memory.tags.filter((t) => t !== tag) })}
                disabled={busy !== null}
                aria-label={`Remove tag ${tag}`}
              >
                ×
              </button>
            </span>
          ))}
        </div>
        <form className="mem-tag-form" onSubmit={addTags}>
          <input
            className="input"
            value={newTags}
            onChange={(e) => setNewTags(e.target.value)}
            placeholder="add tags: ci, flaky"
            aria-label="Tags to add (comma or space separated)"
            maxLength={400}
            data-testid="memory-tag-input"
          />
          <button type="submit" className="btn btn-small" disabled={busy !== null || parseTags(newTags).length === 0} data-testid="memory-tag-add">
            Add
          </button>
        </form>
      </div>

      <div className="mem-edit-row">
        <label className="mem-edit-label" htmlFor={`importance-${memory.id}`}>
          Importance
        </label>
        <input
          id={`importance-${memory.id}`}
          type="range"
          min={0}
          max={1}
          step={0.05}
          value={importance}
          onChange={(e) => setDraft(Number(e.target.value))}
          className="mem-importance"
          aria-valuetext={importance.toFixed(2)}
          data-testid="memory-importance"
        />
        <span className="num mem-importance-value" data-testid="memory-importance-value">
          {importance.toFixed(2)}
        </span>
        <button
          type="button"
          className="btn btn-small"
          disabled={busy !== null || Math.abs(importance - memory.importance) < 1e-9}
          onClick={async () => (await update('importance', { importance })) && setDraft(null)}
          data-testid="memory-importance-save"
        >
          {busy === 'importance' ? 'Saving…' : 'Save'}
        </button>
        <span className="muted small">ranks it × {(0.9 + 0.2 * importance).toFixed(2)} in searches</span>
      </div>

      <div className="mem-edit-row">
        <span className="mem-edit-label">Sharing</span>
        <span className="small" data-testid="memory-sharing">
          {memory.shared ? 'Shared: agents of every project find it.' : `Private to ${memory.project}.`}
        </span>
        <button
          type="button"
          className={`btn btn-small ${memory.shared ? 'btn-active' : ''}`}
          aria-pressed={memory.shared}
          disabled={busy !== null}
          onClick={() => update('shared', { shared: !memory.shared })}
          data-testid="memory-share"
        >
          {memory.shared ? 'Stop sharing' : 'Share with every project'}
        </button>
      </div>

      <div className="mem-edit-row">
        {confirming ? (
          <div className="confirm grow" role="alertdialog" aria-label="Delete this memory?">
            <p>
              Delete this memory? Searches and agents will no longer find it{memory.supersedes || memory.supersededBy ? ', and it leaves its update history' : ''}. This
              cannot be undone.
            </p>
            <div className="confirm-actions">
              <button type="button" className="btn" onClick={() => setConfirming(false)} disabled={busy === 'delete'}>
                Cancel
              </button>
              <button type="button" className="btn btn-danger" onClick={remove} disabled={busy === 'delete'} data-testid="memory-delete-confirm" autoFocus>
                {busy === 'delete' ? 'Deleting…' : 'Delete memory'}
              </button>
            </div>
          </div>
        ) : (
          <button type="button" className="btn btn-danger btn-small" onClick={() => setConfirming(true)} disabled={busy !== null} data-testid="memory-delete">
            Delete…
          </button>
        )}
      </div>
      {error && <ErrorNotice title="The change failed" message={error} />}
    </div>
  );
}
