/**
 * Tasks benchmark: a real hub (in this process, headless, real SQLite file) with agents in a process of their own on
 * real WebSockets, taking pushed tasks and completing them over their sockets (`task.complete`) or over HTTP.
 *
 *   npm run bench -- tasks [--agents N] [--latency-rounds N] [--tasks N] [--fair-agents N] [--complete socket|http]
 *
 * Phases: (1) dispatch latency, one task at a time with 100 agents connected: from the moment the task is committed
 * ready (the service's transition event, told right after the COMMIT) to its offer frame read on the chosen agent's
 * socket, on the monotonic clock both processes share; (2) throughput: N tasks created by a lead 100 at a time (as a
 * fan-out would), each offered, completed (over the socket, or HTTP with --complete http) and committed, with 100 agents taking 4 at a time, until the
 * last completion is committed; (3) spread over 200 equal agents taking one task at a time, given fan-outs of 100 one after another (max/min
 * tasks per agent);
 * (4) the task service alone, in-process, no HTTP or sockets: create, claim-next and complete of N tasks one after
 * another, with the CPU each takes. Prints a table; writes bench/results/tasks-<ts>.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../src/main/app';
import { defaultConfig } from '../src/main/config/config';
import type { TaskTransition } from '../src/main/tasks/service';
import { machineFacts, machineLine } from './lib/machine';
import { intOption } from './lib/options';
import { writeResults } from './lib/results';
import { summarize, type Summary } from './lib/stats';
import { fmt, printTable } from './lib/table';
import { TaskAgents, type CompleteVia, type TaskAgentCredentials } from './lib/task-agents';

const description = 'tasks: dispatch latency to the agent socket, tasks/s completed and durable, spread over equal agents (in-process hub, agents in their own process, real SQLite and sockets)';

type Hub = Awaited<ReturnType<typeof startHub>>;

async function startHub() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-bench-tasks-'));
  const config = defaultConfig();
  config.api.port = 0;
  const app = createApp({ dataDir, runtime: 'headless', config, rendererDir: null });
  const { apiUrl } = await app.start();
  return {
    app,
    url: apiUrl,
    async stop() {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers `count` agents of a project (in-process; their sockets and calls are the agents' process's). */
function register(hub: Hub, project: string, count: number): TaskAgentCredentials[] {
  const { registry } = hub.app.hub();
  return Array.from({ length: count }, (_, i) => {
    const { agent, token } = registry.register({ name: `a${i}`, project }, { kind: 'none' });
    return { id: agent.id, token };
  });
}

/** Calls `listener` with each committed transition of a project's tasks until the returned stop is called. */
function watch(hub: Hub, project: string, listener: (transition: TaskTransition) => void): () => void {
  return hub.app.hub().tasks.onTransition((transition) => {
    if (transition.project === project) listener(transition);
  });
}

/** Creates `count` tasks of a project, CREATE_WINDOW at once (a lead's fan-out), each window once the last is stored. */
async function createTasks(hub: Hub, project: string, count: number): Promise<void> {
  const tasks = hub.app.hub().tasks;
  for (let i = 0; i < count; i += CREATE_WINDOW) {
    const window = Array.from({ length: Math.min(CREATE_WINDOW, count - i) }, (_, j) => tasks.create({ kind: 'cockpit' }, { ...defaults, project, title: `t${i + j}` }));
    await Promise.all(window);
  }
}

