/**
 * The Memory view: search with explained scores, topics to browse by project, and one memory opened with its links
 * drawn as a graph and its tags, importance and sharing to edit; what is stored by project, kind and age.
 * The open memory is in the address (`#/memory/<id>`).
 */
import { useCallback, useState } from 'react';
import type { Memory } from '../../../shared/memory-protocol';
import { ErrorNotice, Loading, Panel, ViewHeader } from '../components/ui';
import { formatCount } from '../format';
import { useLiveCall, useMemoryOverview, useMetrics } from '../hooks';
import { navigate } from '../router';
import { MemoryPanel } from './memory/MemoryPanel';
import { OverviewPanels } from './memory/OverviewPanels';
import { Search } from './memory/Search';
import { TopicBrowser, type OpenTopic } from './memory/TopicBrowser';
import './memory/memory.css';

type Tab = 'search' | 'topics';

export function MemoryView({ selectedId }: { selectedId: string | null }) {
  const { latest } = useMetrics();
  const overview = useMemoryOverview(latest?.totals.memoriesStored);
  const projects = overview.state === 'ready' ? overview.value.byProject.map((p) => p.project) : [];
  const [tab, setTab] = useState<Tab>('search');
  const [topic, setTopic] = useState<OpenTopic | null>(null);
  // Topics are read once the tab is first opened, not on every visit to the view.
  const [topicsSeen, setTopicsSeen] = useState(false);
  const show = useCallback((name: Tab) => {
    setTab(name);
    if (name === 'topics') setTopicsSeen(true);
  }, []);
  // The memories opened from a list, so the panel shows one at once while its neighbourhood loads.
  const [opened, setOpened] = useState<Record<string, Memory>>({});
  // Changes made in the panel, for the lists opened before them (null: deleted); `revision` refetches the topics.
  const [edits, setEdits] = useState<Record<string, Memory | null>>({});
  const [revision, setRevision] = useState(0);
  const reloadOverview = overview.reload;

  const open = useCallback((memory: Memory) => {
    setOpened((current) => ({ ...current, [memory.id]: memory }));
    navigate('memory', memory.id);
  }, []);
  const openTopic = useCallback((project: string, picked: { id: string; label: string[] }) => {
    setTopic({ project, id: picked.id, label: picked.label });
    show('topics');
  }, [show]);
  const changed = useCallback((memory: Memory) => {
    setEdits((current) => ({ ...current, [memory.id]: memory }));
    setRevision((n) => n + 1);
  }, []);
  const deleted = useCallback((id: string) => {
    setEdits((current) => ({ ...current, [id]: null }));
    setRevision((n) => n + 1);
    reloadOverview();
    navigate('memory');
  }, [reloadOverview]);

  const links = { onOpen: open, onOpenTopic: openTopic, openId: selectedId, edits };
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
        actions={
          <div className="segmented" role="tablist" aria-label="Find memories by">
            {(['search', 'topics'] as const).map((name) => (
              <button key={name} type="button" role="tab" aria-selected={tab === name} className={tab === name ? 'on' : ''} onClick={() => show(name)} data-testid={`memory-tab-${name}`}>
                {name === 'search' ? 'Search' : 'Topics'}
              </button>
            ))}
          </div>
        }
      />
      <div className={`memory-layout ${selectedId ? 'memory-layout-open' : ''}`}>
        <div className="memory-main">
          {/* Both stay mounted, so switching keeps a search's results and the topic being browsed. */}
          <div hidden={tab !== 'search'} className="memory-tab">
            <Search projects={projects} links={links} />
          </div>
          <div hidden={tab !== 'topics'} className="memory-tab">
            {topicsSeen && <TopicBrowser projects={projects} topic={topic} onTopic={setTopic} links={links} revision={revision} />}
          </div>
        </div>
        <div className="memory-side">
          {selectedId ? (
            <MemoryPanel
              id={selectedId}
              known={edits[selectedId] ?? opened[selectedId] ?? null}
              onOpen={(id) => navigate('memory', id)}
              onOpenTopic={openTopic}
              onChanged={changed}
              onDeleted={deleted}
              onClose={() => navigate('memory')}
            />
          ) : (
            <>
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
            </>
          )}
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
