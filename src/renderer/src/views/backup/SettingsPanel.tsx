/** The backup settings form, edited as a draft, with its preview. */
import { useMemo, useState, type FormEvent } from 'react';
import { createPortal } from 'react-dom';
import { BackupSourceSchema, isAbsolutePath } from '../../../../shared/backup-protocol';
import type { CallParams } from '../../../../shared/contract';
import { ErrorNotice, Panel, Tag } from '../../components/ui';
import { invoke, useTransport } from '../../hooks';
import {
  draftFrom,
  draftMaxBytes,
  newSourceKey,
  parsePatterns,
  patternsVersusDefaults,
  sameSettings,
  settingsFromDraft,
  type Draft,
  type FieldError,
  type Overview,
  type PreviewState,
  type Settings,
} from './model';
import { PreviewPanel } from './PreviewPanel';

type PreviewRequest = CallParams<'backup.preview'>;

/** What the preview needs from the draft, or null while those fields are not valid yet. */
function previewRequest(draft: Draft, errors: FieldError[]): PreviewRequest | null {
  if (errors.some((e) => e.field === 'sources' || e.field === 'maxFileMb' || e.field === 'exclude')) return null;
  return {
    sources: draft.sources.map((s) => ({ name: s.name.trim(), path: s.path.trim() })),
    exclude: parsePatterns(draft.exclude),
    useGitignore: draft.useGitignore,
    maxFileBytes: draftMaxBytes(draft),
    limit: 500,
  };
}

/** The last path segment, as a suggested project name. */
function folderName(p: string): string {
  const parts = p.trim().split(/[\\/]+/).filter(Boolean);
  const last = parts[parts.length - 1] ?? '';
  return /^[A-Za-z]:$/.test(last) ? '' : last.replace(/[^\p{L}\p{N} _.()-]/gu, '-').slice(0, 64);
}

/**
 * Where backups go and what they take, edited as a draft: nothing changes until "Save settings", and "Preview"
 * shows what the draft would take and skip before anything is saved.
 */
