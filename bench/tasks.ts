/**
 * Tasks benchmark: a real hub (in this process, headless, real SQLite file) with agents on real WebSockets taking
 * pushed tasks and completing them over HTTP.
 *
 *   npm run bench -- tasks [--agents N] [--latency-rounds N] [--tasks N] [--fair-agents N]
 *
 * Phases: (1) dispatch latency, one task at a time with 100 agents connected: from the moment the task is committed
 * ready (the create returns) to its offer frame read on the chosen agent's socket; (2) throughput: N tasks created at
 * once, each offered, completed over HTTP and committed, with 100 agents taking 4 at a time; (3) spread over 200
 * equal agents (max/min tasks per agent); (4) the task service alone, in-process, no HTTP or sockets: create, claim-next
 * and complete of N tasks one after another, with the CPU each takes. The agents run in the same process as the hub, so their own work (JSON,
 * HTTP calls) shares its event loop and CPU: the figures are an upper bound of the hub's cost. Prints a table;
 * writes bench/results/tasks-<ts>.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createApp } from '../src/main/app';
import { defaultConfig } from '../src/main/config/config';
import type { RegisterResponse, ServerFrame } from '../src/shared/agent-protocol';
import { machineFacts, machineLine } from './lib/machine';
import { intOption } from './lib/options';
import { writeResults } from './lib/results';
import { summarize, type Summary } from './lib/stats';
import { fmt, printTable } from './lib/table';

const description = 'tasks: dispatch latency to the agent socket, tasks/s completed and durable, spread over equal agents (in-process hub, real SQLite and sockets)';

interface Agent {
  registered: RegisterResponse;
  ws: WebSocket;
  done: number;
}

type Hub = Awaited<ReturnType<typeof startHub>>;

async function startHub() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-bench-tasks-'));
  const config = defaultConfig();
  config.api.port = 0;
  const app = createApp({ dataDir, runtime: 'headless', config, rendererDir: null });
  const { apiUrl } = await app.start();
  const api = async (route: string, token: string, body?: unknown) => {
    const response = await fetch(`${apiUrl}/api/v1${route}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  return {
    app,
    url: apiUrl,
    api,
    async stop() {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers and connects `count` agents of a project, each taking `slots` pushed tasks; `onOffer` sees each offer. */
async function agents(hub: Hub, project: string, count: number, slots: number, onOffer: (agent: Agent, taskId: string, at: number) => void): Promise<Agent[]> {
  const list: Agent[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${hub.url}/api/v1/agents/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `a${i}`, project }) });
    const registered = (await response.json()) as RegisterResponse;
    const ws = new WebSocket(`${hub.url.replace('http', 'ws')}/api/v1/agents/${registered.agent.id}/realtime`, { headers: { authorization: `Bearer ${registered.token}` } });
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    const agent: Agent = { registered, ws, done: 0 };
    ws.on('message', (data) => {
      const at = performance.now();
      const frame = JSON.parse(data.toString()) as ServerFrame;
      if (frame.type === 'task.offered') onOffer(agent, frame.task.id, at);
    });
    ws.send(JSON.stringify({ type: 'tasks.ready', slots }));
    list.push(agent);
  }
  return list;
}

function complete(hub: Hub, agent: Agent, taskId: string): Promise<void> {
  return hub.api(`/tasks/${taskId}/complete`, agent.registered.token, { text: 'ok' }).then(({ status }) => {
    if (status !== 200) throw new Error(`complete ${taskId}: ${status}`);
    agent.done++;
  });
}

async function latencyPhase(hub: Hub, agentCount: number, rounds: number): Promise<Summary> {
  const tasks = hub.app.hub().tasks;
  let waiting: { resolve: (at: number) => void } | undefined;
  const list = await agents(hub, 'latency', agentCount, 1, (agent, taskId, at) => {
    waiting?.resolve(at);
    void complete(hub, agent, taskId);
  });
  const samples: number[] = [];
  for (let i = 0; i < rounds + 20; i++) {
    const offered = new Promise<number>((resolve) => (waiting = { resolve }));
    const created = await tasks.create({ kind: 'cockpit' }, { ...defaults, project: 'latency', title: `t${i}` });
    const readyAt = performance.now();
    const at = await offered;
    if (i >= 20) samples.push(at - readyAt);
    // Let the completion land before the next, so each task meets idle agents.
    while (tasks.get({ kind: 'cockpit' }, created.id).state !== 'succeeded') await new Promise((resolve) => setTimeout(resolve, 1));
  }
  for (const agent of list) agent.ws.close();
  return summarize(samples);
}

async function throughputPhase(hub: Hub, agentCount: number, count: number): Promise<{ seconds: number; perSecond: number }> {
  const tasks = hub.app.hub().tasks;
  let completed = 0;
  let finish: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (finish = resolve));
  const list = await agents(hub, 'throughput', agentCount, 4, (agent, taskId) => {
    void complete(hub, agent, taskId).then(() => {
      if (++completed === count) finish();
    });
  });
  const started = performance.now();
  for (let i = 0; i < count; i++) await tasks.create({ kind: 'cockpit' }, { ...defaults, project: 'throughput', title: `t${i}` });
  await allDone;
  const seconds = (performance.now() - started) / 1000;
  for (const agent of list) agent.ws.close();
  return { seconds, perSecond: count / seconds };
}

