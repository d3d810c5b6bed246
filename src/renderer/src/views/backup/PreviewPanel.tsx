/** What a backup with the unsaved settings would take and skip, per source. */
import { useState } from 'react';
import { ErrorNotice, Loading, Panel, Tag } from '../../components/ui';
import { formatBytes, formatCount } from '../../format';
import type { PreviewState, SourcePreview } from './model';

const SHOWN = 10;

/** What a backup with the (unsaved) settings would take and leave out, per source, with the rule behind each skip. */
export function PreviewPanel({
  preview,
  stale,
  unsaved,
  onRefresh,
  onClose,
}: {
  preview: PreviewState;
  stale: boolean;
  unsaved: boolean;
  onRefresh?: () => void;
  onClose: () => void;
}) {
  if (preview.state === 'idle') return null;
  const totals =
    preview.state === 'ready'
      ? preview.previews.reduce(
          (sum, p) => ({ files: sum.files + p.included.files, bytes: sum.bytes + p.included.bytes, skipped: sum.skipped + p.skipped.files + p.skipped.dirs }),
          { files: 0, bytes: 0, skipped: 0 },
        )
      : null;
  return (
    <Panel
      title="Preview"
      testId="backup-preview"
      meta={
        <>
          {preview.state === 'ready' && <span>{unsaved ? 'with the unsaved settings' : 'with the saved settings'}</span>}
          {stale && preview.state !== 'loading' && <Tag tone="warn">settings changed since</Tag>}
        </>
      }
      actions={
        <>
          {stale && onRefresh && preview.state !== 'loading' && (
            <button type="button" className="btn btn-small" onClick={onRefresh} data-testid="preview-refresh">
              Refresh
            </button>
          )}
          <button type="button" className="btn btn-ghost btn-small" onClick={onClose} aria-label="Close the preview">
            ✕
          </button>
        </>
      }
    >
      {preview.state === 'loading' && <Loading>Walking the folders as a backup would…</Loading>}
      {preview.state === 'error' && <ErrorNotice title="The preview failed" message={preview.message} />}
      {preview.state === 'ready' && totals && (
        <>
          <p className="preview-total" data-testid="preview-total">
            A backup would take <strong className="num">{formatCount(totals.files)}</strong> files (<span className="num">{formatBytes(totals.bytes)}</span>) and leave out{' '}
            <strong className="num">{formatCount(totals.skipped)}</strong> files and folders.
          </p>
          <div className="preview-sources">
            {preview.previews.map((source) => (
              <PreviewSource key={source.source} preview={source} />
            ))}
          </div>
        </>
      )}
    </Panel>
  );
}

function PreviewSource({ preview }: { preview: SourcePreview }) {
  const [expanded, setExpanded] = useState(false);
  const { included, skipped, skippedPaths } = preview;
  const listed = expanded ? skippedPaths : skippedPaths.slice(0, SHOWN);
  const unlisted = skipped.files + skipped.dirs - skippedPaths.length;
  const measured = included.bytes + skipped.bytes;
  const share = measured > 0 ? included.bytes / measured : 1;
  return (
    <section className="preview-source" data-testid="preview-source" data-source={preview.source}>
      <header className="preview-source-head">
        <span className="preview-source-name">{preview.source}</span>
        <span className="muted small num preview-source-path" title={preview.path}>
          {preview.path}
        </span>
        {preview.missing && <Tag tone="warn">folder missing: skipped</Tag>}
      </header>
      <div className="preview-figures">
        <span data-testid="preview-included">
          <span className="dot-inline dot-in" aria-hidden="true" />
          takes <strong className="num">{formatCount(included.files)}</strong> file{included.files === 1 ? '' : 's'} · <span className="num">{formatBytes(included.bytes)}</span>
        </span>
        <span data-testid="preview-skipped-count">
          <span className="dot-inline dot-out" aria-hidden="true" />
          skips <strong className="num">{formatCount(skipped.files)}</strong> file{skipped.files === 1 ? '' : 's'}
          {skipped.dirs > 0 && (
            <>
              , <strong className="num">{formatCount(skipped.dirs)}</strong> folder{skipped.dirs === 1 ? '' : 's'}
            </>
          )}{' '}
          ·{' '}
          <span className="num">{formatBytes(skipped.bytes)}</span>
          {skipped.dirs > 0 && <span className="muted"> + the folders’ contents</span>}
        </span>
      </div>
      <div className="split-bar" aria-hidden="true" title={`${Math.round(share * 100)}% of the measured bytes are taken`}>
        <div className="split-bar-in" style={{ width: `${share * 100}%` }} />
      </div>
      {skippedPaths.length === 0 ? (
        !preview.missing && <p className="muted small">Nothing is left out.</p>
      ) : (
        <table className="table table-tight skipped-table">
          <thead>
            <tr>
              <th>Left out</th>
              <th>Because of</th>
              <th className="right">Size</th>
            </tr>
          </thead>
          <tbody>
            {listed.map((skip) => (
              <tr key={skip.path} data-testid="preview-skipped" data-path={skip.path}>
                <td className="num skipped-path" title={skip.path}>
                  {skip.path}
                </td>
                <td className="skipped-rule" title={skip.rule}>
                  {skip.rule}
                </td>
                <td className="num right muted nowrap">{skip.bytes === undefined ? 'folder' : formatBytes(skip.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {(skippedPaths.length > SHOWN || unlisted > 0) && (
        <div className="preview-more small">
          {skippedPaths.length > SHOWN && (
            <button type="button" className="btn btn-ghost btn-small" onClick={() => setExpanded((e) => !e)}>
              {expanded ? 'Show fewer' : `Show all ${skippedPaths.length}`}
            </button>
          )}
          {unlisted > 0 && <span className="muted">and {formatCount(unlisted)} more not listed</span>}
        </div>
      )}
    </section>
  );
}
