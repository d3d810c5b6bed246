/**
 * One memory, opened: its text and facts (kind, tags, importance, sharing, what it updates or was updated by, dates,
 * uses), its links drawn as a graph (depth 1 or 2, coloured by kind or topic; a click re-centres on another memory),
 * and its edits. Everything comes from `memory.neighbourhood`, whose first memory is this one.
 */
import { useEffect, useRef, useState } from 'react';
import { MEMORY_LINK_KINDS, type MemoryLinkKind, type MemoryNeighbourhood } from '../../../../shared/memory-graph-protocol';
import type { Memory } from '../../../../shared/memory-protocol';
import { Empty, ErrorNotice, Loading, Panel, Tag } from '../../components/ui';
import { formatAgo, formatDateTime, shortId } from '../../format';
import { useAgentLookup, useCall, useNow } from '../../hooks';
import { MemoryEdit } from './MemoryEdit';
import { MemoryGraph, type ColourBy } from './MemoryGraph';
import { KIND_COLOR, LINK_STYLE, topicColor, topicLabel } from './model';

/** The most memories the graph shows: more is a hairball on a panel this size. */
const GRAPH_LIMIT = 40;

export function MemoryPanel({
  id,
  known,
  onOpen,
  onOpenTopic,
  onChanged,
  onDeleted,
  onClose,
}: {
  id: string;
  /** The memory as the list it was opened from had it, shown until the neighbourhood arrives. */
  known: Memory | null;
  onOpen(id: string): void;
  onOpenTopic(project: string, topic: { id: string; label: string[] }): void;
  onChanged(memory: Memory): void;
  onDeleted(id: string): void;
  onClose(): void;
}) {
  const [depth, setDepth] = useState<1 | 2>(1);
  const [colourBy, setColourBy] = useState<ColourBy>('kind');
  // The kinds of link followed; fewer is a neighbourhood reached through those alone (the hub filters, not the page).
  const [shown, setShown] = useState<MemoryLinkKind[]>([...MEMORY_LINK_KINDS]);
  const filtered = shown.length < MEMORY_LINK_KINDS.length;
  const hood = useCall('memory.neighbourhood', { id, depth, limit: GRAPH_LIMIT, ...(filtered && { kinds: shown.join(',') }) });
  const toggle = (kind: MemoryLinkKind) =>
    setShown((current) => (current.includes(kind) ? current.filter((k) => k !== kind) : MEMORY_LINK_KINDS.filter((k) => k === kind || current.includes(k))));
  // An edit's answer, shown at once (the neighbourhood is fetched again behind it).
  const [edited, setEdited] = useState<Memory | null>(null);
  const ready = hood.state === 'ready' && hood.value.center === id ? hood.value : null;
  const memory = (edited?.id === id ? edited : null) ?? ready?.memories[0] ?? (known?.id === id ? known : null);

  const top = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // On a narrow window the panel sits above the lists: bring it into view when another memory opens.
    top.current?.scrollIntoView({ block: 'nearest' });
  }, [id]);

  const changed = (next: Memory) => {
    setEdited(next);
    onChanged(next);
    hood.reload();
  };

  const topicId = ready?.topicOf[id];
  const topic = topicId ? ready?.topics.find((t) => t.id === topicId) : undefined;

  return (
    <div className="mem-panel" ref={top} data-testid="memory-panel" data-memory-id={id}>
      <Panel
        title={memory ? <>Memory {shortId(memory.id)}</> : 'Memory'}
        actions={
          <button type="button" className="btn btn-ghost btn-small" onClick={onClose} aria-label="Close the memory" data-testid="memory-close">
            Close
          </button>
        }
      >
        {memory ? (
          <MemoryFacts memory={memory} topic={topic && { id: topic.id, label: topic.label }} onOpen={onOpen} onOpenTopic={onOpenTopic} />
        ) : hood.state === 'error' ? (
          <ErrorNotice title="This memory could not be read" message={hood.message} onRetry={hood.reload} />
        ) : (
          <Loading>Reading the memory…</Loading>
        )}
        {memory && <MemoryEdit key={memory.id} memory={memory} onChanged={changed} onDeleted={onDeleted} />}
      </Panel>
      <Panel
        title="Links"
        testId="memory-links"
        meta={
          ready && (
            <span className="muted small num" data-testid="memory-links-count">
              {ready.memories.length} memories · {ready.links.length} links{ready.truncated ? ` (the nearest ${GRAPH_LIMIT})` : ''}
            </span>
          )
        }
        actions={
          <>
            <div className="segmented segmented-small" role="radiogroup" aria-label="Depth">
              {([1, 2] as const).map((d) => (
                <button key={d} type="button" role="radio" aria-checked={depth === d} className={depth === d ? 'on' : ''} onClick={() => setDepth(d)} data-testid={`memory-depth-${d}`}>
                  {d === 1 ? 'direct links' : '2 steps'}
                </button>
              ))}
            </div>
            <div className="segmented segmented-small" role="radiogroup" aria-label="Colour by">
              {(['kind', 'topic'] as const).map((by) => (
                <button key={by} type="button" role="radio" aria-checked={colourBy === by} className={colourBy === by ? 'on' : ''} onClick={() => setColourBy(by)}>
                  by {by}
                </button>
              ))}
            </div>
          </>
        }
      >
        {hood.state === 'error' ? (
          <ErrorNotice title="The links could not be read" message={hood.message} onRetry={hood.reload} />
        ) : !ready ? (
          <Loading>Reading the links…</Loading>
        ) : (
          <>
            {ready.links.length > 0 ? (
              <MemoryGraph key={`${ready.center}:${depth}:${shown.join()}`} hood={ready} colourBy={colourBy} onOpen={onOpen} />
            ) : filtered ? (
              <Empty title="No links of these kinds">Turn another kind of link back on below.</Empty>
            ) : (
              <Empty title="No links yet">No other memory shares a path, symbol, error, URL, person, ticket or commit with this one, derives from it, or is near it in meaning.</Empty>
            )}
            {(ready.links.length > 0 || filtered) && <Legend hood={ready} colourBy={colourBy} shown={shown} onToggle={toggle} />}
          </>
        )}
      </Panel>
    </div>
  );
}