export function SettingsPanel({
  overview,
  onSaved,
  preview,
  setPreview,
  previewSlot,
}: {
  overview: Overview;
  onSaved: (result: { settings: Settings; warnings: string[] }) => void;
  preview: PreviewState;
  setPreview: (next: PreviewState) => void;
  /** Where the preview shows (beside the runs); in place when there is none. */
  previewSlot: HTMLElement | null;
}) {
  const transport = useTransport();
  const saved = overview.settings;
  const defaults = overview.defaults.exclude;
  const [draft, setDraft] = useState<Draft>(() => draftFrom(saved));
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [adding, setAdding] = useState<{ name: string; path: string; error: string | null }>({ name: '', path: '', error: null });

  const checked = useMemo(() => settingsFromDraft(draft), [draft]);
  const dirty = checked.settings ? !sameSettings(checked.settings, saved) : true;
  const request = useMemo(() => previewRequest(draft, checked.errors), [draft, checked.errors]);
  const requestKey = request ? JSON.stringify(request) : null;
  const errorsOf = (field: FieldError['field']) => checked.errors.filter((e) => e.field === field);
  const update = (patch: Partial<Draft>) => setDraft((current) => ({ ...current, ...patch }));

  const patterns = parsePatterns(draft.exclude);
  const versus = patternsVersusDefaults(patterns, defaults);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!checked.settings) return;
    setSaving(true);
    setSaveError(null);
    try {
      const result = await invoke(transport, 'backup.saveSettings', checked.settings);
      setSaving(false);
      onSaved(result);
    } catch (error) {
      setSaving(false);
      setSaveError((error as Error).message);
    }
  };

  const runPreview = async () => {
    if (!request || !requestKey) return;
    setPreview({ state: 'loading', key: requestKey });
    try {
      const { previews } = await invoke(transport, 'backup.preview', request);
      setPreview({ state: 'ready', key: requestKey, previews, unsaved: dirty });
    } catch (error) {
      setPreview({ state: 'error', key: requestKey, message: (error as Error).message });
    }
  };

  const addSource = (event: FormEvent) => {
    event.preventDefault();
    const path = adding.path.trim();
    const name = adding.name.trim() || folderName(path);
    if (!isAbsolutePath(path)) {
      setAdding({ ...adding, error: 'Give the project folder’s full path, like /home/me/web or C:\\code\\web.' });
      return;
    }
    if (!name) {
      setAdding({ ...adding, error: 'Give the project a name.' });
      return;
    }
    const valid = BackupSourceSchema.safeParse({ name, path });
    if (!valid.success) {
      setAdding({ ...adding, error: valid.error.issues.map((issue) => `${issue.path[0] === 'name' ? 'Name' : 'Folder'}: ${issue.message}`).join(' ') });
      return;
    }
    if (draft.sources.some((s) => s.name.trim().toLowerCase() === name.toLowerCase())) {
      setAdding({ ...adding, error: `Another project is named “${name}”; choose another name.` });
      return;
    }
    update({ sources: [...draft.sources, { key: newSourceKey(), name, path }] });
    setAdding({ name: '', path: '', error: null });
  };

  const toggleDefault = (pattern: string) => {
    const text = draft.exclude.replace(/\s+$/, '');
    if (patterns.includes(pattern)) update({ exclude: text.split('\n').filter((line) => line.trim() !== pattern).join('\n') });
    else update({ exclude: text ? `${text}\n${pattern}` : pattern });
  };

  const target = draft.target.trim();
  const stale = preview.state !== 'idle' && preview.key !== requestKey;
  const previewPanel = (
    <PreviewPanel
      preview={preview}
      stale={stale}
      // Once saved, a preview of what is now saved says so.
      unsaved={preview.state === 'ready' && (stale ? preview.unsaved : dirty)}
      onRefresh={request ? runPreview : undefined}
      onClose={() => setPreview({ state: 'idle' })}
    />
  );
  return (
    <>
      <Panel
        title="Settings"
        testId="backup-settings"
        meta={dirty ? <Tag tone="warn">unsaved changes</Tag> : <span className="muted small">saved</span>}
      >
        <form className="settings-form" onSubmit={save} noValidate>
          <fieldset className="settings-section">
            <legend>Backup folder</legend>
            <input
              className="input"
              value={draft.target}
              onChange={(e) => update({ target: e.target.value })}
              aria-label="Backup folder"
              aria-invalid={errorsOf('target').length > 0}
              spellCheck={false}
              data-testid="settings-target"
            />
            {overview.cloudFolders.length > 0 && (
              <div className="choice-chips" role="group" aria-label="Cloud folders on this machine">
                {overview.cloudFolders.map((folder) => (
                  <button
                    key={folder.path}
                    type="button"
                    className={`chip ${target === folder.path ? 'on' : ''}`}
                    aria-pressed={target === folder.path}
                    title={folder.path}
                    onClick={() => update({ target: folder.path })}
                    data-testid="settings-cloud-folder"
                  >
                    {folder.label}
                  </button>
                ))}
              </div>
            )}
            <FieldErrors errors={errorsOf('target')} />
            <p className="hint">
              {target ? (
                <>
                  Snapshots go into <span className="num">{target.replace(/[\\/]+$/, '')}{target.includes('\\') && !target.includes('/') ? '\\' : '/'}{overview.defaults.folderName}</span>.
                </>
              ) : (
                'No folder: backups are off.'
              )}
            </p>
          </fieldset>

          <fieldset className="settings-section">
            <legend>What is backed up</legend>
            <ul className="source-list" data-testid="settings-sources">
              <li className="source-row source-fixed">
                <span className="source-name num">{overview.defaults.hubSource}</span>
                <span className="muted small">the hub’s own data — agents, messages, memories — always</span>
              </li>
              {draft.sources.map((source, index) => {
                const rowErrors = checked.errors.filter((e) => e.field === 'sources' && e.index === index);
                const change = (patch: Partial<{ name: string; path: string }>) =>
                  update({ sources: draft.sources.map((s) => (s.key === source.key ? { ...s, ...patch } : s)) });
                return (
                  <li key={source.key} className="source-row" data-testid="settings-source" data-name={source.name}>
                    <input className="input source-name-input" value={source.name} onChange={(e) => change({ name: e.target.value })} aria-label={`Project ${index + 1} name`} aria-invalid={rowErrors.length > 0} />
                    <input
                      className="input grow num"
                      value={source.path}
                      onChange={(e) => change({ path: e.target.value })}
                      aria-label={`Project ${index + 1} folder`}
                      aria-invalid={rowErrors.length > 0}
                      spellCheck={false}
                    />
                    <button
                      type="button"
                      className="btn btn-ghost btn-small"
                      onClick={() => update({ sources: draft.sources.filter((s) => s.key !== source.key) })}
                      aria-label={`Remove ${source.name || `project ${index + 1}`}`}
                      title="Remove (its snapshots stay until retention drops them)"
                      data-testid="settings-source-remove"
                    >
                      ✕
                    </button>
                    <FieldErrors errors={rowErrors} />
                  </li>
                );
              })}
            </ul>
            <FieldErrors errors={checked.errors.filter((e) => e.field === 'sources' && e.index === undefined)} />
            <div className="source-add" role="group" aria-label="Add a project folder">
              <input
                className="input source-name-input"
                placeholder="name"
                value={adding.name}
                onChange={(e) => setAdding({ ...adding, name: e.target.value, error: null })}
                onKeyDown={(e) => e.key === 'Enter' && addSource(e)}
                aria-label="New project name"
                data-testid="source-add-name"
              />
              <input
                className="input grow num"
                placeholder={navigator.userAgent.includes('Windows') ? 'C:\\code\\my-project' : '/home/me/code/my-project'}
                value={adding.path}
                onChange={(e) => setAdding({ ...adding, path: e.target.value, error: null })}
                onKeyDown={(e) => e.key === 'Enter' && addSource(e)}
                aria-label="New project folder"
                spellCheck={false}
                data-testid="source-add-path"
              />
              <button type="button" className="btn btn-small" onClick={addSource} disabled={!adding.path.trim()} data-testid="source-add">
                Add project
              </button>
            </div>
            {adding.error && <div className="field-error">{adding.error}</div>}
          </fieldset>

          <fieldset className="settings-section">
            <legend>Left out of projects</legend>
            <textarea
              className="input textarea patterns"
              value={draft.exclude}
              onChange={(e) => update({ exclude: e.target.value })}
              rows={Math.min(10, Math.max(5, draft.exclude.split('\n').length + 1))}
              spellCheck={false}
              aria-label="Exclusion patterns, one per line"
              data-testid="settings-exclude"
            />
            <p className="hint">
              gitignore syntax, one pattern a line: <span className="num">name/</span> a folder anywhere, <span className="num">/name</span> only at the project’s top,{' '}
              <span className="num">*.log</span> by extension, <span className="num">!pattern</span> brings something back.
            </p>
            <div className="defaults-row">
              <span className="muted small">Defaults:</span>
              {defaults.map((pattern) => {
                const on = patterns.includes(pattern);
                return (
                  <button
                    key={pattern}
                    type="button"
                    className={`chip chip-mono ${on ? 'on' : 'off'}`}
                    aria-pressed={on}
                    title={on ? `Left out; click to back up ${pattern} too` : `Backed up; click to leave ${pattern} out again`}
                    onClick={() => toggleDefault(pattern)}
                  >
                    {pattern}
                  </button>
                );
              })}
            </div>
            <div className="patterns-summary small">
              <span className="muted num" data-testid="settings-exclude-summary">
                {patterns.length} pattern{patterns.length === 1 ? '' : 's'}
                {versus.added.length === 0 && versus.dropped.length === 0
                  ? ' · the defaults'
                  : `${versus.added.length > 0 ? ` · ${versus.added.length} of yours` : ''}${versus.dropped.length > 0 ? ` · ${versus.dropped.length} default${versus.dropped.length === 1 ? '' : 's'} dropped` : ''}`}
              </span>
              <button
                type="button"
                className="btn btn-ghost btn-small"
                onClick={() => update({ exclude: defaults.join('\n') })}
                disabled={versus.added.length === 0 && versus.dropped.length === 0 && patterns.length === defaults.length}
                data-testid="settings-exclude-reset"
              >
                Reset to defaults
              </button>
            </div>
            <label className="check">
              <input type="checkbox" checked={draft.useGitignore} onChange={(e) => update({ useGitignore: e.target.checked })} data-testid="settings-gitignore" />
              Also honour each project’s own <span className="num">.gitignore</span> files
            </label>
            <div className="inline-field">
              <label htmlFor="backup-max-mb">Skip files larger than</label>
              <input
                id="backup-max-mb"
                className="input input-number"
                type="number"
                min={0.1}
                step="any"
                value={draft.maxFileMb}
                onChange={(e) => update({ maxFileMb: e.target.value })}
                aria-invalid={errorsOf('maxFileMb').length > 0}
                data-testid="settings-max-mb"
              />
              <span>MB</span>
            </div>
            <FieldErrors errors={[...errorsOf('maxFileMb'), ...errorsOf('exclude')]} />
          </fieldset>

          <fieldset className="settings-section">
            <legend>When</legend>
            <div className="inline-field">
              <label className="check">
                <input type="checkbox" checked={draft.scheduled} onChange={(e) => update({ scheduled: e.target.checked })} data-testid="settings-scheduled" />
                Automatically, every
              </label>
              <input
                className="input input-number"
                type="number"
                min={1}
                max={10080}
                value={draft.intervalMinutes}
                onChange={(e) => update({ intervalMinutes: e.target.value })}
                disabled={!draft.scheduled}
                aria-label="Minutes between automatic backups"
                aria-invalid={errorsOf('intervalMinutes').length > 0}
                data-testid="settings-interval"
              />
              <span>minutes</span>
            </div>
            <p className="hint">Counted from the last good backup. A failed one is retried after 1, 2, 5, 10, 30, then every 60 minutes.</p>
            <label className="check">
              <input type="checkbox" checked={draft.runOnQuit} onChange={(e) => update({ runOnQuit: e.target.checked })} data-testid="settings-run-on-quit" />
              And once more when the hub quits
            </label>
            <FieldErrors errors={errorsOf('intervalMinutes')} />
          </fieldset>

          <fieldset className="settings-section">
            <legend>Keep</legend>
            <div className="keep-grid">
              <KeepField label="The last" unit="snapshots" value={draft.keepLast} min={1} onChange={(keepLast) => update({ keepLast })} testId="settings-keep-last" />
              <KeepField label="One a day, for" unit="days" value={draft.keepDaily} min={0} onChange={(keepDaily) => update({ keepDaily })} testId="settings-keep-daily" />
              <KeepField label="One a week, for" unit="weeks" value={draft.keepWeekly} min={0} onChange={(keepWeekly) => update({ keepWeekly })} testId="settings-keep-weekly" />
            </div>
            <p className="hint">Older snapshots are pruned after each backup; a file’s content is deleted once no kept snapshot needs it.</p>
            <FieldErrors errors={errorsOf('keep')} />
          </fieldset>

          {saveError && <ErrorNotice title="The settings were not saved" message={saveError} />}
          <div className="settings-footer">
            <button
              type="button"
              className="btn"
              onClick={runPreview}
              disabled={!request || preview.state === 'loading'}
              title={request ? 'What a backup would take and skip with these settings (saved or not)' : 'Fix the projects and exclusions first'}
              data-testid="settings-preview"
            >
              {preview.state === 'loading' ? 'Previewing…' : 'Preview'}
            </button>
            <span className="grow" />
            {dirty && (
              <button type="button" className="btn btn-ghost" onClick={() => setDraft(draftFrom(saved))} disabled={saving} data-testid="settings-discard">
                Discard changes
              </button>
            )}
            <button type="submit" className="btn btn-primary" disabled={!dirty || !checked.settings || saving} data-testid="settings-save">
              {saving ? 'Saving…' : 'Save settings'}
            </button>
          </div>
        </form>
      </Panel>
      {previewSlot ? createPortal(previewPanel, previewSlot) : previewPanel}
    </>
  );
}

function KeepField({ label, unit, value, min, onChange, testId }: { label: string; unit: string; value: string; min: number; onChange: (value: string) => void; testId: string }) {
  return (
    <label className="keep-field">
      <span>{label}</span>
      <span className="inline-field">
        <input className="input input-number" type="number" min={min} value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId} />
        <span>{unit}</span>
      </span>
    </label>
  );
}

function FieldErrors({ errors }: { errors: FieldError[] }) {
  if (errors.length === 0) return null;
  return (
    <div className="field-error" role="alert">
      {errors.map((e) => (
        <div key={e.message}>{e.message}</div>
      ))}
    </div>
  );
}
