/** The Agents view: every agent live, its detail, and revoking it. */
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import type { AgentInfo } from '../../../shared/agent-protocol';
import type { MessagePreview } from '../../../shared/contract';
import type { Memory } from '../../../shared/memory-protocol';
import { FullBodyLink } from '../components/MessageBody';
import { Empty, ErrorNotice, Loading, Panel, StatusBadge, Tag, ViewHeader } from '../components/ui';
import { bodyPreview, formatAgo, formatCount, formatDateTime, formatDuration, formatTimeLeft, recipientLabel, shortId } from '../format';
import { invoke, useAgentLookup, useAgents, useCall, useEvent, useNow, useThrottled, useTransport } from '../hooks';
import { countAgents, isOverseer } from '../live/live-data';
import { href, navigate } from '../router';
import { A2aTasksPanel } from './A2aTasksPanel';

type SortKey = 'name' | 'project' | 'tier' | 'status' | 'lastSeen' | 'inboxDepth' | 'messagesIn' | 'messagesOut';
const STATUS_ORDER: Record<string, number> = { busy: 0, online: 1, waiting: 2, idle: 3, offline: 4 };

function compareAgents(a: AgentInfo, b: AgentInfo, key: SortKey): number {
  switch (key) {
    case 'status':
      return (a.revoked ? 9 : STATUS_ORDER[a.status]!) - (b.revoked ? 9 : STATUS_ORDER[b.status]!) || a.name.localeCompare(b.name);
    case 'lastSeen':
      return (Date.parse(b.lastSeen ?? '') || 0) - (Date.parse(a.lastSeen ?? '') || 0);
    case 'inboxDepth':
    case 'messagesIn':
    case 'messagesOut':
      return b[key] - a[key];
    default:
      return a[key].localeCompare(b[key]) || a.name.localeCompare(b.name);
  }
}