function MemoryFacts({
  memory,
  topic,
  onOpen,
  onOpenTopic,
}: {
  memory: Memory;
  topic: { id: string; label: string[] } | undefined;
  onOpen(id: string): void;
  onOpenTopic(project: string, topic: { id: string; label: string[] }): void;
}) {
  const lookup = useAgentLookup();
  const now = useNow(30_000);
  const jump = (target: string, testId: string) => (
    <button type="button" className="link-button num" onClick={() => onOpen(target)} data-testid={testId}>
      {shortId(target)}
    </button>
  );
  return (
    <div className="mem-facts">
      <div className="hit-meta">
        <Tag tone="accent">{memory.kind}</Tag>
        <span>{memory.project}</span>
        {memory.agent && <span className="muted">by {lookup(memory.agent)?.name ?? shortId(memory.agent)}</span>}
        {memory.shared && <Tag>shared</Tag>}
        {memory.supersededBy && <Tag tone="warn">history</Tag>}
        {topic && (
          <button type="button" className="chip topic-chip" onClick={() => onOpenTopic(memory.project, topic)} data-testid="memory-topic-chip">
            topic: {topicLabel(topic.label)}
          </button>
        )}
      </div>
      <div className="mem-text" data-testid="memory-text">
        {memory.text}
      </div>
      <dl className="kv kv-compact mem-kv">
        <dt>Id</dt>
        <dd className="num">{memory.id}</dd>
        <dt>Importance</dt>
        <dd className="num">{memory.importance.toFixed(2)}</dd>
        <dt>Uses</dt>
        <dd className="num" data-testid="memory-uses">
          {memory.accessCount}× by agents{memory.lastAccessedAt ? `, last ${formatAgo(memory.lastAccessedAt, now)}` : ''}
          {memory.reinforcements > 0 && ` · stored again ×${memory.reinforcements}`}
        </dd>
        <dt>Created</dt>
        <dd className="num" title={memory.createdAt}>
          {formatDateTime(memory.createdAt)} ({formatAgo(memory.createdAt, now)})
        </dd>
        {memory.updatedAt !== memory.createdAt && (
          <>
            <dt>Updated</dt>
            <dd className="num" title={memory.updatedAt}>
              {formatDateTime(memory.updatedAt)}
            </dd>
          </>
        )}
        {memory.supersedes && (
          <>
            <dt>Updates</dt>
            <dd>the older value {jump(memory.supersedes, 'memory-supersedes-link')}, kept as history</dd>
          </>
        )}
        {memory.supersededBy && (
          <>
            <dt>Updated by</dt>
            <dd>the newer value {jump(memory.supersededBy, 'memory-superseded-link')}; searches skip this one</dd>
          </>
        )}
        {memory.parentId && (
          <>
            <dt>Made from</dt>
            <dd>{jump(memory.parentId, 'memory-parent-link')}</dd>
          </>
        )}
        {memory.source && (
          <>
            <dt>Source</dt>
            <dd className="num">
              {memory.source.type}
              {memory.source.ref && `: ${memory.source.ref}`}
            </dd>
          </>
        )}
      </dl>
    </div>
  );
}

