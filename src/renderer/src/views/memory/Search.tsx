/** The Memory view's search: ranked hits with every score explained; a hit opens its memory or its topic. */
import { useState, type FormEvent } from 'react';
import type { CallParams } from '../../../../shared/contract';
import { MEMORY_KINDS, MEMORY_SCOPES, type Memory, type MemoryHit, type MemoryKind, type MemoryScope, type MemorySearchResult } from '../../../../shared/memory-protocol';
import { Empty, ErrorNotice, Loading, Panel, Tag } from '../../components/ui';
import { formatAgo, formatMs, formatScore, shortId } from '../../format';
import { invoke, useAgentLookup, useNow, useTransport } from '../../hooks';
import { topicLabel } from './model';

const SCOPE_LABEL: Record<MemoryScope, string> = { all: 'All projects', project: 'One project', shared: 'Project + shared' };

interface Query {
  q: string;
  scope: MemoryScope;
  project: string;
  kinds: MemoryKind[];
  k: number;
  /** Also memories replaced by a newer one. */
  history: boolean;
}

/** What the Search passes up: opening a memory or a topic, and the edits made since (null: deleted). */
export interface SearchLinks {
  onOpen(memory: Memory): void;
  onOpenTopic(project: string, topic: { id: string; label: string[] }): void;
  openId: string | null;
  edits: Readonly<Record<string, Memory | null>>;
}

export function Search({ projects, links }: { projects: string[]; links: SearchLinks }) {
  const transport = useTransport();
  const [query, setQuery] = useState<Query>({ q: '', scope: 'all', project: '', kinds: [], k: 20, history: false });
  const [result, setResult] = useState<
    { state: 'idle' } | { state: 'loading'; q: string } | { state: 'error'; message: string } | { state: 'ready'; value: MemorySearchResult; q: string }
  >({ state: 'idle' });

  const run = async (event?: FormEvent) => {
    event?.preventDefault();
    const q = query.q.trim();
    if (!q) return;
    setResult({ state: 'loading', q });
    const params: CallParams<'memory.search'> = { q, scope: query.scope, k: query.k };
    if (query.scope !== 'all' && query.project) params.project = query.project;
    if (query.kinds.length > 0) params.kind = query.kinds.join(',');
    if (query.history) params.includeHistory = true;
    try {
      setResult({ state: 'ready', value: await invoke(transport, 'memory.search', params), q });
    } catch (error) {
      setResult({ state: 'error', message: (error as Error).message });
    }
  };

  const toggleKind = (kind: MemoryKind) =>
    setQuery((current) => ({ ...current, kinds: current.kinds.includes(kind) ? current.kinds.filter((k) => k !== kind) : [...current.kinds, kind] }));

  return (
    <div className="memory-main">
      <Panel className="search-panel">
        <form className="search-form" onSubmit={run} role="search">
          <input
            className="input input-large grow"
            type="search"
            placeholder="Ask the memory: “why did we pick sqlite”, “flaky test in ci”…"
            value={query.q}
            onChange={(e) => setQuery({ ...query, q: e.target.value })}
            aria-label="Search memories"
            data-testid="memory-query"
          />
          <select className="input" value={query.scope} onChange={(e) => setQuery({ ...query, scope: e.target.value as MemoryScope })} aria-label="Scope" data-testid="memory-scope">
            {MEMORY_SCOPES.map((scope) => (
              <option key={scope} value={scope}>
                {SCOPE_LABEL[scope]}
              </option>
            ))}
          </select>
          {query.scope !== 'all' && (
            <>
              <input className="input" list="memory-projects" placeholder="project (default)" value={query.project} onChange={(e) => setQuery({ ...query, project: e.target.value })} aria-label="Project" />
              <datalist id="memory-projects">
                {projects.map((project) => (
                  <option key={project} value={project} />
                ))}
              </datalist>
            </>
          )}
          <select className="input" value={query.k} onChange={(e) => setQuery({ ...query, k: Number(e.target.value) })} aria-label="Number of results">
            {[10, 20, 50, 100].map((k) => (
              <option key={k} value={k}>
                top {k}
              </option>
            ))}
          </select>
          <label className="small muted" title="Also memories replaced by a newer value (history)">
            <input type="checkbox" checked={query.history} onChange={(e) => setQuery({ ...query, history: e.target.checked })} data-testid="memory-history" /> history
          </label>
          <button type="submit" className="btn btn-primary" disabled={!query.q.trim() || result.state === 'loading'} data-testid="memory-search">
            Search
          </button>
        </form>
        <div className="kind-chips" role="group" aria-label="Kinds">
          <span className="muted small">Kinds:</span>
          {MEMORY_KINDS.map((kind) => (
            <button key={kind} type="button" className={`chip ${query.kinds.includes(kind) ? 'on' : ''}`} aria-pressed={query.kinds.includes(kind)} onClick={() => toggleKind(kind)}>
              {kind}
            </button>
          ))}
          {query.kinds.length > 0 && (
            <button type="button" className="btn btn-ghost btn-small" onClick={() => setQuery({ ...query, kinds: [] })}>
              any kind
            </button>
          )}
        </div>
      </Panel>
      <Results result={result} links={links} />
    </div>
  );
}

