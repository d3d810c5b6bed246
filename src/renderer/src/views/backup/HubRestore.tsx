/** Following an in-place restore of the hub's data across the reconnect it causes. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ErrorNotice, Loading } from '../../components/ui';
import { formatDuration } from '../../format';
import { CockpitCallError } from '../../transport';
import { invoke, useCall, useConnection, useEvent, useNow, useTransport } from '../../hooks';
import { formatStamp, type HubRestored } from './model';

/** After the page reconnects, how long to wait for the hub's own report before saying what is known without it. */
const REPORT_GRACE_MS = 2500;
const REPORT_POLL_MS = 250;

export type HubRestoreState =
  | { phase: 'idle' }
  | { phase: 'restoring'; snapshotId: string; createdAt: string; since: number; disconnected: boolean }
  /** reported: false when the hub restarted but its `backup.restored` report never reached this page. */
  | { phase: 'done'; snapshotId: string; createdAt: string; previousDataDir: string | null; reported: boolean }
  | { phase: 'failed'; snapshotId: string; createdAt: string; error: string };

export interface HubRestore {
  state: HubRestoreState;
  start(snapshot: { id: string; createdAt: string }): Promise<void>;
  dismiss(): void;
}

/**
 * Restoring the hub's data in place: the hub answers at once, restores beside its data, stops (taking this page's
 * connection with it), swaps the folders and starts again, then announces the outcome with `backup.restored`.
 *
 * The page shows "restoring" from the request until that announcement. The browser's socket reconnects by itself,
 * but the hub announces the moment it is back, often before the page has reconnected; so once the page is back
 * and a short grace has passed without the announcement, the restart itself is taken as the outcome (said so).
 */