/** Every agent, live; a click opens its detail (topics, recent messages and memories) with a way to revoke it. */
export function AgentsView({ selectedId }: { selectedId: string | null }) {
  const agents = useAgents();
  const now = useNow(1000);
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({ key: 'status', descending: false });

  // The overseer is the person at this cockpit: shown on a line of its own, not counted or listed as an agent.
  const everyone = useMemo(() => [...agents.byId.values()], [agents.byId]);
  const overseer = everyone.find(isOverseer);
  const all = useMemo(() => everyone.filter((agent) => !isOverseer(agent)), [everyone]);
  const rows = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const matching = needle
      ? all.filter((a) => [a.name, a.project, a.tier, a.status, a.activity ?? '', a.id].some((field) => field.toLowerCase().includes(needle)))
      : all;
    const sorted = [...matching].sort((a, b) => compareAgents(a, b, sort.key));
    return sort.descending ? sorted.reverse() : sorted;
  }, [all, filter, sort]);

  const counts = useMemo(() => countAgents(agents.byId), [agents.byId]);
  const revokedCount = all.length - counts.registered;
  const selected = selectedId ? agents.byId.get(selectedId) : undefined;
  const onlyOverseer = all.length === 0;

  const header = (
    <ViewHeader
      title="Agents"
      subtitle={
        agents.state === 'ready' ? (
          <span data-testid="agents-count">
            <span className="num">{all.length}</span> agent{all.length === 1 ? '' : 's'} · <span className="num">{counts.online}</span> online
            {revokedCount > 0 && (
              <>
                {' '}
                · <span className="num">{revokedCount}</span> revoked
              </>
            )}
            {rows.length !== all.length && (
              <>
                {' '}
                · <span className="num">{rows.length}</span> shown
              </>
            )}
          </span>
        ) : undefined
      }
      actions={
        <>
          <input className="input" type="search" placeholder="Filter by name, project, status…" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter agents" />
          <a className="btn btn-primary" href={href('connect')} data-testid="connect-link">
            Connect an agent
          </a>
        </>
      }
    />
  );

  if (agents.state === 'loading') {
    return (
      <div className="view">
        {header}
        <Loading>Loading agents…</Loading>
      </div>
    );
  }
  if (agents.state === 'error') {
    return (
      <div className="view">
        {header}
        <ErrorNotice message={agents.error ?? 'unknown error'} />
      </div>
    );
  }

  const toggleSort = (key: SortKey) => setSort((current) => ({ key, descending: current.key === key ? !current.descending : false }));
  const th = (key: SortKey, label: string, className = '') => (
    <th className={`sortable ${className}`} aria-sort={sort.key === key ? (sort.descending ? 'descending' : 'ascending') : 'none'}>
      <button type="button" onClick={() => toggleSort(key)}>
        {label}
        <span className="sort-mark" aria-hidden="true">
          {sort.key === key ? (sort.descending ? '▾' : '▴') : ''}
        </span>
      </button>
    </th>
  );

  return (
    <div className="view" data-testid="view-agents">
      {header}
      {onlyOverseer && (
        <Panel testId="connect-hint">
          <Empty title="No agent has registered yet">
            <a href={href('connect')}>Connect an agent</a>: one command adds this hub to Claude Code, Gemini CLI or Codex as that agent’s MCP server.
          </Empty>
        </Panel>
      )}
      {overseer && <OverseerLine overseer={overseer} selected={overseer.id === selectedId} />}
      <div className={`split ${selectedId ? 'split-open' : ''}`}>
        <Panel className="table-panel" bodyClassName="panel-body-flush">
          {rows.length === 0 ? (
            <Empty title={filter ? 'No agent matches the filter' : 'No agents registered yet'}>
              {filter ? 'Clear the filter to see every agent.' : 'Use “Connect an agent” above to register the first one.'}
            </Empty>
          ) : (
            <div className="table-scroll">
              <table className={`table ${selectedId ? 'table-compact' : ''}`} data-testid="agents-table">
                <thead>
                  <tr>
                    {th('name', 'Agent')}
                    {th('project', 'Project')}
                    {th('tier', 'Tier', 'wide-only')}
                    {th('status', 'Status')}
                    <th>Activity</th>
                    {th('lastSeen', 'Last seen')}
                    {th('inboxDepth', 'Inbox', 'right')}
                    {th('messagesIn', 'In / out', 'right')}
                    <th className="center" title="realtime socket connected">Link</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((agent) => (
                    <AgentRow key={agent.id} agent={agent} now={now} selected={agent.id === selectedId} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Panel>
        {selectedId && (
          <AgentDetailPanel key={selectedId} id={selectedId} agent={selected} now={now} />
        )}
      </div>
      <A2aTasksPanel />
    </div>
  );
}

function AgentRow({ agent, now, selected }: { agent: AgentInfo; now: number; selected: boolean }) {
  const open = () => navigate('agents', selected ? null : agent.id);
  return (
    <tr
      className={`clickable ${selected ? 'selected' : ''} ${agent.revoked ? 'revoked' : ''}`}
      onClick={open}
      onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), open())}
      tabIndex={0}
      data-testid="agent-row"
      data-agent-id={agent.id}
      data-name={agent.name}
      aria-selected={selected}
    >
      <td>
        <div className="cell-main">
          <span className="agent-name" title={agent.name}>
            {agent.name}
          </span>
          {isOverseer(agent) && <Tag tone="accent">you</Tag>}
        </div>
        <div className="cell-sub num" title={agent.id}>
          {shortId(agent.id)}
        </div>
      </td>
      <td className="project" title={agent.project}>
        {agent.project}
      </td>
      <td className="wide-only">
        <TierTag tier={agent.tier} />
      </td>
      <td>
        <StatusBadge status={agent.status} revoked={agent.revoked} />
      </td>
      <td className="muted activity" title={agent.activity ?? undefined}>
        <Activity agent={agent} />
      </td>
      <td className="num nowrap" title={agent.lastSeen ?? 'never'}>
        {agent.connected ? <span className="text-up">now</span> : formatAgo(agent.lastSeen, now)}
      </td>
      <td className={`num right ${agent.inboxDepth > 0 ? 'text-warn' : 'muted'}`}>{formatCount(agent.inboxDepth)}</td>
      <td className="num right nowrap inout" data-testid="agent-inout">
        {formatCount(agent.messagesIn)}
        <span className="sep">/</span>
        {formatCount(agent.messagesOut)}
      </td>
      <td className="center">
        <span className={`link-dot ${agent.connected ? 'on' : ''}`} title={agent.connected ? 'connected (realtime socket open)' : 'not connected'} data-testid="agent-connected" data-connected={agent.connected} />
      </td>
    </tr>
  );
}