function Legend({
  hood,
  colourBy,
  shown,
  onToggle,
}: {
  hood: MemoryNeighbourhood;
  colourBy: ColourBy;
  shown: readonly MemoryLinkKind[];
  onToggle(kind: MemoryLinkKind): void;
}) {
  const kinds = [...new Set(hood.memories.map((m) => m.kind))];
  return (
    <div className="mem-legend" data-testid="memory-graph-legend">
      <span className="muted">Links:</span>
      {/* Each kind of link is also a switch: off, the graph is what the other kinds reach. */}
      {MEMORY_LINK_KINDS.map((kind) => {
        const on = shown.includes(kind);
        const count = hood.links.filter((link) => link.kind === kind).length;
        return (
          <button
            key={kind}
            type="button"
            className={`chip mem-legend-toggle ${on ? '' : 'off'}`}
            aria-pressed={on}
            disabled={on && shown.length === 1}
            onClick={() => onToggle(kind)}
            title={`${LINK_STYLE[kind].explain}. ${on ? 'Click to hide these links' : 'Click to show these links'}.`}
            data-testid="memory-link-kind"
            data-link-kind={kind}
          >
            <svg width="26" height="8" aria-hidden="true">
              <line x1="1" y1="4" x2="25" y2="4" className={`mem-legend-line mem-link-${kind}`} />
            </svg>
            {LINK_STYLE[kind].label}
            {on && <span className="num muted"> {count}</span>}
          </button>
        );
      })}
      <span className="mem-legend-gap muted">{colourBy === 'kind' ? 'Kinds:' : 'Topics:'}</span>
      {colourBy === 'kind'
        ? kinds.map((kind) => (
            <span key={kind}>
              <span className="mem-swatch" style={{ background: `var(${KIND_COLOR[kind]})` }} aria-hidden="true" />
              {kind}
            </span>
          ))
        : hood.topics.map((topic, index) => (
            <span key={topic.id}>
              <span className="mem-swatch" style={{ background: `var(${topicColor(index)})` }} aria-hidden="true" />
              {topicLabel(topic.label)}
            </span>
          ))}
      <span className="muted mem-legend-keys">Click a memory (or arrow keys, then Enter) to centre on it.</span>
    </div>
  );
}
