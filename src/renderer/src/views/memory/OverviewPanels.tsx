/** What is stored, by project, kind and age, and the vector index's facts: the Memory view's side when no memory is open. */
import type { MemoryOverview } from '../../../../shared/memory-protocol';
import { Bars, cssColor } from '../../components/charts';
import { Empty, Panel, Stat } from '../../components/ui';
import { formatCount } from '../../format';

export function OverviewPanels({ overview }: { overview: MemoryOverview }) {
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
