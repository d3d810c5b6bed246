/**
 * "Needs attention": the strip at the top of the Overview (each item's title, evidence, age, where it is fixed and
 * its one action, with what the action did) and the count beside Overview in the sidebar. The hub computes the list
 * (src/main/attention/) and pushes it whole when it changes ('attention.changed').
 */
import { useEffect, useState, type FormEvent } from 'react';
import type { AttentionEvidence, AttentionItem, AttentionList } from '../../../../shared/attention-protocol';
import { formatAgo, formatBytes, formatCount, formatDuration } from '../../format';
import { invoke, useConnection, useEvent, useNow, useTransport, type Loadable } from '../../hooks';
import { href } from '../../router';
import './attention.css';

/** Items shown before "Show all": the strip must not push the Overview's figures off the screen. */
const SHOWN = 6;

/** The list, fetched when the connection opens and replaced by each pushed one. */
export function useAttention(): [Loadable<AttentionList>, (list: AttentionList) => void] {
  const transport = useTransport();
  const connection = useConnection();
  const [value, setValue] = useState<Loadable<AttentionList>>({ state: 'loading' });
  useEffect(() => {
    if (connection !== 'open') return;
    let live = true;
    invoke(transport, 'attention.list').then(
      (list) => live && setValue({ state: 'ready', value: list }),
      (error: Error) => live && setValue({ state: 'error', message: error.message }),
    );
    return () => {
      live = false;
    };
  }, [transport, connection]);
  useEvent('attention.changed', (list) => setValue({ state: 'ready', value: list }));
  return [value, (list) => setValue({ state: 'ready', value: list })];
}

export function AttentionStrip() {
  const [attention, replace] = useAttention();
  const [showAll, setShowAll] = useState(false);
  const now = useNow(5000);
  if (attention.state === 'loading') return null;
  if (attention.state === 'error') {
    return (
      <section className="attention attention-error" data-testid="attention-strip" role="alert">
        Could not read what needs attention: {attention.message}
      </section>
    );
  }
  const { items, counts } = attention.value;
  if (items.length === 0) {
    return (
      <section className="attention attention-clear" data-testid="attention-strip" aria-label="Needs attention">
        <span className="attention-ok-mark" aria-hidden="true" />
        <span data-testid="attention-empty">Nothing needs attention</span>
      </section>
    );
  }
  const shown = showAll ? items : items.slice(0, SHOWN);
  return (
    <section className="attention" data-testid="attention-strip" aria-label="Needs attention">
      <header className="attention-header">
        <h2>Needs attention</h2>
        <span className="attention-counts">
          {counts.critical > 0 && <span className="attention-count sev-critical">{counts.critical} critical</span>}
          {counts.warning > 0 && <span className="attention-count sev-warning">{counts.warning} warning</span>}
          {counts.info > 0 && <span className="attention-count sev-info">{counts.info} info</span>}
        </span>
      </header>
      <ul className="attention-list">
        {shown.map((item) => (
          <AttentionRow key={item.id} item={item} now={now} onList={replace} />
        ))}
      </ul>
      {items.length > SHOWN && (
        <button type="button" className="btn btn-ghost btn-small attention-more" onClick={() => setShowAll(!showAll)}>
          {showAll ? 'Show fewer' : `Show all ${items.length}`}
        </button>
      )}
    </section>
  );
}

type ActState = { step: 'idle' } | { step: 'confirm' } | { step: 'text' } | { step: 'busy' } | { step: 'done'; ok: boolean; message: string };