/** The person at this cockpit: the overseer identity, present while a cockpit is open. */
function OverseerLine({ overseer, selected }: { overseer: AgentInfo; selected: boolean }) {
  return (
    <div className="overseer-line" data-testid="overseer-line">
      <StatusBadge status={overseer.status} revoked={overseer.revoked} />
      <span>
        You act as <a href={href('agents', selected ? null : overseer.id)}>overseer</a> <span className="muted num">({shortId(overseer.id)})</span>: what you send
        from this cockpit comes from it, and it is online while a cockpit is open.
      </span>
    </div>
  );
}

/**
 * What the agent last said it was doing. An offline agent's activity is what it said before it went quiet, so it is
 * marked stale rather than read as current.
 */
function Activity({ agent }: { agent: AgentInfo }) {
  if (!agent.activity) return <span className="ellipsis" />;
  const stale = agent.status === 'offline' || agent.revoked;
  return (
    <span className={`ellipsis ${stale ? 'activity-stale' : ''}`} data-testid="agent-activity" data-stale={stale}>
      {stale && (
        <Tag>
          <span title="reported before the agent went offline">stale</span>
        </Tag>
      )}{' '}
      {agent.activity}
    </span>
  );
}

function TierTag({ tier }: { tier: string }) {
  return (
<span className={`tier tier-${tier}`}>{tier}</span>
  );
}

