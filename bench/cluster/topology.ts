/**
 * The machines of a cluster benchmark, all on this one: a redis-server (appendonly, every write fsynced, as a durable
 * cluster runs it) and hub processes from the built hub, each on its own data directory with `cluster.redis` in its
 * config.json; agents registered on a chosen hub over HTTP and connected to it with raw sockets.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedis, type RedisServer } from '../../test/support/redis-server';
import { connectAgents, registerAgents, type AgentCredentials } from '../lib/agents';
import { CpuQuotaGroup } from '../lib/cpu-quota';
import { aheadOfOtherWork } from '../lib/priority';
import { startHub, type RunningHub } from '../lib/hub-process';
import type { Peer } from '../lib/peer';

export interface TopologyOptions {
  /** The headless entry to run (a private snapshot of out/main). */
  entry: string;
  dataRoot?: string;
  /** Directory for the hubs' CPU profiles (--cpu-prof), or undefined. */
  cpuProfDir?: string;
  keepData: boolean;
  /** Cores of CPU quota for each hub in a cgroup of its own (a model of hubs on separate machines), or undefined. */
  hubCpu?: number;
  /** The quota's enforcement period, µs (the kernel's 100 ms when not given). */
  hubCpuPeriodUs?: number;
}

export interface Topology {
  hubs: RunningHub[];
  /** Each hub's CPU quota group, in the order of `hubs` (null without --hub-cpu). */
  quotas: Array<CpuQuotaGroup | null>;
  redis: RedisServer | null;
  /** redis-server's process id (from INFO), for its CPU time; null without Redis. */
  redisPid: number | null;
  /** Registers `count` agents on hub `hub` (index) and opens their sockets there. */
  agents(hub: number, count: number, prefix: string): Promise<{ credentials: AgentCredentials[]; peers: Peer[] }>;
  /** Stops the hubs (SIGTERM) and Redis; returns the hubs' CPU profiles when profiling. */
  stop(): Promise<string[]>;
}

function redisPid(port: number): number | null {
  try {
    const info = execFileSync('redis-cli', ['-p', String(port), 'info', 'server'], { encoding: 'utf8' });
    return Number(/^process_id:(\d+)/m.exec(info)?.[1]) || null;
  } catch {
    return null;
  }
}

/** Waits until every hub lists `count` alive hubs in GET /cluster. */
async function waitForMembers(hubs: readonly RunningHub[], count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const hub of hubs) {
    for (;;) {
      const response = await fetch(`${hub.baseUrl}/api/v1/cluster`, { headers: { authorization: `Bearer ${hub.cockpitToken}` } });
      const state = (await response.json()) as { connected: boolean; hubs: Array<{ alive: boolean }> };
      if (state.connected && state.hubs.filter((h) => h.alive).length === count) break;
      if (Date.now() > deadline) throw new Error(`${hub.label}: the cluster did not list ${count} hubs within ${timeoutMs} ms: ${JSON.stringify(state)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * A hub's group weighs as ten ordinary processes: on a machine busy with other work it still gets its whole quota,
 * as it would on a machine of its own (the quota, not the weight, is what limits it).
 */
export const HUB_GROUP_WEIGHT = 10;

/**
 * Starts `hubCount` hubs; with `cluster` they join one Redis (started here, fresh), without it a single hub runs on
 * its own exactly as a one-machine user runs it.
 */
export async function startTopology(hubCount: number, cluster: boolean, options: TopologyOptions): Promise<Topology> {
  const redisDir = cluster ? mkdtempSync(path.join(options.dataRoot ?? os.tmpdir(), 'devenviro-bench-redis-')) : null;
  const redis = redisDir ? await startRedis(redisDir) : null;
  const hubs: RunningHub[] = [];
  const quotas: Array<CpuQuotaGroup | null> = [];
  const removeQuotas = () => {
    for (const group of quotas) if (group && !group.remove()) console.warn(`could not remove the cgroup ${group.dir}`);
  };
  try {
    for (let i = 0; i < hubCount; i++) {
      const label = cluster ? `hub-${'abc'[i] ?? i}` : 'single';
      const quota = options.hubCpu === undefined ? null : CpuQuotaGroup.create(label, options.hubCpu, HUB_GROUP_WEIGHT, options.hubCpuPeriodUs);
      quotas.push(quota);
      const hub = await startHub({
        entry: options.entry,
        label,
        keepData: options.keepData,
        ...(options.dataRoot ? { dataRoot: options.dataRoot } : {}),
        ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
        ...(redis ? { config: { cluster: { redis: redis.url, hubName: label, heartbeatMs: 500, hubTtlMs: 2_000 } } } : {}),
        ...(quota ? { launcher: quota.launcher() } : {}),
      });
      hubs.push(hub);
      const outside = quota?.threadsOutside(hub.pid) ?? [];
      if (outside.length) throw new Error(`${label}: threads ${outside.join(', ')} of pid ${hub.pid} are not in the cgroup ${quota!.dir}`);
    }
    if (redis) await waitForMembers(hubs, hubCount);
  } catch (error) {
    await Promise.all(hubs.map((hub) => hub.stop()));
    removeQuotas();
    await redis?.stop();
    throw error;
  }
  const pidOfRedis = redis ? redisPid(redis.port) : null;
  if (options.hubCpu !== undefined && pidOfRedis !== null) aheadOfOtherWork(pidOfRedis, 'redis-server');
  return {
    hubs,
    quotas,
    redis,
    redisPid: pidOfRedis,
    async agents(hub, count, prefix) {
      const target = hubs[hub]!;
      const credentials = await registerAgents(target.baseUrl, count, { prefix, project: 'bench' });
      const peers = await connectAgents(target.wsBase, credentials);
      return { credentials, peers };
    },
    async stop() {
      // Worker threads started after the placement check inherit the group; a last look says whether any escaped.
      const escaped = hubs.flatMap((hub, i) => {
        const outside = quotas[i]?.threadsOutside(hub.pid) ?? [];
        return outside.length ? [`${hub.label}: threads ${outside.join(', ')}`] : [];
      });
      const stopped = await Promise.all(hubs.map((hub) => hub.stop()));
      removeQuotas();
      await redis?.stop();
      if (escaped.length) throw new Error(`hub threads outside their CPU quota group: ${escaped.join('; ')}`);
      if (redisDir && !options.keepData) rmSync(redisDir, { recursive: true, force: true });
      return stopped.map((s) => s.profile).filter((p): p is string => p !== null);
    },
  };
}

/**
 * Waits until hub `on` knows every agent in `agents` (registered elsewhere: identities travel through Redis), so a
 * send addressed to one of them is not refused as unknown.
 */
export async function waitForIdentities(on: RunningHub, agents: readonly AgentCredentials[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const agent of agents) {
    for (;;) {
      const response = await fetch(`${on.baseUrl}/api/v1/agents/${agent.id}/status`, { headers: { authorization: `Bearer ${on.cockpitToken}` } });
      await response.arrayBuffer();
      if (response.status === 200) break;
      if (Date.now() > deadline) throw new Error(`${on.label} does not know agent ${agent.name} after ${timeoutMs} ms (HTTP ${response.status})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
