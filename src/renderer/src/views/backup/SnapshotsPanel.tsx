/** The snapshots in the backup folder with what deduplication saved in each: verify, repair, restore a source, or restore the hub in place. */
import { Fragment, useState, type FormEvent } from 'react';
import { isAbsolutePath } from '../../../../shared/backup-protocol';
import { Empty, ErrorNotice, Loading, Panel, Tag } from '../../components/ui';
import { formatAgo, formatBytes, formatCount } from '../../format';
import { invoke, useNow, useTransport, type CallState } from '../../hooks';
import { dedupOf, formatRatio, formatStamp, type RepairReport, type RestoreReport, type Snapshot, type SnapshotList, type VerifyReport } from './model';

type VerifyState = { state: 'running' } | { state: 'error'; message: string } | { state: 'done'; report: VerifyReport };

/** Snapshots in the backup folder, newest first, each to verify or restore from; damaged ones are flagged. */
export function SnapshotsPanel({
  snapshots,
  target,
  folderName,
  onHubRestore,
  hubRestoring,
}: {
  snapshots: CallState<SnapshotList>;
  target: string;
  folderName: string;
  onHubRestore: (snapshot: { id: string; createdAt: string }) => Promise<void>;
  hubRestoring: boolean;
}) {
  const transport = useTransport();
  const now = useNow(10_000);
  const [verifying, setVerifying] = useState<Record<string, VerifyState>>({});
  const [selectedId, setSelectedId] = useState<string | null>(null);

  const verify = async (id: string) => {
    setVerifying((current) => ({ ...current, [id]: { state: 'running' } }));
    try {
      const report = await invoke(transport, 'backup.verify', { id });
      setVerifying((current) => ({ ...current, [id]: { state: 'done', report } }));
    } catch (error) {
      setVerifying((current) => ({ ...current, [id]: { state: 'error', message: (error as Error).message } }));
    }
  };

  const list = snapshots.state === 'ready' ? snapshots.value : null;
  const selected = list?.snapshots.find((s) => s.id === selectedId) ?? null;

  return (
    <>
      <Panel
        title="Snapshots"
        testId="backup-snapshots"
        meta={
          list && (
            <span className="num">
              {list.snapshots.length} in <span title={`${target}/${folderName}`}>{folderName}</span>
              {list.damaged.length > 0 && <span className="text-down"> · {list.damaged.length} damaged</span>}
            </span>
          )
        }
        actions={
          <button type="button" className="btn btn-ghost btn-small" onClick={snapshots.reload} disabled={snapshots.refreshing} title="Read the backup folder again">
            {snapshots.refreshing ? 'Reading…' : 'Refresh'}
          </button>
        }
        bodyClassName="panel-body-flush"
      >
        {snapshots.state === 'loading' && <Loading>Reading the backup folder…</Loading>}
        {snapshots.state === 'error' && (
          <div className="panel-pad">
            <ErrorNotice title="The backup folder could not be read" message={snapshots.message} onRetry={snapshots.reload} />
          </div>
        )}
        {list && list.snapshots.length === 0 && list.damaged.length === 0 && (
          <Empty title="No snapshots yet" testId="snapshots-empty">
            The first backup makes one. Snapshots are kept in <span className="num">{folderName}</span> inside the backup folder.
          </Empty>
        )}
        {list && (list.snapshots.length > 0 || list.damaged.length > 0) && (
          <div className="table-scroll table-scroll-medium">
            <table className="table table-tight" data-testid="snapshots-table">
              <thead>
                <tr>
                  <th>Taken</th>
                  <th className="right">Files</th>
                  <th className="right">Size</th>
                  <th className="right" title="What this snapshot added to the backup folder">New</th>
                  <th className="right" title="Deduplication: the snapshot's size ÷ what it stored new (the rest was already in the backup folder)">
                    Dedup
                  </th>
                  <th>Sources</th>
                  <th className="right">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.snapshots.map((snapshot) => (
                  <SnapshotRow
                    key={snapshot.id}
                    snapshot={snapshot}
                    now={now}
                    verify={verifying[snapshot.id]}
                    onVerify={() => void verify(snapshot.id)}
                    selected={snapshot.id === selectedId}
                    onSelect={() => setSelectedId(snapshot.id === selectedId ? null : snapshot.id)}
                  />
                ))}
                {list.damaged.map((damaged) => (
                  <tr key={damaged.id} className="damaged" data-testid="snapshot-damaged" data-snapshot-id={damaged.id}>
                    <td>
                      <div className="num">{damaged.id}</div>
                      <Tag tone="warn">damaged</Tag>
                    </td>
                    <td colSpan={6} className="damaged-reason">
                      {damaged.error}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
      {selected && <RestorePanel key={selected.id} snapshot={selected} onClose={() => setSelectedId(null)} onHubRestore={onHubRestore} hubRestoring={hubRestoring} />}
    </>
  );
}

function SnapshotRow({
  snapshot,
  now,
  verify,
  onVerify,
  selected,
  onSelect,
}: {
  snapshot: Snapshot;
  now: number;
  verify: VerifyState | undefined;
  onVerify: () => void;
  selected: boolean;
  onSelect: () => void;
}) {
  return (
    <Fragment>
      <tr data-testid="snapshot-row" data-snapshot-id={snapshot.id} className={selected ? 'selected' : ''}>
        <td>
          <div className="nowrap">
            <span className="num">{formatStamp(snapshot.createdAt)}</span> <span className="muted small">{formatAgo(snapshot.createdAt, now)}</span>
          </div>
          <div className="cell-sub num" title={snapshot.id}>
            {snapshot.id}
            {!snapshot.own && <> · from {snapshot.origin.host}</>}
          </div>
        </td>
        <td className="num right">{formatCount(snapshot.totals.files)}</td>
        <td className="num right">{formatBytes(snapshot.totals.bytes)}</td>
        <td className="num right muted">{formatBytes(snapshot.totals.newBytes)}</td>
        <DedupCell totals={snapshot.totals} />
        <td>
          <div className="tags">
            {snapshot.sources.map((source) => (
              <Tag key={source.name} tone={source.missing ? 'warn' : source.kind === 'hub' ? 'accent' : undefined}>
                <span title={`${source.path}: ${source.files} files, ${formatBytes(source.bytes)}${source.missing ? ' (folder missing at backup time)' : ''}`}>{source.name}</span>
              </Tag>
            ))}
          </div>
        </td>
        <td className="right nowrap">
          <button type="button" className="btn btn-small" onClick={onVerify} disabled={verify?.state === 'running'} data-testid="snapshot-verify">
            {verify?.state === 'running' ? 'Verifying…' : 'Verify'}
          </button>{' '}
          <button type="button" className={`btn btn-small ${selected ? 'btn-active' : ''}`} onClick={onSelect} aria-expanded={selected} data-testid="snapshot-restore">
            Restore…
          </button>
        </td>
      </tr>
      {verify && verify.state !== 'running' && (
        <tr className="detail-row">
          <td colSpan={7}>
            <VerifyResult verify={verify} snapshotId={snapshot.id} onVerify={onVerify} />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

/** The snapshot's dedup ratio, with the share of its bytes that were reused. */
function DedupCell({ totals }: { totals: Snapshot['totals'] }) {
  const dedup = dedupOf(totals);
  return (
    <td
      className="num right nowrap"
      data-testid="snapshot-dedup"
      data-ratio={dedup.ratio ?? 'all'}
      title={`${formatBytes(dedup.reusedBytes)} of ${formatBytes(totals.bytes)} reused, ${formatBytes(totals.newBytes)} stored new`}
    >
      {formatRatio(dedup.ratio)}
      <div className="cell-sub">{Math.round(dedup.reusedShare * 100)}% reused</div>
    </td>
  );
}

function VerifyResult({
  verify,
  snapshotId,
  onVerify,
}: {
  verify: Exclude<VerifyState, { state: 'running' }>;
  snapshotId: string;
  onVerify: () => void;
}) {
  if (verify.state === 'error') {
    return (
      <div className="result result-error" data-testid="verify-result" data-snapshot-id={snapshotId} data-ok="false">
        Verify failed: {verify.message}
      </div>
    );
  }
  const { report } = verify;
  if (report.ok) {
    return (
      <div className="result result-ok" data-testid="verify-result" data-snapshot-id={snapshotId} data-ok="true">
        <strong>OK</strong> — every stored file is there and intact: <span className="num">{formatCount(report.files)}</span> files,{' '}
        <span className="num">{formatCount(report.objects)}</span> objects, <span className="num">{formatBytes(report.bytes)}</span> re-hashed.
      </div>
    );
  }
  const problems = [
    ...report.missing.map((m) => ({ kind: 'missing', sha256: m.sha256, paths: m.paths })),
    ...report.corrupt.map((c) => ({ kind: 'corrupt', sha256: c.sha256, paths: c.paths })),
  ];
  return (
    <div className="result result-error" data-testid="verify-result" data-snapshot-id={snapshotId} data-ok="false">
      <strong>Damaged</strong> — {report.missing.length} object{report.missing.length === 1 ? '' : 's'} missing, {report.corrupt.length} corrupt (of{' '}
      {formatCount(report.objects)}). These files cannot be restored from this snapshot:
      <ul className="verify-problems">
        {problems.slice(0, 50).map((p) => (
          <li key={`${p.kind}-${p.sha256}`}>
            <Tag tone="warn">{p.kind}</Tag> <span className="num">{p.paths.join(', ')}</span> <span className="muted num">({p.sha256.slice(0, 12)}…)</span>
          </li>
        ))}
      </ul>
      {problems.length > 50 && <div className="muted">and {problems.length - 50} more</div>}
      <RepairAction snapshotId={snapshotId} onVerify={onVerify} />
    </div>
  );
}

type RepairState = { state: 'idle' } | { state: 'running' } | { state: 'error'; message: string } | { state: 'done'; report: RepairReport };

/**
 * Offered under a failed verification: moves the damaged objects aside (into the backup folder's quarantine, nothing
 * deleted) so the next run stores them again from the sources, and says what it did.
 */
function RepairAction({ snapshotId, onVerify }: { snapshotId: string; onVerify: () => void }) {
  const transport = useTransport();
  const [repair, setRepair] = useState<RepairState>({ state: 'idle' });
  const run = async () => {
    setRepair({ state: 'running' });
    try {
      setRepair({ state: 'done', report: await invoke(transport, 'backup.repair', { id: snapshotId }) });
    } catch (error) {
      setRepair({ state: 'error', message: (error as Error).message });
    }
  };
  if (repair.state === 'done') {
    const { report } = repair;
    return (
      <div className="repair-result" data-testid="repair-result" data-quarantined={report.quarantined.length} data-missing={report.missing.length}>
        <strong>Repaired</strong> — {report.next}
        {report.quarantined.length > 0 && (
          <ul className="verify-problems">
            {report.quarantined.slice(0, 50).map((q) => (
              <li key={q.sha256}>
                <Tag>moved aside</Tag> <span className="num">{q.paths.join(', ')}</span> <span className="muted num">({q.sha256.slice(0, 12)}…)</span>
              </li>
            ))}
          </ul>
        )}
        <button type="button" className="btn btn-small" onClick={onVerify}>
          Verify again
        </button>
      </div>
    );
  }
  return (
    <div className="repair-action">
      <button type="button" className="btn btn-small" onClick={() => void run()} disabled={repair.state === 'running'} data-testid="snapshot-repair">
        {repair.state === 'running' ? 'Repairing…' : 'Repair'}
      </button>{' '}
      <span className="muted small">
        Moves damaged objects aside (nothing is deleted); the next backup stores them again from your folders where they still have that content.
      </span>
      {repair.state === 'error' && <div className="text-down">Repair failed: {repair.message}</div>}
    </div>
  );
}

type RestoreState = { state: 'idle' } | { state: 'running' } | { state: 'error'; message: string } | { state: 'done'; report: RestoreReport };

/** Restoring from one snapshot: a source into a folder of the person's choice, or the hub's data in place. */
function RestorePanel({
  snapshot,
  onClose,
  onHubRestore,
  hubRestoring,
}: {
  snapshot: Snapshot;
  onClose: () => void;
  onHubRestore: (snapshot: { id: string; createdAt: string }) => Promise<void>;
  hubRestoring: boolean;
}) {
  const transport = useTransport();
  const hub = snapshot.sources.find((s) => s.kind === 'hub');
  const [source, setSource] = useState(() => (snapshot.sources.find((s) => s.kind === 'folder') ?? snapshot.sources[0])?.name ?? '');
  const [destination, setDestination] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const [result, setResult] = useState<RestoreState>({ state: 'idle' });
  const [confirming, setConfirming] = useState(false);
  const chosen = snapshot.sources.find((s) => s.name === source);
  const suggestion = chosen ? `${chosen.path.replace(/[\\/]+$/, '')}-restored` : '';
  const badDestination = destination.trim() !== '' && !isAbsolutePath(destination.trim());

  const restore = async (event: FormEvent) => {
    event.preventDefault();
    if (!destination.trim() || badDestination) return;
    setResult({ state: 'running' });
    try {
      const report = await invoke(transport, 'backup.restore', { id: snapshot.id, request: { source, destination: destination.trim(), overwrite } });
      setResult({ state: 'done', report });
    } catch (error) {
      setResult({ state: 'error', message: (error as Error).message });
    }
  };

  return (
    <Panel
      title={`Restore from ${formatStamp(snapshot.createdAt)}`}
      testId="restore-panel"
      meta={<span className="num">{snapshot.id}</span>}
      actions={
        <button type="button" className="btn btn-ghost btn-small" onClick={onClose} aria-label="Close restore">
          ✕
        </button>
      }
    >
      <div className="restore-grid">
        <form className="restore-form" onSubmit={restore}>
          <h3 className="section-title">Into a folder</h3>
          <p className="muted small">The files of one source as they were, into an empty folder (or over one, if you allow it). Nothing else changes.</p>
          <div className="restore-fields">
            <label className="field-stack">
              <span>Source</span>
              <select className="input" value={source} onChange={(e) => setSource(e.target.value)} data-testid="restore-source">
                {snapshot.sources.map((s) => (
                  <option key={s.name} value={s.name}>
                    {s.name} — {formatCount(s.files)} files, {formatBytes(s.bytes)}
                    {s.missing ? ' (missing at backup time)' : ''}
                  </option>
                ))}
              </select>
            </label>
            <label className="field-stack grow">
              <span>Destination folder</span>
              <input
                className="input num"
                value={destination}
                onChange={(e) => setDestination(e.target.value)}
                placeholder={suggestion}
                aria-invalid={badDestination}
                spellCheck={false}
                data-testid="restore-destination"
              />
            </label>
          </div>
          {badDestination && <div className="field-error">Use a full path, like {suggestion || '/home/me/restored'}.</div>}
          <div className="restore-actions">
            <label className="check">
              <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} data-testid="restore-overwrite" />
              The folder may have files: replace those with the same path
            </label>
            <span className="grow" />
            {suggestion && !destination && (
              <button type="button" className="btn btn-ghost btn-small" onClick={() => setDestination(suggestion)}>
                Use {suggestion.split(/[\\/]/).pop()}
              </button>
            )}
            <button type="submit" className="btn btn-primary" disabled={!destination.trim() || badDestination || result.state === 'running'} data-testid="restore-run">
              {result.state === 'running' ? 'Restoring…' : 'Restore files'}
            </button>
          </div>
          {result.state === 'error' && (
            <div className="result result-error" data-testid="restore-report" data-ok="false">
              {result.message}
            </div>
          )}
          {result.state === 'done' && <RestoreResult report={result.report} />}
        </form>

        {hub && (
          <div className="danger-zone restore-hub">
            <h3 className="section-title">The hub’s own data, in place</h3>
            <p className="muted small">
              Puts the hub back as it was at {formatStamp(snapshot.createdAt)}: agents, messages, memories and the mailbox. Your backup settings and history
              stay as they are now.
            </p>
            {!confirming ? (
              <button type="button" className="btn btn-danger" onClick={() => setConfirming(true)} disabled={hubRestoring} data-testid="restore-hub">
                Restore the hub’s data…
              </button>
            ) : (
              <div className="confirm" role="alertdialog" aria-label="Restore the hub’s data?">
                <p>
                  <strong>The hub will restart.</strong> It restores this snapshot beside its data, checks it, stops, swaps the folders and starts again. Agents are
                  disconnected and reconnect by themselves; everything sent or stored after {formatStamp(snapshot.createdAt)} is gone from the hub (the data it
                  replaces is kept beside it, not deleted).
                </p>
                <div className="confirm-actions">
                  <button type="button" className="btn" onClick={() => setConfirming(false)}>
                    Cancel
                  </button>
                  <button
                    type="button"
                    className="btn btn-danger"
                    onClick={() => {
                      setConfirming(false);
                      void onHubRestore({ id: snapshot.id, createdAt: snapshot.createdAt });
                    }}
                    data-testid="restore-hub-confirm"
                  >
                    Restore and restart the hub
                  </button>
                </div>
              </div>
            )}
          </div>
        )}
      </div>
    </Panel>
  );
}

function RestoreResult({ report }: { report: RestoreReport }) {
  return (
    <div className={`result ${report.ok ? 'result-ok' : 'result-error'}`} data-testid="restore-report" data-ok={report.ok}>
      {report.ok ? <strong>Restored</strong> : <strong>Restored with problems</strong>} <span className="num">{formatCount(report.files)}</span> files (
      <span className="num">{formatBytes(report.bytes)}</span>) of “{report.source}” into <span className="num selectable">{report.destination}</span>.
      {report.failed.length > 0 && (
        <ul className="verify-problems">
          {report.failed.slice(0, 50).map((f) => (
            <li key={f.path}>
              <span className="num">{f.path}</span>: {f.reason}
            </li>
          ))}
          {report.failed.length > 50 && <li className="muted">and {report.failed.length - 50} more</li>}
        </ul>
      )}
    </div>
  );
}
