/**
 * Topics to browse: pick a project, see its topics largest first (their distinctive words, size and examples), open
 * one to page through its memories, nearest its centre first; a memory opens in the memory panel.
 */
import { useEffect, useState } from 'react';
import type { MemoryTopic } from '../../../../shared/memory-graph-protocol';
import { Empty, ErrorNotice, Loading, Panel, Tag } from '../../components/ui';
import { formatAgo, formatCount } from '../../format';
import { useCall, useNow } from '../../hooks';
import { clip, KIND_COLOR, topicLabel } from './model';
import { rovingKeyDown } from './roving';
import type { SearchLinks } from './Search';

/** The topic being browsed: from the list, or from a search hit's chip (which knows only its label). */
export interface OpenTopic {
  project: string;
  id: string;
  label: string[];
}

const PAGE = 20;

export function TopicBrowser({
  projects,
  topic,
  onTopic,
  links,
  revision,
}: {
  /** Largest first, from the overview. */
  projects: string[];
  topic: OpenTopic | null;
  onTopic(topic: OpenTopic | null): void;
  links: SearchLinks;
  /** Moves whenever a memory was edited or deleted, so sizes and pages are fetched again. */
  revision: number;
}) {
  const [picked, setPicked] = useState<string | null>(null);
  const project = topic?.project ?? picked ?? projects[0] ?? null;
  const topics = useCall('memory.topics', { project: project ?? 'default', limit: 100 }, { enabled: project !== null });
  const { reload } = topics;
  useEffect(() => {
    if (revision > 0) reload();
  }, [revision, reload]);

  const choose = (next: string) => {
    setPicked(next);
    onTopic(null);
  };

  return (
    <div className="topic-browser">
      <Panel
        title="Topics"
        testId="memory-topics"
        meta={
          topics.state === 'ready' && (
            <span className="muted small num">
              {topics.value.length} topic{topics.value.length === 1 ? '' : 's'}
            </span>
          )
        }
        actions={
          <select className="input" value={project ?? ''} onChange={(e) => choose(e.target.value)} aria-label="Project" data-testid="memory-topic-project">
            {project === null && <option value="">no projects yet</option>}
            {[...new Set([...(project ? [project] : []), ...projects])].map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        }
      >
        {project === null ? (
          <Empty title="No memories yet">Topics form as agents store memories in a project.</Empty>
        ) : topics.state === 'loading' ? (
          <Loading>Reading the topics of {project}…</Loading>
        ) : topics.state === 'error' ? (
          <ErrorNotice title="The topics could not be read" message={topics.message} onRetry={topics.reload} />
        ) : topics.value.length === 0 ? (
          <Empty title={`No topics in ${project} yet`}>Memories are grouped into topics as they arrive; a project with a handful of memories may have none yet.</Empty>
        ) : (
          <TopicList topics={topics.value} openId={topic?.id ?? null} onOpen={(t) => onTopic({ project: t.project, id: t.id, label: t.label })} />
        )}
      </Panel>
      {topic && (
        <TopicMemories
          key={topic.id}
          topic={topic}
          size={topics.state === 'ready' ? topics.value.find((t) => t.id === topic.id)?.size : undefined}
          links={links}
          revision={revision}
          onClose={() => onTopic(null)}
        />
      )}
    </div>
  );
}

function TopicList({ topics, openId, onOpen }: { topics: MemoryTopic[]; openId: string | null; onOpen(topic: MemoryTopic): void }) {
  const now = useNow(30_000);
  const current = Math.max(0, topics.findIndex((t) => t.id === openId));
  return (
    <ul className="topic-list" onKeyDown={rovingKeyDown} aria-label="Topics, largest first (arrow keys move, Enter opens)">
      {topics.map((topic, index) => (
        <li key={topic.id}>
          <button
            type="button"
            className={`topic-row ${topic.id === openId ? 'selected' : ''}`}
            onClick={() => onOpen(topic)}
            tabIndex={index === current ? 0 : -1}
            aria-current={topic.id === openId ? 'true' : undefined}
            data-roving
            data-testid="memory-topic"
            data-topic-id={topic.id}
          >
            <span className="topic-top">
              <span className="topic-label">{topicLabel(topic.label)}</span>
              <span className="topic-size num" title="current memories in this topic">
                {formatCount(topic.size)}
              </span>
            </span>
            {topic.examples.length > 0 && (
              <span className="topic-examples">
                {topic.examples.map((example) => (
                  <span key={example.id} className="topic-example">
                    {clip(example.text, 110)}
                  </span>
                ))}
              </span>
            )}
            <span className="topic-when muted small">last joined {formatAgo(topic.updatedAt, now)}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

function TopicMemories({
  topic,
  size,
  links,
  revision,
  onClose,
}: {
  topic: OpenTopic;
  size: number | undefined;
  links: SearchLinks;
  revision: number;
  onClose(): void;
}) {
  const [offset, setOffset] = useState(0);
  const page = useCall('memory.topicMemories', { topicId: topic.id, limit: PAGE, offset });
  const { reload } = page;
  useEffect(() => {
    if (revision > 0) reload();
  }, [revision, reload]);
  const memories = page.state === 'ready' ? page.value.filter((m) => links.edits[m.id] !== null).map((m) => links.edits[m.id] ?? m) : [];
  const current = Math.max(0, memories.findIndex((m) => m.id === links.openId));
  const last = offset + (page.state === 'ready' ? page.value.length : 0);
  const more = page.state === 'ready' && (size !== undefined ? last < size : page.value.length === PAGE);

  return (
    <Panel
      title={<>Topic: {topicLabel(topic.label)}</>}
      testId="memory-topic-memories"
      meta={
        <span className="muted small num">
          {topic.project}
          {size !== undefined && ` · ${formatCount(size)} memories`}
        </span>
      }
      actions={
        <button type="button" className="btn btn-ghost btn-small" onClick={onClose} aria-label="Close the topic">
          Close
        </button>
      }
    >
      {page.state === 'loading' ? (
        <Loading>Reading the topic’s memories…</Loading>
      ) : page.state === 'error' ? (
        <ErrorNotice title="The topic’s memories could not be read" message={page.message} onRetry={page.reload} />
      ) : memories.length === 0 ? (
        <Empty title="Nothing here">{offset > 0 ? 'No more memories in this topic.' : 'This topic has no current memories left.'}</Empty>
      ) : (
        <ol className="topic-memories" start={offset + 1} onKeyDown={rovingKeyDown} aria-label="The topic’s memories (arrow keys move, Enter opens)">
          {memories.map((memory, index) => (
            <li key={memory.id}>
              <button
                type="button"
                className={`topic-memory ${memory.id === links.openId ? 'selected' : ''}`}
                onClick={() => links.onOpen(memory)}
                tabIndex={index === current ? 0 : -1}
                aria-current={memory.id === links.openId ? 'true' : undefined}
                data-roving
                data-testid="memory-topic-memory"
                data-memory-id={memory.id}
              >
                <span className="kind-dot" style={{ background: `var(${KIND_COLOR[memory.kind]})` }} aria-hidden="true" />
                <span className="topic-memory-text">{clip(memory.text, 160)}</span>
                <span className="topic-memory-meta">
                  <Tag>{memory.kind}</Tag>
                  {memory.shared && <Tag>shared</Tag>}
                </span>
              </button>
            </li>
          ))}
        </ol>
      )}
      {(offset > 0 || more) && (
        <div className="pager">
          <button type="button" className="btn btn-small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))} data-testid="memory-topic-prev">
            ← Previous
          </button>
          <span className="muted small num" data-testid="memory-topic-range">
            {offset + 1}–{last}
            {size !== undefined && ` of ${formatCount(size)}`}
          </span>
          <button type="button" className="btn btn-small" disabled={!more} onClick={() => setOffset(offset + PAGE)} data-testid="memory-topic-next">
            Next →
          </button>
        </div>
      )}
    </Panel>
  );
}
