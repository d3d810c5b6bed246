/**
 * The Performance view's advice: each bottleneck the hub's advisor names, with its evidence and suggestion, the fix
 * button where the hub can fix it and that fix's before/after figures; and CPU profiles / heap snapshots of the hub,
 * with progress and a download.
 */
import { useEffect, useState } from 'react';
import type { Advice, AdviceEvidence, EvidenceUnit, FixResult, ProfileInfo } from '../../../../shared/advice-protocol';
import { Empty, ErrorNotice, Loading, Panel, Tag } from '../../components/ui';
import { formatAgo, formatBytes, formatClock, formatCount, formatMs, formatPercent } from '../../format';
import { invoke, useCall, useEvent, useNow, useTransport } from '../../hooks';
import './advice.css';

/** The advice is evaluated on request (a few cheap reads): refreshed this often while the view is open. */
const REFRESH_MS = 10_000;

export function formatFigure(value: number, unit: EvidenceUnit): string {
  switch (unit) {
    case 'bytes':
      return formatBytes(value);
    case 'ms':
      return formatMs(value);
    case 's':
      return `${value.toFixed(1)} s`;
    case 'percent':
      return formatPercent(value, value < 10 ? 1 : 0);
    case 'minutes':
      return value >= 120 ? `${(value / 60).toFixed(1)} h` : `${Math.round(value)} min`;
    case 'vectors':
      return `${formatCount(value)} vectors`;
    case 'messages':
      return `${formatCount(value)} messages`;
    default:
      return formatCount(value);
  }
}

