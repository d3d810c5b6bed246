/** The Overview: traffic, latency, who is online, what is remembered and what it costs, on one screen. */
import { useMemo } from 'react';
import { AGENT_TIERS } from '../../../shared/agent-protocol';
import { Bars, cssColor, TimeChart, TimeChartPanel } from '../components/charts';
import { Empty, ErrorNotice, Loading, Panel, Stat, ViewHeader } from '../components/ui';
import { formatBytes, formatClock, formatCount, formatMs, formatPercent, formatRate } from '../format';
import { useAgents, useMemoryOverview, useMetrics } from '../hooks';
import { countAgents } from '../live/live-data';
import { AttentionStrip } from './attention/AttentionStrip';
import { BackupCard } from './backup/BackupHealth';
import { WorkStats } from './work/WorkStats';

const TIER_COLOR: Record<string, string> = { strategic: '--c-violet', development: '--c-blue', memory: '--c-cyan' };

/** The whole hub on one screen: traffic, latency, who is online, what is remembered, and what it costs. */
export function OverviewView() {
  const { state, latest, points } = useMetrics();
  const memory = useMemoryOverview(latest?.totals.memoriesStored);
  const { byId } = useAgents();
  // From the live directory (pushed per change) rather than the tick, and without the overseer, which is the person.
  const agents = useMemo(() => countAgents(byId), [byId]);

  if (state === 'waiting' || !latest) {
    return (
      <>
        <ViewHeader title="Overview" subtitle="Throughput, latency, agents and memory, live." />
        <AttentionStrip />
        <Loading>Waiting for the hub's first metrics tick…</Loading>
      </>
    );
  }

  const deliver = latest.latency.deliver;
  const blue = cssColor('--c-blue');
  const green = cssColor('--c-green');
  const amber = cssColor('--c-amber');
  const red = cssColor('--c-red');
  const tierData = AGENT_TIERS.map((tier) => ({ label: tier, value: agents.byTier[tier] ?? 0, color: cssColor(TIER_COLOR[tier]!) }));

  return (
    <div className="view" data-testid="view-overview">
      <ViewHeader
        title="Overview"
        subtitle={
          <>
            Live, one point a second for the last two minutes · last tick <span className="num">{formatClock(latest.at)}</span>
          </>
        }
      />
      <AttentionStrip />
      <div className="stats">
        <Stat
          label="Agents online"
          value={
            <>
              {agents.online}
              <span className="stat-of"> / {agents.registered}</span>
            </>
          }
          sub="online / registered"
          tone={agents.online > 0 ? 'up' : 'muted'}
          testId="stat-agents-online"
        />
        <Stat label="Messages sent" value={formatRate(latest.rates.messagesSent)} sub={`${formatCount(latest.totals.messagesSent)} total`} testId="stat-sent-rate" />
        <Stat label="Delivered" value={formatRate(latest.rates.messagesDelivered)} sub={`${formatCount(latest.totals.messagesDelivered)} total`} testId="stat-delivered-rate" />
        {deliver.count > 0 ? (
          <Stat label="Notify p99" value={formatMs(deliver.p99Ms)} sub={`p50 ${formatMs(deliver.p50Ms)}`} testId="stat-deliver-p99" />
        ) : (
          <Stat
            label="Notify p99"
            value={formatMs(latest.latencyTotal.deliver.p99Ms)}
            sub={latest.latencyTotal.deliver.count > 0 ? 'since start · idle now' : 'nothing delivered yet'}
            tone="muted"
            testId="stat-deliver-p99"
          />
        )}
        <Stat
          label="Memories"
          value={memory.state === 'ready' ? formatCount(memory.value.total) : '—'}
          sub={`${formatRate(latest.rates.memoriesStored)} stored now`}
          testId="stat-memories"
        />
        <WorkStats />
        <BackupCard />
        <Stat label="Hub CPU" value={formatPercent(latest.process.cpuPercent)} sub="of one core" tone={latest.process.cpuPercent > 80 ? 'warn' : undefined} />
        <Stat label="Hub RSS" value={formatBytes(latest.process.rssBytes)} sub={`heap ${formatBytes(latest.process.heapUsedBytes)}`} />
        <Stat
          label="Event loop p99"
          value={formatMs(latest.process.eventLoopDelayP99Ms)}
          sub={`p50 ${formatMs(latest.process.eventLoopDelayP50Ms)}`}
          tone={latest.process.eventLoopDelayP99Ms > 100 ? 'warn' : undefined}
        />
      </div>

      <div className="grid grid-wide-narrow">
        <TimeChartPanel
          title="Messages per second"
          testId="panel-throughput"
          chartTestId="chart-throughput"
          data={points}
          format={(v) => formatRate(v)}
          emptyText="No messages"
          series={[
            { key: 'sent', name: 'sent', color: blue, area: true, value: formatRate(latest.rates.messagesSent) },
            { key: 'delivered', name: 'delivered', color: green, value: formatRate(latest.rates.messagesDelivered) },
          ]}
        />
        <Panel title="Agents online by tier" testId="panel-tiers">
          {agents.registered === 0 ? (
            <Empty title="No agents yet">
              Connect one from the <a href="#/agents">Agents</a> view.
            </Empty>
          ) : (
            <Bars data={tierData} testId="chart-tiers" name="online" />
          )}
        </Panel>
        <TimeChartPanel
          title="Notification latency"
          testId="panel-latency"
          chartTestId="chart-latency"
          data={points}
          format={(v) => formatMs(v)}
          emptyText="No deliveries"
          series={[
            { key: 'deliverP50', name: 'p50', color: green, value: formatMs(deliver.p50Ms) },
            { key: 'deliverP99', name: 'p99', color: amber, value: formatMs(deliver.p99Ms) },
          ]}
        />
        <Panel title="Memories by project" testId="panel-memory-projects" meta={memory.state === 'ready' && <span className="num">{formatCount(memory.value.total)}</span>}>
          {memory.state === 'loading' ? (
            <Loading>Opening the memory engine…</Loading>
          ) : memory.state === 'error' ? (
            <ErrorNotice title="Memory is unavailable" message={memory.message} onRetry={memory.reload} />
          ) : memory.value.byProject.length === 0 ? (
            <Empty title="Nothing remembered yet">Agents store memories with POST /api/v1/memory/store.</Empty>
          ) : (
            <Bars
              horizontal
              testId="chart-memory-projects"
              data={memory.value.byProject.slice(0, 12).map(({ project, count }) => ({ label: project, value: count }))}
              color={cssColor('--c-violet')}
              format={formatCount}
              name="memories"
            />
          )}
        </Panel>
      </div>

      <div className="grid grid-3">
        <Panel title="Hub CPU" meta={<span className="num">{formatPercent(latest.process.cpuPercent, 1)}</span>}>
          <TimeChart data={points} height={130} format={(v) => formatPercent(v)} series={[{ key: 'cpu', name: 'CPU', color: blue, area: true }]} />
        </Panel>
        <TimeChartPanel
          title="Hub memory"
          data={points}
          height={130}
          format={(v) => formatBytes(v)}
          binary
          series={[
            { key: 'rss', name: 'RSS', color: cssColor('--c-violet'), area: true, value: formatBytes(latest.process.rssBytes) },
            { key: 'heapUsed', name: 'heap used', color: cssColor('--c-cyan'), value: formatBytes(latest.process.heapUsedBytes) },
          ]}
        />
        <Panel title="Event-loop delay p99" meta={<span className="num">{formatMs(latest.process.eventLoopDelayP99Ms)}</span>}>
          <TimeChart data={points} height={130} format={(v) => formatMs(v)} series={[{ key: 'loopP99', name: 'p99', color: red, area: true }]} />
        </Panel>
      </div>
    </div>
  );
}