function AttentionRow({ item, now, onList }: { item: AttentionItem; now: number; onList: (list: AttentionList) => void }) {
  const transport = useTransport();
  const [act, setAct] = useState<ActState>({ step: 'idle' });
  const [text, setText] = useState('');
  const { action } = item;

  const run = (body?: string) => {
    setAct({ step: 'busy' });
    invoke(transport, 'attention.act', { id: item.id, ...(body ? { text: body } : {}) }).then(
      (result) => {
        setAct({ step: 'done', ok: true, message: result.message });
        setText('');
        onList(result.list);
      },
      (error: Error) => setAct({ step: 'done', ok: false, message: error.message }),
    );
  };
  const start = () => {
    if (!action) return;
    if (action.needsText) setAct({ step: 'text' });
    else if (action.confirm) setAct({ step: 'confirm' });
    else run();
  };
  const send = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim()) run(text.trim());
  };

  return (
    <li className={`attention-item sev-${item.severity}`} data-testid="attention-item" data-id={item.id} data-kind={item.kind}>
      <div className="attention-main">
        <div className="attention-title">
          <span className={`attention-sev sev-${item.severity}`}>{item.severity}</span>
          <span>{item.title}</span>
        </div>
        {item.detail && <div className="attention-detail">{item.detail}</div>}
        <div className="attention-evidence">
          {item.evidence.map((evidence) => (
            <span key={evidence.label} className="attention-figure">
              {evidence.label} <span className="num">{evidenceValue(evidence)}</span>
            </span>
          ))}
          {item.since && (
            <span className="attention-figure" title={item.since}>
              since <span className="num">{formatAgo(item.since, now)}</span>
            </span>
          )}
          {item.project && <span className="attention-figure">project {item.project}</span>}
        </div>
        {act.step === 'confirm' && action?.confirm && (
          <div className="attention-confirm" role="group" aria-label="Confirm">
            <span>{action.confirm}</span>
            <button type="button" className="btn btn-small btn-danger" onClick={() => run()} data-testid="attention-confirm">
              {action.label}
            </button>
            <button type="button" className="btn btn-small btn-ghost" onClick={() => setAct({ step: 'idle' })}>
              Cancel
            </button>
          </div>
        )}
        {act.step === 'text' && (
          <form className="attention-compose" onSubmit={send}>
            <input
              className="input"
              autoFocus
              aria-label={action?.label ?? 'Message'}
              placeholder="Write the message…"
              value={text}
              onChange={(event) => setText(event.target.value)}
              data-testid="attention-text"
            />
            <button type="submit" className="btn btn-small btn-primary" disabled={!text.trim()} data-testid="attention-send">
              Send
            </button>
            <button type="button" className="btn btn-small btn-ghost" onClick={() => setAct({ step: 'idle' })}>
              Cancel
            </button>
          </form>
        )}
        {act.step === 'done' && (
          <div className={`attention-result ${act.ok ? 'ok' : 'failed'}`} role="status" data-testid="attention-result">
            {act.ok ? act.message : `Failed: ${act.message}`}
          </div>
        )}
      </div>
      <div className="attention-side">
        <a className="btn btn-small btn-ghost" href={href(item.link.view, item.link.selection)} data-testid="attention-link">
          {item.link.label}
        </a>
        {action && (
          <button
            type="button"
            className="btn btn-small btn-primary"
            onClick={start}
            disabled={act.step === 'busy' || act.step === 'confirm' || act.step === 'text'}
            data-testid="attention-action"
          >
            {act.step === 'busy' ? 'Working…' : action.label}
          </button>
        )}
      </div>
    </li>
  );
}

function evidenceValue({ value, unit }: AttentionEvidence): string {
  if (typeof value === 'string') return value;
  if (unit === 'ms') return formatDuration(value);
  if (unit === 'bytes') return formatBytes(value);
  return formatCount(value);
}

/** The count beside Overview in the sidebar: red with anything critical, amber otherwise, nothing when clear. */
export function AttentionNavHint() {
  const [attention] = useAttention();
  if (attention.state !== 'ready' || attention.value.items.length === 0) return null;
  const { items, counts } = attention.value;
  return (
    <span
      className={`nav-hint num ${counts.critical > 0 ? 'nav-hint-critical' : 'nav-hint-attention'}`}
      title={`${items.length} thing${items.length === 1 ? '' : 's'} need${items.length === 1 ? 's' : ''} attention${counts.critical > 0 ? `, ${counts.critical} critical` : ''}`}
      data-testid="attention-nav-hint"
    >
      {items.length}
    </span>
  );
}