export function AdvicePanel() {
  const report = useCall('advice.list');
  const { reload } = report;
  const now = useNow(5000);
  useEffect(() => {
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);

  let body;
  if (report.state === 'loading') body = <Loading>Asking the advisor…</Loading>;
  else if (report.state === 'error') body = <ErrorNotice message={report.message} onRetry={reload} />;
  else if (report.value.advice.length === 0) {
    body = (
      <Empty title="No bottleneck found" testId="advice-empty">
        Search, the event loop, memory, the databases, the encoder, inboxes and disks are within their thresholds.
      </Empty>
    );
  } else {
    body = (
      <ul className="advice-list">
        {report.value.advice.map((advice) => (
          <AdviceItem key={advice.id} advice={advice} now={now} />
        ))}
      </ul>
    );
  }
  const count = report.state === 'ready' ? report.value.advice.length : null;
  return (
    <Panel
      title="Advice"
      testId="panel-advice"
      meta={
        report.state === 'ready' && (
          <span className="muted small">
            {count === 0 ? 'nothing to do' : `${count} item${count === 1 ? '' : 's'}`} · automatic fixes {report.value.autoFix ? 'on' : 'off'}
          </span>
        )
      }
      actions={
        <button type="button" className="btn btn-small btn-ghost" onClick={reload} data-testid="advice-refresh">
          Refresh
        </button>
      }
    >
      {body}
      {report.state === 'ready' && <RecentFixes fixes={report.value.recentFixes} />}
      <Profiles />
    </Panel>
  );
}

function AdviceItem({ advice, now }: { advice: Advice; now: number }) {
  const transport = useTransport();
  const [fixing, setFixing] = useState(false);
  const [result, setResult] = useState<FixResult | null>(advice.lastFix);
  const [error, setError] = useState<string | null>(null);
  const tone = advice.severity === 'critical' ? 'down' : advice.severity === 'warning' ? 'warn' : 'accent';

  const fix = async () => {
    setFixing(true);
    setError(null);
    try {
      setResult(await invoke(transport, 'advice.fix', { id: advice.id }));
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setFixing(false);
    }
  };

  return (
    <li className={`advice advice-${advice.severity}`} data-testid="advice-item" data-advice={advice.id}>
      <div className="advice-head">
        <Tag tone={tone}>{advice.severity}</Tag>
        <span className="advice-title" data-testid="advice-title">
          {advice.title}
        </span>
        <span className="muted small nowrap" title={advice.since}>
          since {formatClock(advice.since)}
        </span>
      </div>
      <dl className="advice-evidence">
        {advice.evidence.map((evidence, i) => (
          <Evidence key={i} evidence={evidence} now={now} />
        ))}
      </dl>
      <p className="advice-suggestion" data-testid="advice-suggestion">
        {advice.suggestion}
      </p>
      {advice.fix && (
        <div className="advice-fix">
          <button type="button" className={`btn btn-small ${advice.fix.safe ? 'btn-primary' : ''}`} onClick={() => void fix()} disabled={fixing} data-testid="advice-fix">
            {fixing ? 'Working…' : advice.fix.label}
          </button>
          <span className="muted small">
            {advice.fix.estimatedCost}
            {advice.fix.safe ? ' · safe' : ''}
          </span>
        </div>
      )}
      {error && <p className="advice-error">{error}</p>}
      {result && <FixOutcome result={result} />}
    </li>
  );
}

function Evidence({ evidence, now }: { evidence: AdviceEvidence; now: number }) {
  return (
    <>
      <dt>{evidence.label}</dt>
      <dd>
        <span className="num">{formatFigure(evidence.value, evidence.unit)}</span>
        {evidence.since && (
          <span className="muted small" title={evidence.since}>
            {' '}
            · {formatClock(evidence.since)} ({formatAgo(evidence.since, now)})
          </span>
        )}
      </dd>
    </>
  );
}

/**
 * The latest fixes, whoever applied them (a click, or the hub with advisor.autoFix): a fixed condition leaves the
 * advice list at its next refresh, and its before/after stays here.
 */
function RecentFixes({ fixes }: { fixes: FixResult[] }) {
  if (fixes.length === 0) return null;
  return (
    <details className="recent-fixes" open>
      <summary className="small">Recent fixes ({fixes.length})</summary>
      <ul className="advice-list">
        {fixes.slice(0, 5).map((fix) => (
          <li key={`${fix.adviceId}-${fix.startedAt}`} className="advice" data-testid="recent-fix" data-advice={fix.adviceId}>
            <div className="advice-head">
              <span className="advice-title">
                {fix.kind} · {fix.adviceId}
              </span>
            </div>
            <FixOutcome result={fix} />
          </li>
        ))}
      </ul>
    </details>
  );
}

/** Before → after for each figure the fix measured. */
function FixOutcome({ result }: { result: FixResult }) {
  if (!result.ok) return <p className="advice-error" data-testid="advice-fix-result">The fix failed: {result.error}</p>;
  return (
    <div className="advice-result" data-testid="advice-fix-result">
      <div className="small muted">
        {result.automatic ? 'Applied by the hub' : 'Applied'} at {formatClock(result.startedAt)} in {formatMs(result.durationMs)}
      </div>
      <table className="table table-compact">
        <thead>
          <tr>
            <th>Figure</th>
            <th className="right">Before</th>
            <th className="right">After</th>
          </tr>
        </thead>
        <tbody>
          {result.figures.map((figure) => (
            <tr key={figure.label}>
              <td>{figure.label}</td>
              <td className="num right" data-testid="fix-before">
                {formatFigure(figure.before, figure.unit)}
              </td>
              <td className="num right" data-testid="fix-after">
                {formatFigure(figure.after, figure.unit)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** CPU profile for N seconds, heap snapshot; each listed with its progress and, once done, a download. */
function Profiles() {
  const transport = useTransport();
  const listed = useCall('profiles.list');
  const [profiles, setProfiles] = useState<ProfileInfo[] | null>(null);
  const [seconds, setSeconds] = useState(10);
  const [error, setError] = useState<string | null>(null);
  useEvent('profiles.changed', setProfiles);
  const shown = profiles ?? (listed.state === 'ready' ? listed.value : []);
  const busy = shown.some((p) => p.state === 'running');

  const start = async (kind: 'cpu' | 'heap') => {
    setError(null);
    try {
      await invoke(transport, 'profiles.start', { kind, seconds });
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  const download = async (profile: ProfileInfo) => {
    try {
      const blob = await transport.profileFile(profile.id);
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = profile.fileName;
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (failure) {
      setError((failure as Error).message);
    }
  };

  return (
    <div className="profiles" data-testid="profiles">
      <div className="profiles-controls">
        <strong>Profile the hub</strong>
        <label className="small">
          for{' '}
          <input
            className="input input-number"
            type="number"
            min={1}
            max={300}
            value={seconds}
            onChange={(event) => setSeconds(Math.max(1, Math.min(300, Number(event.target.value) || 1)))}
            aria-label="CPU profile seconds"
            data-testid="profile-seconds"
          />{' '}
          s
        </label>
        <button type="button" className="btn btn-small" disabled={busy} onClick={() => void start('cpu')} data-testid="profile-cpu">
          CPU profile
        </button>
        <button type="button" className="btn btn-small" disabled={busy} onClick={() => void start('heap')} data-testid="profile-heap">
          Heap snapshot
        </button>
      </div>
      <p className="small muted">
        Open the files in Chrome DevTools (Performance or Memory tab). A heap snapshot <strong>stops the hub</strong> while it is taken, about a
        second per few hundred MB of heap: every agent waits meanwhile. A CPU profile costs a few percent of one core.
      </p>
      {error && <p className="advice-error">{error}</p>}
      {shown.length > 0 && (
        <ul className="profile-list">
          {shown.map((profile) => (
            <li key={profile.id} data-testid="profile-item" data-state={profile.state}>
              <span className="nowrap">{profile.kind === 'cpu' ? `CPU profile, ${profile.seconds} s` : 'Heap snapshot'}</span>
              <span className="muted small nowrap">{formatClock(profile.startedAt)}</span>
              {profile.state === 'running' && <progress max={1} value={profile.progress} aria-label="progress" />}
              {profile.state === 'failed' && <span className="advice-error">{profile.error}</span>}
              {profile.state === 'done' && (
                <button type="button" className="btn btn-small" onClick={() => void download(profile)} data-testid="profile-download">
                  Download ({formatBytes(profile.bytes)})
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
