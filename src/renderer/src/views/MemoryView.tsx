/** The Memory view: search with explained scores, and what is stored by project, kind and age. */
import { useState, type FormEvent } from 'react';
import { MEMORY_KINDS, MEMORY_SCOPES, type MemoryHit, type MemoryKind, type MemoryScope, type MemorySearchResult } from '../../../shared/memory-protocol';
import type { CallParams } from '../../../shared/contract';
import type { MemoryOverview } from '../../../shared/memory-protocol';
import { Bars, cssColor } from '../components/charts';
import { Empty, ErrorNotice, Loading, Panel, Stat, Tag, ViewHeader } from '../components/ui';
import { formatAgo, formatCount, formatMs, formatScore, shortId } from '../format';
import { invoke, useAgentLookup, useLiveCall, useMemoryOverview, useMetrics, useNow, useTransport } from '../hooks';

const SCOPE_LABEL: Record<MemoryScope, string> = { all: 'All projects', project: 'One project', shared: 'Project + shared' };

/** Search the shared memory and see why each hit ranks where it does; what is stored, by project, kind and age. */
export function MemoryView() {
  const { latest } = useMetrics();
  const overview = useMemoryOverview(latest?.totals.memoriesStored);
  return (
    <div className="view" data-testid="view-memory">
      <ViewHeader
        title="Memory"
        subtitle={
          overview.state === 'ready' ? (
            <>
              <span className="num">{formatCount(overview.value.total)}</span> memories in <span className="num">{overview.value.byProject.length}</span> project
              {overview.value.byProject.length === 1 ? '' : 's'} · {overview.value.index.model}
            </>
          ) : (
            'Hybrid search (vectors + keywords) over everything the agents remember'
          )
        }
      />
      <div className="memory-layout">
        <Search projects={overview.state === 'ready' ? overview.value.byProject.map((p) => p.project) : []} />
        <div className="memory-side">
          {overview.state === 'loading' && (
            <Panel title="What is stored">
              <MemoryEngineLoading />
            </Panel>
          )}
          {overview.state === 'error' && (
            <Panel title="What is stored">
              <ErrorNotice title="Memory is unavailable" message={overview.message} onRetry={overview.reload} />
            </Panel>
          )}
          {overview.state === 'ready' && <OverviewPanels overview={overview.value} />}
        </div>
      </div>
    </div>
  );
}

/** While the memory engine starts (the encoder can take a while on first start), say what it is waiting for. */
function MemoryEngineLoading() {
  const status = useLiveCall('hub.status');
  const waiting = status.state === 'ready' ? status.value.services.filter((s) => s.state !== 'up' && ['encoder', 'vector-index', 'memory'].includes(s.name)) : [];
  return (
    <Loading>
      Opening the memory engine…
      {waiting.map((service) => (
        <div key={service.name} className="small muted">
          {service.name}: {service.detail}
          {service.progress !== undefined && ` (${Math.round(service.progress * 100)}%)`}
        </div>
      ))}
    </Loading>
  );
}

interface Query {
  q: string;
  scope: MemoryScope;
  project: string;
  kinds: MemoryKind[];
  k: number;
  /** Also memories replaced by a newer one. */
  history: boolean;
}

function Search({ projects }: { projects: string[] }) {
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
      <Results result={result} />
    </div>
  );
}

function Results({
  result,
}: {
  result: { state: 'idle' } | { state: 'loading'; q: string } | { state: 'error'; message: string } | { state: 'ready'; value: MemorySearchResult; q: string };
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
  const { hits, tookMs, model } = result.value;
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
              <Hit key={hit.memory.id} hit={hit} rank={index + 1} top={top} />
            ))}
          </ol>
        </>
      )}
    </Panel>
  );
}

function Hit({ hit, rank, top }: { hit: MemoryHit; rank: number; top: number }) {
  const { memory, scores } = hit;
  const lookup = useAgentLookup();
  const now = useNow(30_000);
  const [expanded, setExpanded] = useState(false);
  const long = memory.text.length > 280;
  return (
    <li className="hit" data-testid="memory-hit" data-memory-id={memory.id}>
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
          <span className="grow" />
          <span className="muted small num" title={memory.createdAt}>
            {formatAgo(memory.createdAt, now)} · used {memory.accessCount}×
          </span>
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

function OverviewPanels({ overview }: { overview: MemoryOverview }) {
  const violet = cssColor('--c-violet');
  if (overview.total === 0) {
    return (
      <>
        <Panel title="What is stored" testId="memory-overview">
          <Empty title="No memories yet">
            Agents store them with <span className="num">POST /api/v1/memory/store</span> (text and a kind), or extract them from documents with{' '}
            <span className="num">/memory/extract</span>.
          </Empty>
        </Panel>
        <IndexFacts overview={overview} />
      </>
    );
  }
  return (
    <>
      <div className="stats stats-compact" data-testid="memory-overview">
        <Stat label="Memories" value={formatCount(overview.total)} testId="memory-total" />
        <Stat label="Projects" value={overview.byProject.length} />
        <Stat label="Last 30 days" value={formatCount(overview.growth.reduce((sum, day) => sum + day.count, 0))} />
      </div>
      <Panel title="By project">
        <Bars horizontal data={overview.byProject.slice(0, 12).map((p) => ({ label: p.project, value: p.count }))} color={violet} format={formatCount} name="memories" />
      </Panel>
      <Panel title="By kind">
        <Bars horizontal data={overview.byKind.map((k) => ({ label: k.kind, value: k.count }))} color={cssColor('--c-blue')} format={formatCount} name="memories" labelWidth={80} />
      </Panel>
      <Panel title="Growth, last 30 days">
        <Bars data={fillDays(overview.growth)} color={cssColor('--c-green')} format={formatCount} height={140} name="created" />
      </Panel>
      <div className="grid grid-2">
        <Panel title="Importance">
          <Bars data={overview.importance.map((b) => ({ label: b.bucket, value: b.count }))} color={cssColor('--c-amber')} format={formatCount} height={140} />
        </Panel>
        <Panel title="Age">
          <Bars data={overview.age.map((b) => ({ label: b.bucket, value: b.count }))} color={cssColor('--c-cyan')} format={formatCount} height={140} />
        </Panel>
      </div>
      <IndexFacts overview={overview} />
    </>
  );
}

/** Thirty days, with the quiet ones as zeros, so the bars sit on a real time axis. */
function fillDays(growth: MemoryOverview['growth']): Array<{ label: string; value: number }> {
  const counts = new Map(growth.map((day) => [day.day, day.count]));
  const days: Array<{ label: string; value: number }> = [];
  const today = new Date();
  for (let back = 29; back >= 0; back--) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back)).toISOString().slice(0, 10);
    days.push({ label: day.slice(5), value: counts.get(day) ?? 0 });
  }
  return days;
}

function IndexFacts({ overview }: { overview: MemoryOverview }) {
  const { index } = overview;
  return (
    <Panel title="Vector index" testId="memory-index">
      <dl className="kv kv-compact">
        <dt>Kind</dt>
        <dd className="num">{index.kind}</dd>
        <dt>Vectors</dt>
        <dd className="num">{formatCount(index.size)}</dd>
        <dt>Tombstones</dt>
        <dd className="num">{formatCount(index.tombstones)}</dd>
        <dt>Model</dt>
        <dd className="num">{index.model}</dd>
        <dt>Dimension</dt>
        <dd className="num">{index.dimension}</dd>
      </dl>
    </Panel>
  );
}