function AgentDetailPanel({ id, agent, now }: { id: string; agent: AgentInfo | undefined; now: number }) {
  const detail = useCall('agents.detail', { id });
  // The detail has no event of its own: it is refetched (at most once a second) when something about it moves.
  const refresh = useThrottled(detail.reload, 1000);
  useEvent('agents.changed', (changed) => changed.id === id && refresh());
  useEvent('messages.new', (batch) => {
    if (batch.some((m) => m.from === id || (m.to.type === 'agent' && m.to.id === id) || m.to.type !== 'agent')) refresh();
  });
  const leases = useCall('reservations.list', { holder: id });
  const refreshLeases = useThrottled(leases.reload, 500);
  useEvent('reservations.changed', (change) => change.reservation.holderId === id && refreshLeases());

  const shown = agent ?? (detail.state === 'ready' ? detail.value.agent : undefined);
  const [composing, setComposing] = useState(false);
  // Escape closes the drawer (a form inside it first loses its text only if the person sends or cancels).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !event.defaultPrevented) navigate('agents');
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  const since = detail.state === 'ready' ? detail.value.statusSince : null;
  const oldestUnread = detail.state === 'ready' ? detail.value.oldestUnreadAt : null;
  return (
    <Panel
      className="detail-panel"
      testId="agent-detail"
      title={
        shown ? (
          <span className="detail-title">
            {shown.name} <StatusBadge status={shown.status} revoked={shown.revoked} />
          </span>
        ) : (
          'Agent'
        )
      }
      actions={
        <>
          {shown && !isOverseer(shown) && !shown.revoked && (
            <button type="button" className={`btn btn-small ${composing ? 'btn-active' : ''}`} onClick={() => setComposing((open) => !open)} aria-expanded={composing} data-testid="message-agent">
              Message
            </button>
          )}
          <a className="btn btn-ghost btn-small" href={href('agents')} aria-label="Close detail (Escape)" title="Close (Escape)">
            ✕
          </a>
        </>
      }
    >
      {shown && composing && <MessageAgent agent={shown} onDone={() => setComposing(false)} />}
      {!shown && detail.state === 'loading' && <Loading>Loading the agent…</Loading>}
      {detail.state === 'error' && <ErrorNotice message={detail.message} onRetry={detail.reload} />}
      {shown && (
        <>
          <dl className="kv">
            <dt>Id</dt>
            <dd className="num selectable">{shown.id}</dd>
            <dt>Project</dt>
            <dd>{shown.project}</dd>
            <dt>Tier</dt>
            <dd>
              <TierTag tier={shown.tier} />
            </dd>
            <dt>Status</dt>
            <dd data-testid="agent-status-since">
              <StatusBadge status={shown.status} revoked={shown.revoked} />{' '}
              {since && (
                <span className="num muted" title={`since ${formatDateTime(since)}`}>
                  for {formatDuration(Math.max(0, now - Date.parse(since)))}
                </span>
              )}
            </dd>
            <dt>Activity</dt>
            <dd>{shown.activity ? <Activity agent={shown} /> : <span className="muted">none reported</span>}</dd>
            <dt>Connected</dt>
            <dd>{shown.connected ? <span className="text-up">yes, realtime socket open</span> : <span className="muted">no</span>}</dd>
            <dt>Last seen</dt>
            <dd className="num">{shown.connected ? 'now' : formatAgo(shown.lastSeen, now)}</dd>
            <dt>Registered</dt>
            <dd className="num">{formatDateTime(shown.createdAt)}</dd>
            <dt>Messages</dt>
            <dd className="num">
              {formatCount(shown.messagesIn)} in · {formatCount(shown.messagesOut)} out · {formatCount(shown.inboxDepth)} waiting
            </dd>
            <dt>Oldest unread</dt>
            <dd className={`num ${oldestUnread ? 'text-warn' : 'muted'}`} data-testid="agent-oldest-unread" title={oldestUnread ? formatDateTime(oldestUnread) : undefined}>
              {shown.inboxDepth === 0 ? 'none: it has read everything' : oldestUnread ? `sent ${formatAgo(oldestUnread, now)}` : '…'}
            </dd>
            {shown.capabilities.length > 0 && (
              <>
                <dt>Capabilities</dt>
                <dd className="tags">
                  {shown.capabilities.map((c) => (
                    <Tag key={c}>{c}</Tag>
                  ))}
                </dd>
              </>
            )}
            {shown.description && (
              <>
                <dt>About</dt>
                <dd>{shown.description}</dd>
              </>
            )}
          </dl>

          {detail.state === 'ready' && (
            <>
              <h3 className="section-title">Topics</h3>
              {detail.value.topics.length === 0 ? (
                <p className="muted small">Not subscribed to any topic.</p>
              ) : (
                <div className="tags">
                  {detail.value.topics.map((topic) => (
                    <Tag key={topic}>#{topic}</Tag>
                  ))}
                </div>
              )}
              <h3 className="section-title">
                Recent messages <span className="muted num">{detail.value.messages.length}</span>
              </h3>
              <RecentMessages messages={detail.value.messages} agentId={id} now={now} />
              <h3 className="section-title">
                Recent memories <span className="muted num">{detail.value.memories.length}</span>
              </h3>
              <RecentMemories memories={detail.value.memories} now={now} />
            </>
          )}
          {leases.state === 'ready' && (
            <>
              <h3 className="section-title">
                File reservations <span className="muted num">{leases.value.length}</span>
              </h3>
              {leases.value.length === 0 ? (
                <p className="muted small">Holds no lease.</p>
              ) : (
                <ul className="mini-list" data-testid="agent-reservations">
                  {leases.value.map((lease) => (
                    <li key={lease.id} className="mini-row">
                      <Tag tone={lease.mode === 'exclusive' ? 'accent' : undefined}>{lease.mode}</Tag>
                      <a className="mini-text num" href={href('reservations')}>
                        {lease.paths.join(', ')}
                      </a>
                      <span className="mini-time num" title={`time left: until ${formatDateTime(lease.expiresAt)}`}>
                        {formatTimeLeft(lease.expiresAt, now)}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </>
          )}
          <RevokeZone agent={shown} />
        </>
      )}
    </Panel>
  );
}

/** A message to this agent from the overseer, without leaving its detail. */
function MessageAgent({ agent, onDone }: { agent: AgentInfo; onDone: () => void }) {
  const transport = useTransport();
  const [body, setBody] = useState('');
  const [state, setState] = useState<{ kind: 'idle' | 'sending' } | { kind: 'sent'; recipients: number } | { kind: 'error'; message: string }>({ kind: 'idle' });
  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    if (!body.trim() || state.kind === 'sending') return;
    setState({ kind: 'sending' });
    try {
      const response = await invoke(transport, 'messages.send', { to: { type: 'agent', id: agent.id }, body });
      setBody('');
      setState({ kind: 'sent', recipients: response.recipients });
    } catch (error) {
      setState({ kind: 'error', message: (error as Error).message });
    }
  };
  return (
    <form className="form drawer-message" onSubmit={send} data-testid="agent-message-form">
      <textarea
        className="input textarea"
        rows={3}
        placeholder={`Message ${agent.name}… (Ctrl+Enter sends)`}
        value={body}
        onChange={(e) => setBody(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void send();
          if (e.key === 'Escape') {
            // Escape here closes the form, not the whole drawer.
            e.preventDefault();
            e.nativeEvent.preventDefault();
            onDone();
          }
        }}
        aria-label={`Message to ${agent.name}`}
        autoFocus
        data-testid="agent-message-body"
      />
      <div className="composer-foot">
        <span className="muted small">as overseer{agent.connected ? '' : ' · it is not connected: the message waits in its inbox'}</span>
        <button type="submit" className="btn btn-primary btn-small" disabled={!body.trim() || state.kind === 'sending'} data-testid="agent-message-send">
          {state.kind === 'sending' ? 'Sending…' : 'Send'}
        </button>
      </div>
      {state.kind === 'sent' && (
        <div className="result result-ok" role="status" data-testid="agent-message-result">
          Sent: in {state.recipients} inbox{state.recipients === 1 ? '' : 'es'}.
        </div>
      )}
      {state.kind === 'error' && (
        <div className="result result-error" role="status">
          Not sent: {state.message}
        </div>
      )}
    </form>
  );
}

function RecentMessages({ messages, agentId, now }: { messages: MessagePreview[]; agentId: string; now: number }) {
  const lookup = useAgentLookup();
  if (messages.length === 0) return <p className="muted small">No messages yet.</p>;
  return (
    <ul className="mini-list" data-testid="agent-recent-messages">
      {messages.slice(0, 15).map((message) => {
        const outgoing = message.from === agentId;
        const other = outgoing ? recipientLabel(message.to, lookup) : (lookup(message.from)?.name ?? shortId(message.from));
        return (
          <li key={message.id}>
            <a href={href('messages', message.threadId)} className="mini-row">
              <span className={`dir ${outgoing ? 'out' : 'in'}`} title={outgoing ? 'sent' : 'received'}>
                {outgoing ? '→' : '←'}
              </span>
              <span className="mini-who">{other}</span>
              <span className="mini-text">{message.subject ? <strong>{message.subject} </strong> : null}{bodyPreview(message.body, 120)}</span>
              <span className="mini-time num">{formatAgo(message.createdAt, now)}</span>
            </a>
            {message.truncated && <FullBodyLink message={message} />}
          </li>
        );
      })}
    </ul>
  );
}

function RecentMemories({ memories, now }: { memories: Memory[]; now: number }) {
  if (memories.length === 0) return <p className="muted small">No memories stored by this agent.</p>;
  return (
    <ul className="mini-list" data-testid="agent-recent-memories">
      {memories.slice(0, 10).map((memory) => (
        <li key={memory.id} className="mini-row">
          <Tag>{memory.kind}</Tag>
          <span className="mini-text">{bodyPreview(memory.text, 160)}</span>
          <span className="mini-time num">{formatAgo(memory.createdAt, now)}</span>
        </li>
      ))}
    </ul>
  );
}

function RevokeZone({ agent }: { agent: AgentInfo }) {
  const transport = useTransport();
  const [stage, setStage] = useState<'idle' | 'confirm' | 'working'>('idle');
  const [error, setError] = useState<string | null>(null);

  if (isOverseer(agent)) return <p className="muted small revoke-note">This is the cockpit’s own identity; it cannot be revoked.</p>;
  if (agent.revoked) return <p className="muted small revoke-note">Revoked: its token no longer works and it receives nothing.</p>;

  const revoke = async () => {
    setStage('working');
    setError(null);
    try {
      await invoke(transport, 'agents.revoke', { id: agent.id });
      setStage('idle');
    } catch (failure) {
      setError((failure as Error).message);
      setStage('confirm');
    }
  };

  return (
    <div className="danger-zone">
      {stage === 'idle' ? (
        <button type="button" className="btn btn-danger" onClick={() => setStage('confirm')} data-testid="revoke">
          Revoke…
        </button>
      ) : (
        <div className="confirm" role="alertdialog" aria-label={`Revoke ${agent.name}?`}>
          <p>
            Revoke <strong>{agent.name}</strong>? Its connection closes, its token stops working and it receives no more messages. This cannot be undone.
          </p>
          <div className="confirm-actions">
            <button type="button" className="btn" onClick={() => setStage('idle')} disabled={stage === 'working'}>
              Cancel
            </button>
            <button type="button" className="btn btn-danger" onClick={revoke} disabled={stage === 'working'} data-testid="revoke-confirm">
              {stage === 'working' ? 'Revoking…' : `Revoke ${agent.name}`}
            </button>
          </div>
        </div>
      )}
      {error && <ErrorNotice title="Revoke failed" message={error} />}
    </div>
  );
}