async function latencyPhase(hub: Hub, agentCount: number, rounds: number): Promise<Summary> {
  const tasks = hub.app.hub().tasks;
  const readyAt = new Map<string, bigint>();
  const samples: number[] = [];
  let round: { id: string | null; offered: boolean; wake: () => void } = { id: null, offered: false, wake: () => undefined };
  const succeeded = new Set<string>();
  const stop = watch(hub, 'latency', (t) => {
    if (t.to === 'ready') readyAt.set(t.taskId, process.hrtime.bigint());
    if (t.to === 'succeeded') {
      succeeded.add(t.taskId);
      if (t.taskId === round.id) round.wake();
    }
  });
  const agents = await TaskAgents.start(hub.url, register(hub, 'latency', agentCount), { slots: 1, report: true }, (taskId, atNs) => {
    const ready = readyAt.get(taskId);
    if (ready !== undefined) samples.push(Number(atNs - ready) / 1e6);
  });
  try {
    for (let i = 0; i < rounds + 20; i++) {
      // The first 20 warm up.
      if (i === 20) samples.length = 0;
      const finished = new Promise<void>((resolve) => (round = { id: null, offered: false, wake: resolve }));
      const created = await tasks.create({ kind: 'cockpit' }, { ...defaults, project: 'latency', title: `t${i}` });
      round.id = created.id;
      if (succeeded.has(created.id)) round.wake();
      // Each task meets idle agents: the next is created once this one's completion is committed.
      await finished;
    }
  } finally {
    stop();
    await agents.close();
  }
  return summarize(samples);
}

async function throughputPhase(hub: Hub, agentCount: number, count: number, via: CompleteVia): Promise<{ seconds: number; perSecond: number; hubCpuUsPerTask: number }> {
  let completed = 0;
  let finish: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (finish = resolve));
  const stop = watch(hub, 'throughput', (t) => {
    if (t.to === 'succeeded' && ++completed === count) finish();
  });
  const agents = await TaskAgents.start(hub.url, register(hub, 'throughput', agentCount), { slots: 4, via });
  try {
    const started = performance.now();
    const cpu = process.cpuUsage();
    await createTasks(hub, 'throughput', count);
    await allDone;
    const used = process.cpuUsage(cpu);
    const seconds = (performance.now() - started) / 1000;
    // The hub's process (with the lead's creates, not the agents): what it would need of a core to itself.
    return { seconds, perSecond: count / seconds, hubCpuUsPerTask: (used.user + used.system) / count };
  } finally {
    stop();
    await agents.close();
  }
}

/**
 * Spread: a lead gives `count` tasks to `agentCount` equal agents (one task at a time each) in fan-outs of
 * CREATE_WINDOW, each once the last one finished, so every task meets many free agents and where it goes is the
 * dispatcher's choice (fewest held, then whose turn it is), not which agent the loaded machine happened to run first.
 */