export function useHubRestore(onRestored: () => void): HubRestore {
  const transport = useTransport();
  const [state, setState] = useState<HubRestoreState>({ phase: 'idle' });

  useEvent('backup.restored', (event: HubRestored) => {
    setState((prev) => {
      const createdAt = prev.phase === 'idle' ? '' : prev.createdAt;
      return event.error
        ? { phase: 'failed', snapshotId: event.snapshotId, createdAt, error: event.error }
        : { phase: 'done', snapshotId: event.snapshotId, createdAt, previousDataDir: event.previousDataDir, reported: true };
    });
    onRestored();
  });

  // Read by the connection listener (a callback, never during render).
  const current = useRef(state);
  useEffect(() => {
    current.current = state;
  }, [state]);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = transport.onConnection((connection) => {
      const now = current.current;
      if (now.phase !== 'restoring') return;
      if (connection !== 'open') {
        if (!now.disconnected) setState({ ...now, disconnected: true });
        return;
      }
      if (!now.disconnected) return;
      clearTimeout(timer);
      // The hub keeps the last restore's outcome in backup.overview for pages that reconnect after its
      // announcement: ask for it a few times, then say what is known without it.
      const deadline = Date.now() + REPORT_GRACE_MS;
      const poll = async () => {
        const later = current.current;
        if (later.phase !== 'restoring') return;
        try {
          const { lastRestore } = await invoke(transport, 'backup.overview');
          if (lastRestore && lastRestore.snapshotId === later.snapshotId && Date.parse(lastRestore.at) >= later.since - 1000) {
            setState(
              lastRestore.error
                ? { phase: 'failed', snapshotId: later.snapshotId, createdAt: later.createdAt, error: lastRestore.error }
                : { phase: 'done', snapshotId: later.snapshotId, createdAt: later.createdAt, previousDataDir: lastRestore.previousDataDir, reported: true },
            );
            onRestored();
            return;
          }
        } catch {
          // Not answering yet: try again below.
        }
        if (Date.now() < deadline) {
          timer = setTimeout(() => void poll(), REPORT_POLL_MS);
          return;
        }
        setState({ phase: 'done', snapshotId: later.snapshotId, createdAt: later.createdAt, previousDataDir: null, reported: false });
        onRestored();
      };
      timer = setTimeout(() => void poll(), REPORT_POLL_MS);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [transport, onRestored]);

  const start = useCallback(
    async (snapshot: { id: string; createdAt: string }) => {
      if (transport.connection() !== 'open') {
        setState({ phase: 'failed', snapshotId: snapshot.id, createdAt: snapshot.createdAt, error: 'This page is not connected to the hub; nothing was restored.' });
        return;
      }
      setState({ phase: 'restoring', snapshotId: snapshot.id, createdAt: snapshot.createdAt, since: Date.now(), disconnected: false });
      try {
        await invoke(transport, 'backup.restoreHub', { id: snapshot.id });
      } catch (error) {
        // A connection that closes as the answer travels is the restart itself, not a failure.
        if (error instanceof CockpitCallError && error.code === 'disconnected') return;
        setState((now) =>
          now.phase === 'restoring' && !now.disconnected ? { phase: 'failed', snapshotId: snapshot.id, createdAt: snapshot.createdAt, error: (error as Error).message } : now,
        );
      }
    },
    [transport],
  );
  const dismiss = useCallback(() => setState({ phase: 'idle' }), []);
  return { state, start, dismiss };
}

/** Where the restore stands, above everything else in the view while it matters. */
export function HubRestoreBanner({ restore }: { restore: HubRestore }) {
  const { state } = restore;
  if (state.phase === 'idle') return null;
  if (state.phase === 'restoring') return <Restoring state={state} />;
  const from = state.createdAt ? formatStamp(state.createdAt) : state.snapshotId;
  if (state.phase === 'failed') {
    return (
      <div className="hub-restore hub-restore-failed" data-testid="hub-restore" data-state="failed">
        <ErrorNotice title="The hub’s data was not restored" message={`${state.error} The hub kept the data it had.`} />
        <button type="button" className="btn btn-ghost btn-small" onClick={restore.dismiss} aria-label="Dismiss">
          ✕
        </button>
      </div>
    );
  }
  return (
    <div className="hub-restore hub-restore-done" role="status" data-testid="hub-restore" data-state="done" data-reported={state.reported}>
      {state.reported ? (
        <div>
          <strong>The hub’s data was restored from the snapshot of {from}</strong> and the hub restarted on it. Agents reconnect by themselves; what they
          sent after that snapshot is gone.
          {state.previousDataDir ? (
            <div className="hub-restore-kept">
              The data it replaced is kept in
              <div className="num path-line" data-testid="hub-restore-previous">
                {state.previousDataDir}
              </div>
            </div>
          ) : (
            <PreviousDataHint reported />
          )}
        </div>
      ) : (
        <div>
          <strong>The hub restarted after restoring its data from the snapshot of {from}.</strong> Agents reconnect by themselves; what they sent after
          that snapshot is gone. (Had the restored data failed to start, the hub would have gone back to the data it had; its log would say so.)
          <PreviousDataHint reported={false} />
        </div>
      )}
      <button type="button" className="btn btn-ghost btn-small" onClick={restore.dismiss} aria-label="Dismiss">
        ✕
      </button>
    </div>
  );
}

function Restoring({ state }: { state: Extract<HubRestoreState, { phase: 'restoring' }> }) {
  const now = useNow(1000);
  const connection = useConnection();
  const element = useRef<HTMLDivElement>(null);
  // Asked for at the bottom of the page (a snapshot's restore panel): bring the news to where the person looks.
  useEffect(() => {
    // (scrollIntoView may return a promise, which an effect must not.)
    void element.current?.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }, []);
  const elapsed = Math.max(0, now - state.since);
  const step = !state.disconnected
    ? 'Restoring the files beside the hub’s data and checking every database…'
    : connection === 'open'
      ? 'The hub is back; waiting for its report…'
      : 'The hub is restarting on the restored data; this page reconnects by itself…';
  return (
    <div className="hub-restore hub-restore-working" role="status" data-testid="hub-restore" data-state="restoring" ref={element}>
      <Loading>
        <div>
          <strong>Restoring the hub’s data from the snapshot of {formatStamp(state.createdAt)}</strong>
          <div className="muted small">
            {step} <span className="num">{formatDuration(elapsed)}</span>
          </div>
          {elapsed > 90_000 && (
            <div className="small text-warn">This is taking long. A large snapshot on a slow drive can take minutes; the hub’s log says what it is doing.</div>
          )}
        </div>
      </Loading>
    </div>
  );
}

/** The hub's report did not arrive: say where such a folder is, from the data directory the hub reports. */
function PreviousDataHint({ reported }: { reported: boolean }) {
  const status = useCall('hub.status');
  const dataDir = status.state === 'ready' ? status.value.dataDir : '<data folder>';
  return (
    <div className="hub-restore-kept muted">
      {reported ? 'The hub did not say where it kept the data it replaced' : 'Its report came before this page reconnected, so it is not shown here'}. The data
      it replaced is kept beside the data folder, as
      <div className="num path-line">{dataDir}.before-restore-…</div>
    </div>
  );
}
