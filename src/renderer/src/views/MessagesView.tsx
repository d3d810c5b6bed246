/** The Messages view: the live stream with filters, threads, and a composer that sends as the overseer. */
import { memo, useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { IMPORTANCE, type AgentInfo, type Importance, type Recipient, type SendResponse } from '../../../shared/agent-protocol';
import type { CallParams, MessageDelivery, MessagePreview } from '../../../shared/contract';
import { MessageBody } from '../components/MessageBody';
import { VirtualList } from '../components/VirtualList';
import { Empty, ErrorNotice, ImportanceBadge, Loading, Panel, Tag, ViewHeader } from '../components/ui';
import { bodyPreview, formatAgo, formatBytes, formatClockPrecise, formatRate, recipientLabel, shortId } from '../format';
import { invoke, useAgentLookup, useAgents, useCall, useConnection, useDebounced, useEvent, useMetrics, useNow, useThrottled, useTransport } from '../hooks';
import { isOverseer } from '../live/live-data';
import { href, navigate } from '../router';

/** The stream keeps the newest this many; older ones are a filter or a thread away. */
const STREAM_CAP = 500;
const INITIAL_LIMIT = 300;
const ROW_HEIGHT = 34;
/** Live messages are drawn at most this often, however fast they come. */
const FLUSH_MS = 200;

interface Filters {
  agent: string;
  topic: string;
  thread: string;
  text: string;
}
const NO_FILTERS: Filters = { agent: '', topic: '', thread: '', text: '' };

/** Whether a live message belongs in the filtered stream (the same rules as `messages.list`, as far as a message alone tells). */
function matches(message: MessagePreview, filters: Filters, words: string[]): boolean {
  if (filters.agent && message.from !== filters.agent && !(message.to.type === 'agent' && message.to.id === filters.agent) && message.to.type !== 'broadcast') return false;
  if (filters.topic && !(message.to.type === 'topic' && message.to.name === filters.topic)) return false;
  if (filters.thread && message.threadId !== filters.thread) return false;
  if (words.length > 0) {
    const haystack = `${message.subject ?? ''} ${typeof message.body === 'string' ? message.body : JSON.stringify(message.body)}`.toLowerCase();
    if (!words.every((word) => haystack.includes(word))) return false;
  }
  return true;
}

/** Newest first, each message once, at most `cap` (older pages loaded on request raise it). ULIDs sort by creation time. */
function mergeNewestFirst(incoming: MessagePreview[], current: MessagePreview[], cap = STREAM_CAP): MessagePreview[] {
  const seen = new Set<string>();
  const merged: MessagePreview[] = [];
  for (const message of [...incoming, ...current]) {
    if (seen.has(message.id)) continue;
    seen.add(message.id);
    merged.push(message);
  }
  merged.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return merged.length > cap ? merged.slice(0, cap) : merged;
}

/** One row per thread: its newest message, with how many of the shown messages the thread has. */
function groupByThread(items: MessagePreview[]): Array<MessagePreview & { inThread: number }> {
  const groups = new Map<string, MessagePreview & { inThread: number }>();
  for (const message of items) {
    const group = groups.get(message.threadId);
    if (group) group.inThread++;
    else groups.set(message.threadId, { ...message, inThread: 1 });
  }
  return [...groups.values()];
}

/** The text with each search word marked (case-insensitive), so a person sees why a message matched. */
export function Highlight({ text, words }: { text: string; words: string[] }) {
  if (words.length === 0 || !text) return <>{text}</>;
  const pattern = new RegExp(`(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`, 'gi');
  const parts = text.split(pattern);
  return (
    <>
      {parts.map((part, i) =>
        i % 2 === 1 ? (
          <mark key={i} className="hit-mark">
            {part}
          </mark>
        ) : (
          part
        ),
      )}
    </>
  );
}

/** Older messages fetched per "Load older". */
const OLDER_PAGE = 200;

export interface ReplyTarget {
  threadId: string;
  replyTo: string;
  to: Recipient;
  subject: string | null;
}

/** The live message stream with filters, a thread reader and a composer that sends as the overseer. */
export function MessagesView({ threadId }: { threadId: string | null }) {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [reply, setReply] = useState<ReplyTarget | null>(null);
  const text = useDebounced(filters.text.trim(), 300);
  const effective = useMemo(() => ({ ...filters, text }), [filters, text]);
  const { latest } = useMetrics();

  return (
    <div className="view view-fill" data-testid="view-messages">
      <ViewHeader
        title="Messages"
        subtitle={
          latest ? (
            <>
              <span className="num">{formatRate(latest.rates.messagesSent)}</span> sent now · newest first, the latest {STREAM_CAP} kept
            </>
          ) : (
            `Newest first, the latest ${STREAM_CAP} kept`
          )
        }
      />
      <div className="messages-layout">
        <div className="messages-main">
          <FilterBar filters={filters} onChange={setFilters} />
          <Stream filters={effective} selectedThread={threadId} />
        </div>
        <aside className="messages-side">
          {threadId && <ThreadPanel key={threadId} threadId={threadId} onReply={setReply} onFilter={() => setFilters({ ...NO_FILTERS, thread: threadId })} />}
          <Composer reply={reply} onClearReply={() => setReply(null)} />
        </aside>
      </div>
    </div>
  );
}

function FilterBar({ filters, onChange }: { filters: Filters; onChange: (filters: Filters) => void }) {
  const agents = useAgents();
  const sorted = useMemo(() => [...agents.byId.values()].sort((a, b) => a.name.localeCompare(b.name)), [agents.byId]);
  const set = (key: keyof Filters) => (event: { target: { value: string } }) => onChange({ ...filters, [key]: event.target.value });
  const active = Object.values(filters).some(Boolean);
  return (
    <div className="filter-bar" role="search">
      <input className="input grow" type="search" placeholder="Search text…" value={filters.text} onChange={set('text')} aria-label="Search message text" data-testid="filter-text" />
      <select className="input" value={filters.agent} onChange={set('agent')} aria-label="Filter by agent" data-testid="filter-agent">
        <option value="">All agents</option>
        {sorted.map((agent) => (
          <option key={agent.id} value={agent.id}>
            {agent.name} ({agent.project})
          </option>
        ))}
      </select>
      <input className="input" placeholder="Topic" value={filters.topic} onChange={set('topic')} aria-label="Filter by topic" data-testid="filter-topic" />
      <input className="input num" placeholder="Thread id" value={filters.thread} onChange={set('thread')} aria-label="Filter by thread" data-testid="filter-thread" />
      <button type="button" className="btn btn-ghost" onClick={() => onChange(NO_FILTERS)} disabled={!active}>
        Clear
      </button>
    </div>
  );
}

/** Topic and thread filters must be valid names before the hub is asked (it validates them too). */
const TOPIC_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/:-]*$/;