function Results({
  result,
  links,
}: {
  result: { state: 'idle' } | { state: 'loading'; q: string } | { state: 'error'; message: string } | { state: 'ready'; value: MemorySearchResult; q: string };
  links: SearchLinks;
}) {
  if (result.state === 'idle') {
    return (
      <Panel>
        <Empty title="Search what the agents remember">
          Results are ranked by fusing a vector search and a keyword search (reciprocal rank), then weighed by each memory’s importance and how recently it
          was used. Every hit shows those numbers.
        </Empty>
      </Panel>
    );
  }
  if (result.state === 'loading') {
    return (
      <Panel>
        <Loading>Searching for “{result.q}”…</Loading>
      </Panel>
    );
  }
  if (result.state === 'error') {
    return (
      <Panel>
        <ErrorNotice title="The search failed" message={result.message} />
      </Panel>
    );
  }
  const { tookMs, model } = result.value;
  // Edits made in the memory panel since the search ran: the changed memory in place, a deleted one gone.
  const hits = result.value.hits.flatMap((hit) => {
    const edited = links.edits[hit.memory.id];
    if (edited === null) return [];
    return [edited ? { ...hit, memory: edited } : hit];
  });
  const top = hits[0]?.scores.final ?? 1;
  return (
    <Panel
      title={`Results for “${result.q}”`}
      testId="memory-results"
      meta={
        <span className="muted small num">
          {hits.length} hit{hits.length === 1 ? '' : 's'} · {formatMs(tookMs)} · {model}
        </span>
      }
    >
      {hits.length === 0 ? (
        <Empty title="Nothing found">Try other words, another scope (“All projects”) or fewer kinds.</Empty>
      ) : (
        <>
          {hits[0]!.weak && (
            <p className="weak-notice" data-testid="memory-no-good-match">
              No good match: nothing stored answers this well. The closest memories follow.
            </p>
          )}
          <p className="formula muted small">
            <span className="num">final = (relevance + 3 if an exact identifier matched) × (0.9 + 0.2 × importance) × (0.8 + 0.2 × recency)</span>, where{' '}
            <span className="num">relevance = vector similarity + 0.5 × keyword coverage</span>
          </p>
          <ol className="hits">
            {hits.map((hit, index) => (
              <Hit key={hit.memory.id} hit={hit} rank={index + 1} top={top} links={links} />
            ))}
          </ol>
        </>
      )}
    </Panel>
  );
}