async function spreadPhase(hub: Hub, agentCount: number, count: number): Promise<{ min: number; max: number; ratio: number }> {
  const tasks = hub.app.hub().tasks;
  let completed = 0;
  let finish: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (finish = resolve));
  const list = await agents(hub, 'spread', agentCount, 1, (agent, taskId) => {
    void complete(hub, agent, taskId).then(() => {
      if (++completed === count) finish();
    });
  });
  for (let i = 0; i < count; i++) await tasks.create({ kind: 'cockpit' }, { ...defaults, project: 'spread', title: `t${i}` });
  await allDone;
  const counts = list.map((agent) => agent.done);
  for (const agent of list) agent.ws.close();
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  return { min, max, ratio: max / Math.max(1, min) };
}

/** The service alone: create, claim and complete called in-process, one task after another. */
async function servicePhase(hub: Hub, count: number): Promise<{ perSecond: number; cpuUsPerTask: number }> {
  const { tasks, registry } = hub.app.hub();
  const list = [];
  for (let i = 0; i < 100; i++) list.push(registry.get(registry.register({ name: `s${i}`, project: 'service' }, { kind: 'none' }).agent.id));
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    await tasks.create({ kind: 'cockpit' }, { ...defaults, project: 'service', title: `t${i}` });
    const agent = list[i % list.length]!;
    const { task } = tasks.claimNext(agent, {});
    await tasks.complete(agent, task!.id, { text: 'ok' });
  }
  const used = process.cpuUsage(cpu);
  return { perSecond: count / ((performance.now() - started) / 1000), cpuUsPerTask: (used.user + used.system) / count };
}

/** What a create needs beyond its title (the schema's defaults, as parsed). */
const defaults = {
  instructions: '',
  capabilities: [],
  priority: 50,
  timeoutSeconds: 3600,
  leaseSeconds: 60,
  maxAttempts: 3,
  backoff: { initialSeconds: 5, factor: 2, maxSeconds: 300 },
  dependsOn: [],
};

export async function run(options: { agents: number; latencyRounds: number; tasks: number; fairAgents: number }): Promise<number> {
  const machine = machineFacts();
  console.log(`Tasks benchmark — ${machineLine(machine)}`);
  const hub = await startHub();
  try {
    const latency = await latencyPhase(hub, options.agents, options.latencyRounds);
    const throughput = await throughputPhase(hub, options.agents, options.tasks);
    const spread = await spreadPhase(hub, options.fairAgents, options.fairAgents * 10);
    const service = await servicePhase(hub, options.tasks);
    const rows = [
      [`dispatch latency, ready -> agent socket, ${options.agents} agents (p50 / p99 / max)`, 'p50 <= 2 ms, p99 <= 10 ms', `${fmt(latency.p50)} / ${fmt(latency.p99)} / ${fmt(latency.max)} ms`, latency.p50 <= 2 && latency.p99 <= 10 ? 'PASS' : 'FAIL'],
      [`tasks assigned, completed over HTTP and durable, ${options.agents} agents`, '>= 2,000 tasks/s', `${Math.round(throughput.perSecond)} tasks/s (${options.tasks} in ${fmt(throughput.seconds)} s)`, throughput.perSecond >= 2000 ? 'PASS' : 'FAIL'],
      [`the task service alone (in-process create + claim-next + complete, ${options.tasks} tasks)`, 'info', `${Math.round(service.perSecond)} tasks/s, ${Math.round(service.cpuUsPerTask)} µs CPU per task`, 'info'],
      [`spread over ${options.fairAgents} equal agents, ${options.fairAgents * 10} tasks (max / min per agent)`, '<= 1.5', `${spread.max} / ${spread.min} = ${fmt(spread.ratio)}`, spread.ratio <= 1.5 ? 'PASS' : 'FAIL'],
    ];
    printTable(`Tasks (load average ${os.loadavg()[0]!.toFixed(1)} on ${machine.cores} cores; agents share the hub's process)`, ['what', 'target', 'measured', 'verdict'], rows);
    const file = writeResults('tasks', { benchmark: 'tasks', machine, options, latency, throughput, spread, service, loadAverage: os.loadavg() });
    console.log(`Results: ${file}`);
    return rows.some((row) => row[3] === 'FAIL') ? 1 : 0;
  } finally {
    await hub.stop();
  }
}

export const suite = {
  description,
  async run(argv: string[]): Promise<number> {
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(`tasks: ${description}\n  --agents N          agents for latency and throughput (default 100)\n  --latency-rounds N  timed tasks (default 500)\n  --tasks N           tasks in the throughput phase (default 5000)\n  --fair-agents N     agents in the spread phase (default 200; 10 tasks each)`);
      return 0;
    }
    const value = (name: string) => {
      const i = argv.indexOf(`--${name}`);
      return i >= 0 ? argv[i + 1] : undefined;
    };
    return run({
      agents: intOption('agents', value('agents'), 100),
      latencyRounds: intOption('latency-rounds', value('latency-rounds'), 500),
      tasks: intOption('tasks', value('tasks'), 5000),
      fairAgents: intOption('fair-agents', value('fair-agents'), 200),
    });
  },
};