function Stream({ filters, selectedThread }: { filters: Filters; selectedThread: string | null }) {
  const transport = useTransport();
  const connection = useConnection();
  const lookup = useAgentLookup();
  const now = useNow(5000);
  const [items, setItems] = useState<MessagePreview[]>([]);
  const [answer, setAnswer] = useState<{ key: string | null; state: 'ready' | 'error'; message?: string }>({ key: null, state: 'ready' });
  const [paused, setPaused] = useState(false);
  const [scrolledAway, setScrolledAway] = useState(false);
  const [held, setHeld] = useState(0);
  const [grouped, setGrouped] = useState(false);
  const [older, setOlder] = useState<{ state: 'idle' | 'loading' | 'done' | 'error'; message?: string }>({ state: 'idle' });
  /** How many the stream keeps: STREAM_CAP, raised by each older page loaded. */
  const cap = useRef(STREAM_CAP);
  const incoming = useRef<MessagePreview[]>([]);
  const heldRef = useRef<MessagePreview[]>([]);
  const loading = useRef(true);
  const frozen = paused || scrolledAway;
  const frozenRef = useRef(frozen);
  const flushTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const scrollRef = useRef<HTMLDivElement>(null);
  const words = useMemo(() => filters.text.toLowerCase().split(/\s+/).filter(Boolean), [filters.text]);
  const invalid =
    (filters.topic && !TOPIC_PATTERN.test(filters.topic) && 'A topic is letters, digits and . _ / : - (starting with a letter or digit).') || null;

  const flush = useCallback(() => {
    flushTimer.current = undefined;
    if (loading.current || incoming.current.length === 0) return;
    const batch = incoming.current.reverse();
    incoming.current = [];
    if (frozenRef.current) {
      heldRef.current = mergeNewestFirst(batch, heldRef.current);
      setHeld(heldRef.current.length);
      return;
    }
    setItems((current) => mergeNewestFirst(batch, current, cap.current));
  }, []);

  // Unfreezing shows what arrived meanwhile.
  useEffect(() => {
    frozenRef.current = frozen;
    if (!frozen && heldRef.current.length > 0) {
      const release = heldRef.current;
      heldRef.current = [];
      setHeld(0);
      setItems((current) => mergeNewestFirst(release, current, cap.current));
    }
  }, [frozen]);

  useEvent('messages.new', (batch) => {
    const matching = batch.filter((message) => matches(message, filters, words));
    if (matching.length === 0) return;
    incoming.current.push(...matching);
    if (incoming.current.length > STREAM_CAP) incoming.current = incoming.current.slice(-STREAM_CAP);
    flushTimer.current ??= setTimeout(flush, FLUSH_MS);
  });
  useEffect(() => () => clearTimeout(flushTimer.current), []);

  const filtersKey = JSON.stringify(filters);
  useEffect(() => {
    if (connection !== 'open' || invalid) return;
    let live = true;
    loading.current = true;
    incoming.current = [];
    heldRef.current = [];
    cap.current = STREAM_CAP;
    invoke(transport, 'messages.list', listParams(filters, INITIAL_LIMIT)).then(
      (list) => {
        if (!live) return;
        loading.current = false;
        // Whatever arrived live while the list was on its way goes on top of it.
        const arrived = incoming.current.reverse();
        incoming.current = [];
        setItems(mergeNewestFirst(arrived, list));
        setHeld(0);
        setOlder({ state: 'idle' });
        setAnswer({ key: filtersKey, state: 'ready' });
      },
      (error: Error) => {
        if (!live) return;
        loading.current = false;
        setAnswer({ key: filtersKey, state: 'error', message: error.message });
      },
    );
    return () => {
      live = false;
    };
    // filtersKey stands for filters.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [transport, connection, filtersKey, invalid]);

  /** The next page of history below the oldest shown, from the hub (messages.list with `before`). */
  const loadOlder = () => {
    const oldest = items[items.length - 1];
    if (!oldest || older.state === 'loading') return;
    setOlder({ state: 'loading' });
    invoke(transport, 'messages.list', { ...listParams(filters, OLDER_PAGE), before: oldest.id }).then(
      (page) => {
        cap.current += page.length;
        setItems((current) => mergeNewestFirst(page, current, cap.current));
        setOlder({ state: page.length < OLDER_PAGE ? 'done' : 'idle' });
      },
      (error: Error) => setOlder({ state: 'error', message: error.message }),
    );
  };

  const onScrollTop = useCallback((top: number) => setScrolledAway(top > ROW_HEIGHT / 2), []);
  const jumpToTop = () => {
    scrollRef.current?.scrollTo({ top: 0 });
    setScrolledAway(false);
    setPaused(false);
  };

  const load = answer.key === filtersKey ? answer : { state: 'loading' as const, message: undefined };
  const filtered = Object.values(filters).some(Boolean);
  const renderRow = useCallback(
    (message: MessagePreview & { inThread?: number }) => (
      <MessageRow message={message} lookup={lookup} selected={message.threadId === selectedThread} now={now} words={words} inThread={message.inThread} />
    ),
    [lookup, selectedThread, now, words],
  );
  const rows = useMemo(() => (grouped ? groupByThread(items) : items), [grouped, items]);

  return (
    <Panel
      className="stream-panel"
      bodyClassName="panel-body-flush stream-body"
      testId="message-stream"
      title="Live stream"
      meta={
        <span className="muted small num" data-testid="stream-count">
          {items.length} shown{grouped ? ` · ${rows.length} threads` : ''}
          {filtered ? ' · filtered' : ''}
        </span>
      }
      actions={
        <>
          {held > 0 && (
            <button type="button" className="btn btn-small btn-primary" onClick={jumpToTop} data-testid="stream-held">
              ↑ {held >= STREAM_CAP ? `${STREAM_CAP}+` : held} new
            </button>
          )}
          <button type="button" className={`btn btn-small ${grouped ? 'btn-active' : ''}`} onClick={() => setGrouped((g) => !g)} aria-pressed={grouped} data-testid="stream-group">
            By thread
          </button>
          <button type="button" className={`btn btn-small ${paused ? 'btn-active' : ''}`} onClick={() => setPaused((p) => !p)} aria-pressed={paused} data-testid="stream-pause">
            {paused ? '▶ Resume' : '❚❚ Pause'}
          </button>
        </>
      }
    >
      {invalid ? (
        <Empty title="Check the filter">{invalid}</Empty>
      ) : load.state === 'error' ? (
        <ErrorNotice message={load.message ?? ''} />
      ) : load.state === 'loading' ? (
        <Loading>Loading messages…</Loading>
      ) : items.length === 0 ? (
        <Empty title={filtered ? 'No message matches these filters' : 'No messages yet'} testId="stream-empty">
          {filtered ? 'New ones that match will appear here as they arrive.' : 'Messages between agents appear here the moment they are sent. Try the composer on the right.'}
        </Empty>
      ) : (
        <>
          <VirtualList
            items={rows}
            rowHeight={ROW_HEIGHT}
            getKey={(message) => message.id}
            renderRow={renderRow}
            onScrollTopChange={onScrollTop}
            scrollRef={scrollRef}
            className="stream-list"
            testId="stream-list"
          />
          <div className="stream-foot">
            {older.state === 'done' ? (
              <span className="muted small">The beginning: nothing older{filtered ? ' matches' : ''}.</span>
            ) : (
              <button type="button" className="btn btn-small btn-ghost" onClick={loadOlder} disabled={older.state === 'loading'} data-testid="stream-older">
                {older.state === 'loading' ? 'Loading…' : `Load ${OLDER_PAGE} older`}
              </button>
            )}
            {older.state === 'error' && <span className="text-down small">{older.message}</span>}
          </div>
        </>
      )}
    </Panel>
  );
}

/** The params of messages.list for the stream's filters. */
function listParams(filters: Filters, limit: number): CallParams<'messages.list'> {
  const params: CallParams<'messages.list'> = { limit };
  if (filters.agent) params.agent = filters.agent;
  if (filters.topic) params.topic = filters.topic;
  if (filters.thread) params.thread = filters.thread;
  if (filters.text) params.text = filters.text;
  return params;
}

/** "1/2": of the inboxes it reached, how many acknowledged it (as of when it was listed). */
function DeliveryState({ delivery }: { delivery: MessageDelivery | undefined }) {
  if (!delivery) return <span className="msg-delivery" />;
  const { recipients, acked } = delivery;
  const state = recipients === 0 ? 'none' : acked === recipients ? 'acked' : acked > 0 ? 'partial' : 'delivered';
  const title =
    recipients === 0
      ? 'reached no inbox'
      : `delivered to ${recipients} inbox${recipients === 1 ? '' : 'es'}, acknowledged by ${acked}${state === 'acked' ? ' (all)' : ''}`;
  return (
    <span className={`msg-delivery num delivery-${state}`} title={title} data-testid="msg-delivery" data-state={state}>
      {recipients === 0 ? '—' : `${state === 'acked' ? '✓✓' : '✓'} ${acked}/${recipients}`}
    </span>
  );
}

const MessageRow = memo(function MessageRow({
  message,
  lookup,
  selected,
  now,
  words,
  inThread,
}: {
  message: MessagePreview;
  lookup: (id: string) => AgentInfo | undefined;
  selected: boolean;
  now: number;
  words: string[];
  inThread?: number;
}) {
  const from = lookup(message.from)?.name ?? shortId(message.from);
  return (
    <a
      href={href('messages', message.threadId)}
      className={`msg-row importance-edge-${message.importance} ${selected ? 'selected' : ''}`}
      data-testid="message-row"
      data-message-id={message.id}
      role="listitem"
      title={`${formatAgo(message.createdAt, now)} · thread ${message.threadId}`}
    >
      <span className="msg-time num">{formatClockPrecise(message.createdAt)}</span>
      <span className="msg-route">
        <span className="msg-from">{from}</span>
        <span className="msg-arrow">→</span>
        <span className={`msg-to to-${message.to.type}`}>{recipientLabel(message.to, lookup)}</span>
      </span>
      <span className="msg-text">
        <ImportanceBadge importance={message.importance} />
        {message.subject && (
          <strong className="msg-subject">
            <Highlight text={message.subject} words={words} />
          </strong>
        )}
        <span className="msg-body">
          <Highlight text={bodyPreview(message.body)} words={words} />
        </span>
        {message.truncated && <span className="muted small num" title="A preview: open the thread for the full body"> · {formatBytes(message.truncated.bytes)}</span>}
      </span>
      <DeliveryState delivery={message.delivery} />
      <span className="msg-thread num" data-testid="msg-thread">
        {inThread !== undefined ? `${inThread} in thread` : message.threadId === message.id ? '' : `↳ ${shortId(message.threadId)}`}
      </span>
    </a>
  );
});

function ThreadPanel({ threadId, onReply, onFilter }: { threadId: string; onReply: (target: ReplyTarget) => void; onFilter: () => void }) {
  const thread = useCall('messages.thread', { threadId });
  const lookup = useAgentLookup();
  const now = useNow(5000);
  const refresh = useThrottled(thread.reload, 500);
  useEvent('messages.new', (batch) => batch.some((m) => m.threadId === threadId) && refresh());
  // An acknowledgement moves the recipient's inbox count: the receipts below are fetched again (at most twice a second).
  useEvent('agents.changed', () => refresh());

  const messages = thread.state === 'ready' ? thread.value : [];
  const subject = messages.find((m) => m.subject)?.subject;
  return (
    <Panel
      className="thread-panel"
      testId="thread-panel"
      title={subject ?? 'Thread'}
      meta={<span className="num muted small">{shortId(threadId)}</span>}
      actions={
        <>
          <button type="button" className="btn btn-ghost btn-small" onClick={onFilter} title="Show only this thread in the stream">
            Filter
          </button>
          <button type="button" className="btn btn-ghost btn-small" onClick={() => navigate('messages')} aria-label="Close thread">
            ✕
          </button>
        </>
      }
    >
      {thread.state === 'loading' && <Loading>Loading the thread…</Loading>}
      {thread.state === 'error' && <ErrorNotice message={thread.message} onRetry={thread.reload} />}
      {thread.state === 'ready' && messages.length === 0 && <Empty title="This thread is empty">It may have been a thread id that never had a message.</Empty>}
      <ol className="thread">
        {messages.map((message) => (
          <li key={message.id} className={`thread-msg importance-edge-${message.importance}`} data-testid="thread-message">
            <div className="thread-meta">
              <span className="msg-from">{lookup(message.from)?.name ?? shortId(message.from)}</span>
              <span className="msg-arrow">→</span>
              <span className="msg-to">{recipientLabel(message.to, lookup)}</span>
              <ImportanceBadge importance={message.importance} />
              <span className="grow" />
              <span className="num muted small" title={message.createdAt}>
                {formatAgo(message.createdAt, now)}
              </span>
            </div>
            {message.subject && <div className="thread-subject">{message.subject}</div>}
            <MessageBody message={message} />
            {message.receipts && message.receipts.length > 0 && (
              <div className="receipts small" data-testid="thread-receipts">
                {message.receipts.map((receipt) => (
                  <span key={receipt.agentId} className={`receipt ${receipt.ackedAt ? 'receipt-acked' : ''}`} title={receipt.ackedAt ? `acknowledged ${receipt.ackedAt}` : 'in its inbox, not acknowledged yet'}>
                    {receipt.ackedAt ? '✓✓' : '✓'} {lookup(receipt.agentId)?.name ?? shortId(receipt.agentId)}
                  </span>
                ))}
              </div>
            )}
            <div className="thread-foot">
              <span className="num muted small">{message.id}</span>
              <button
                type="button"
                className="btn btn-ghost btn-small"
                onClick={() =>
                  onReply({
                    threadId: message.threadId,
                    replyTo: message.id,
                    to: { type: 'agent', id: message.from },
                    subject: message.subject ? (message.subject.startsWith('Re:') ? message.subject : `Re: ${message.subject}`) : null,
                  })
                }
              >
                Reply
              </button>
            </div>
          </li>
        ))}
      </ol>
    </Panel>
  );
}

type ToKind = Recipient['type'];

function Composer({ reply, onClearReply }: { reply: ReplyTarget | null; onClearReply: () => void }) {
  const transport = useTransport();
  const agents = useAgents();
  const lookup = useAgentLookup();
  const [toKind, setToKind] = useState<ToKind>('agent');
  const [agentId, setAgentId] = useState('');
  const [topic, setTopic] = useState('');
  const [subject, setSubject] = useState('');
  const [body, setBody] = useState('');
  const [importance, setImportance] = useState<Importance>('normal');
  const [sending, setSending] = useState(false);
  const [result, setResult] = useState<{ ok: true; response: SendResponse; to: string } | { ok: false; message: string } | null>(null);

  const recipients = useMemo(
    () => [...agents.byId.values()].filter((a) => !a.revoked && !isOverseer(a)).sort((a, b) => Number(b.connected) - Number(a.connected) || a.name.localeCompare(b.name)),
    [agents.byId],
  );

  // Replying fills the form in; the person can still change anything.
  const [seenReply, setSeenReply] = useState(reply);
  if (reply !== seenReply) {
    setSeenReply(reply);
    if (reply?.to.type === 'agent') {
      setToKind('agent');
      setAgentId(reply.to.id);
    }
    if (reply?.subject) setSubject(reply.subject);
  }

  const to: Recipient | null =
    toKind === 'agent' ? (agentId ? { type: 'agent', id: agentId } : null) : toKind === 'topic' ? (TOPIC_PATTERN.test(topic) ? { type: 'topic', name: topic } : null) : { type: 'broadcast' };
  const problem = !to ? (toKind === 'agent' ? 'Pick an agent.' : 'Name a topic (letters, digits and . _ / : -).') : !body.trim() ? 'Write a message.' : null;

  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    if (problem || !to || sending) return;
    setSending(true);
    setResult(null);
    try {
      const params: CallParams<'messages.send'> = { to, body, importance };
      if (subject.trim()) params.subject = subject.trim();
      if (reply) {
        params.threadId = reply.threadId;
        params.replyTo = reply.replyTo;
      }
      const response = await invoke(transport, 'messages.send', params);
      setResult({ ok: true, response, to: recipientLabel(to, lookup) });
      setBody('');
      // Urgency belongs to one message: the next starts at normal again.
      setImportance('normal');
      onClearReply();
    } catch (error) {
      setResult({ ok: false, message: (error as Error).message });
    } finally {
      setSending(false);
    }
  };

  return (
    <Panel title="Send as overseer" className="composer" testId="composer">
      <form onSubmit={send} className="form">
        {reply && (
          <div className="reply-chip">
            Replying in thread <span className="num">{shortId(reply.threadId)}</span>
            <button type="button" className="btn btn-ghost btn-small" onClick={onClearReply} aria-label="Stop replying">
              ✕
            </button>
          </div>
        )}
        <div className="field">
          <span className="field-label">To</span>
          <div className="segmented" role="radiogroup" aria-label="Recipient type">
            {(['agent', 'topic', 'broadcast'] as const).map((kind) => (
              <button key={kind} type="button" role="radio" aria-checked={toKind === kind} className={toKind === kind ? 'on' : ''} onClick={() => setToKind(kind)} data-testid={`composer-to-${kind}`}>
                {kind === 'agent' ? 'Agent' : kind === 'topic' ? 'Topic' : 'Everyone'}
              </button>
            ))}
          </div>
        </div>
        {toKind === 'agent' && (
          <select className="input" value={agentId} onChange={(e) => setAgentId(e.target.value)} aria-label="Recipient agent" data-testid="composer-agent">
            <option value="">{recipients.length === 0 ? 'No agents to write to yet' : 'Choose an agent…'}</option>
            {recipients.map((agent) => (
              <option key={agent.id} value={agent.id}>
                {agent.connected ? '● ' : '○ '}
                {agent.name} ({agent.project})
              </option>
            ))}
          </select>
        )}
        {toKind === 'topic' && <input className="input num" placeholder="topic, e.g. builds" value={topic} onChange={(e) => setTopic(e.target.value)} aria-label="Topic" data-testid="composer-topic" />}
        {toKind === 'broadcast' && <p className="muted small">Every agent that is not revoked gets it in its inbox.</p>}
        <input className="input" placeholder="Subject (optional)" value={subject} onChange={(e) => setSubject(e.target.value)} maxLength={500} aria-label="Subject" data-testid="composer-subject" />
        <textarea
          className="input textarea"
          placeholder="Message… (Ctrl+Enter sends)"
          value={body}
          onChange={(e) => setBody(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void send();
          }}
          rows={4}
          aria-label="Message body"
          data-testid="composer-body"
        />
        <div className="composer-foot">
          <div className="segmented segmented-small" role="radiogroup" aria-label="Importance">
            {IMPORTANCE.map((level) => (
              <button key={level} type="button" role="radio" aria-checked={importance === level} className={`${importance === level ? 'on' : ''} imp-${level}`} onClick={() => setImportance(level)}>
                {level}
              </button>
            ))}
          </div>
          <button type="submit" className="btn btn-primary" disabled={Boolean(problem) || sending} title={problem ?? undefined} data-testid="composer-send">
            {sending ? 'Sending…' : 'Send'}
          </button>
        </div>
        {result && (
          <div className={`result ${result.ok ? 'result-ok' : 'result-error'}`} role="status" data-testid="composer-result">
            {result.ok ? (
              <>
                Sent to <strong>{result.to}</strong>: stored as <a className="num" href={href('messages', result.response.threadId)}>{shortId(result.response.id)}</a>, delivered to{' '}
                <span className="num">{result.response.recipients}</span> inbox{result.response.recipients === 1 ? '' : 'es'}
                {result.response.recipients === 0 && <Tag tone="warn">nobody received it</Tag>}
              </>
            ) : (
              <>Not sent: {result.message}</>
            )}
          </div>
        )}
      </form>
    </Panel>
  );
}