function Hit({ hit, rank, top, links }: { hit: MemoryHit; rank: number; top: number; links: SearchLinks }) {
  const { memory, scores } = hit;
  const lookup = useAgentLookup();
  const now = useNow(30_000);
  const [expanded, setExpanded] = useState(false);
  const long = memory.text.length > 280;
  return (
    <li className={`hit ${links.openId === memory.id ? 'hit-open' : ''}`} data-testid="memory-hit" data-memory-id={memory.id}>
      <div className="hit-rank num">{rank}</div>
      <div className="hit-main">
        <div className="hit-meta">
          <Tag tone="accent">{memory.kind}</Tag>
          <span>{memory.project}</span>
          {memory.agent && <span className="muted">by {lookup(memory.agent)?.name ?? shortId(memory.agent)}</span>}
          {memory.shared && <Tag>shared</Tag>}
          {memory.reinforcements > 0 && <Tag tone="up">reinforced ×{memory.reinforcements}</Tag>}
          {memory.supersededBy && (
            <span data-testid="memory-superseded" title={`replaced by the newer memory ${memory.supersededBy}`}>
              <Tag tone="warn">superseded by {shortId(memory.supersededBy)}</Tag>
            </span>
          )}
          {memory.supersedes && (
            <span data-testid="memory-supersedes" title={`replaces the older memory ${memory.supersedes}, kept as history`}>
              <Tag tone="accent">updates {shortId(memory.supersedes)}</Tag>
            </span>
          )}
          {scores.exact && <Tag tone="up">exact identifier</Tag>}
          {hit.weak && <Tag>weak match</Tag>}
          {memory.tags.map((tag) => (
            <Tag key={tag}>#{tag}</Tag>
          ))}
          {hit.topic && (
            <button
              type="button"
              className="chip topic-chip"
              onClick={() => links.onOpenTopic(memory.project, hit.topic!)}
              title="Open this topic: the memories grouped with this one"
              data-testid="memory-hit-topic"
            >
              topic: {topicLabel(hit.topic.label)}
            </button>
          )}
          <span className="grow" />
          <span className="muted small num" title={memory.createdAt}>
            {formatAgo(memory.createdAt, now)} · used {memory.accessCount}×
          </span>
          <button type="button" className="btn btn-small" onClick={() => links.onOpen(memory)} aria-label={`Open memory ${shortId(memory.id)}: its links and edits`} data-testid="memory-open">
            Open
          </button>
        </div>
        <div className={`hit-text ${expanded ? 'expanded' : ''}`}>{memory.text}</div>
        {long && (
          <button type="button" className="btn btn-ghost btn-small" onClick={() => setExpanded((e) => !e)}>
            {expanded ? 'Show less' : 'Show all'}
          </button>
        )}
        <div className="scores" data-testid="memory-scores">
          <Score label="final" value={formatScore(scores.final)} strong bar={scores.final / top} />
          <Score label="relevance" value={formatScore(scores.fused)} />
          <Score
            label="vector"
            value={scores.vectorSimilarity === null ? 'none' : `${formatScore(scores.vectorSimilarity)}`}
            sub={scores.vectorRank === null ? undefined : `rank ${scores.vectorRank}`}
            muted={scores.vectorRank === null}
          />
          <Score
            label="keyword"
            value={scores.keywordRank === null ? 'no match' : `rank ${scores.keywordRank}`}
            sub={scores.keywordScore === null || scores.keywordRank === null ? undefined : `coverage ${formatScore(scores.keywordScore)}`}
            muted={scores.keywordRank === null}
          />
          <Score label="importance" value={formatScore(scores.importance)} bar={scores.importance} />
          <Score label="recency" value={formatScore(scores.recency)} bar={scores.recency} />
        </div>
      </div>
    </li>
  );
}

function Score({ label, value, sub, strong, bar, muted }: { label: string; value: string; sub?: string; strong?: boolean; bar?: number; muted?: boolean }) {
  return (
    <div className={`score ${strong ? 'score-strong' : ''} ${muted ? 'score-muted' : ''}`}>
      <div className="score-label">{label}</div>
      <div className="score-value num">{value}</div>
      {sub && <div className="score-sub num">{sub}</div>}
      {bar !== undefined && (
        <div className="meter" aria-hidden="true">
          <div className="meter-fill" style={{ width: `${Math.max(0, Math.min(1, bar)) * 100}%` }} />
        </div>
      )}
    </div>
  );
}