async function spreadPhase(hub: Hub, agentCount: number, count: number): Promise<{ min: number; max: number; ratio: number }> {
  const credentials = register(hub, 'spread', agentCount);
  const done = new Map(credentials.map((agent) => [agent.id, 0]));
  let completed = 0;
  let wake: () => void = () => undefined;
  const stop = watch(hub, 'spread', (t) => {
    if (t.to !== 'succeeded') return;
    done.set(t.holderId!, (done.get(t.holderId!) ?? 0) + 1);
    completed++;
    wake();
  });
  const agents = await TaskAgents.start(hub.url, credentials, { slots: 1 });
  try {
    for (let i = 0; i < count; i += CREATE_WINDOW) {
      const size = Math.min(CREATE_WINDOW, count - i);
      await createTasks(hub, 'spread', size);
      while (completed < i + size) await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    stop();
    await agents.close();
  }
  const counts = [...done.values()];
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

/** Tasks the lead creates at once. */
const CREATE_WINDOW = 100;

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

const PHASES = ['latency', 'throughput', 'spread', 'service'] as const;
type Phase = (typeof PHASES)[number];

export async function run(options: { agents: number; latencyRounds: number; tasks: number; fairAgents: number; only: Phase[]; complete: CompleteVia }): Promise<number> {
  const machine = machineFacts();
  console.log(`Tasks benchmark — ${machineLine(machine)}`);
  const hub = await startHub();
  const loadAverages: Record<string, number> = {};
  /** Runs a phase if asked for, noting the load average as it ends (the machine is shared). */
  const phase = async <T>(name: Phase, body: () => Promise<T>): Promise<T | null> => {
    if (!options.only.includes(name)) return null;
    const result = await body();
    loadAverages[name] = os.loadavg()[0]!;
    return result;
  };
  try {
    const latency = await phase('latency', () => latencyPhase(hub, options.agents, options.latencyRounds));
    const throughput = await phase('throughput', () => throughputPhase(hub, options.agents, options.tasks, options.complete));
    const spread = await phase('spread', () => spreadPhase(hub, options.fairAgents, options.fairAgents * 10));
    const service = await phase('service', () => servicePhase(hub, options.tasks));
    const rows: string[][] = [];
    if (latency) rows.push([`dispatch latency, ready -> agent socket, ${options.agents} agents (p50 / p99 / max)`, 'p50 <= 2 ms, p99 <= 10 ms', `${fmt(latency.p50)} / ${fmt(latency.p99)} / ${fmt(latency.max)} ms`, latency.p50 <= 2 && latency.p99 <= 10 ? 'PASS' : 'FAIL']);
    if (throughput) rows.push([`tasks assigned, completed over ${options.complete === 'http' ? 'HTTP' : 'the socket'} and durable, ${options.agents} agents`, '>= 2,000 tasks/s', `${Math.round(throughput.perSecond)} tasks/s (${options.tasks} in ${fmt(throughput.seconds)} s; hub ${Math.round(throughput.hubCpuUsPerTask)} µs CPU per task)`, throughput.perSecond >= 2000 ? 'PASS' : 'FAIL']);
    if (service) rows.push([`the task service alone (in-process create + claim-next + complete, ${options.tasks} tasks)`, 'info', `${Math.round(service.perSecond)} tasks/s, ${Math.round(service.cpuUsPerTask)} µs CPU per task`, 'info']);
    if (spread) rows.push([`spread over ${options.fairAgents} equal agents, ${options.fairAgents * 10} tasks (max / min per agent)`, '<= 1.5', `${spread.max} / ${spread.min} = ${fmt(spread.ratio)}`, spread.ratio <= 1.5 ? 'PASS' : 'FAIL']);
    const loads = Object.entries(loadAverages).map(([name, load]) => `${name} ${load.toFixed(1)}`).join(', ');
    printTable(`Tasks (${machine.cores} cores; load average after each phase: ${loads}; agents in their own process)`, ['what', 'target', 'measured', 'verdict'], rows);
    const file = writeResults('tasks', { benchmark: 'tasks', machine, options, latency, throughput, spread, service, loadAverages, loadAverage: os.loadavg() });
    console.log(`Results: ${file}`);
    return rows.some((row) => row[3] === 'FAIL') ? 1 : 0;
  } finally {
    await hub.stop();
  }
}

function completeOption(text: string | undefined): CompleteVia {
  if (text === undefined) return 'socket';
  if (text !== 'socket' && text !== 'http') throw new Error(`--complete: socket or http, not ${text}`);
  return text;
}

function onlyOption(text: string | undefined): Phase[] {
  if (text === undefined) return [...PHASES];
  const names = text.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(PHASES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`--only: unknown phase ${unknown.join(', ')} (phases: ${PHASES.join(', ')})`);
  return names as Phase[];
}

export const suite = {
  description,
  async run(argv: string[]): Promise<number> {
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(`tasks: ${description}\n  --agents N          agents for latency and throughput (default 100)\n  --latency-rounds N  timed tasks (default 500)\n  --tasks N           tasks in the throughput phase (default 5000)\n  --fair-agents N     agents in the spread phase (default 200; 10 tasks each)\n  --complete VIA      how agents complete tasks: socket (a task.complete frame, the default) or http\n  --only LIST         phases to run, comma-separated: ${PHASES.join(',')} (default: all)`);
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
      only: onlyOption(value('only')),
      complete: completeOption(value('complete')),
    });
  },
};
