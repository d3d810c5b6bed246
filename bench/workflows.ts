/**
 * Workflows benchmark: a real hub (in this process, headless, real SQLite file) runs a fan-out/fan-in workflow with
 * agents on real WebSockets that take pushed tasks and complete them over HTTP at once (their own work is zero), so
 * the wall time is the hub's overhead: the engine starting items as others end, the task service offering them,
 * the agents' HTTP completions as the hub handles them, the fan-in aggregating.
 *
 *   npm run bench -- workflows [--items N] [--agents N] [--concurrency N] [--slots N] [--runs N]
 *
 * Each run: POST /workflows with `items` items (a fan-out of one task per item, at most `concurrency` at once)
 * followed by a `collect` fan-in, until the run has succeeded (awaited from the engine's change events). The agents
 * run in a child process (bench/workflow-agents.ts), as real agents are other processes: their HTTP client and JSON
 * do not share the hub's event loop or its CPU figure, though on a 2-core machine they share the cores. Prints a table; writes
 * bench/results/workflows-<ts>.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createApp } from '../src/main/app';
import { defaultConfig } from '../src/main/config/config';
import type { WorkflowRun } from '../src/shared/workflow-run-protocol';
import { machineFacts, machineLine } from './lib/machine';
import { intOption } from './lib/options';
import { writeResults } from './lib/results';
import { summarize } from './lib/stats';
import { fmt, printTable } from './lib/table';

const description = 'workflows: a 1,000-item fan-out/fan-in over 100 agents whose own work is zero, wall time = hub overhead (in-process hub, real SQLite and sockets)';

interface Options {
  items: number;
  agents: number;
  concurrency: number;
  slots: number;
  runs: number;
  /** How the agents complete: a task.complete frame on their socket, or an HTTP request each. */
  complete: 'socket' | 'http';
}

interface RunFigures {
  wallMs: number;
  cpuMs: number;
  items: number;
  agentsUsed: number;
}

async function startHub() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-bench-workflows-'));
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

type Hub = Awaited<ReturnType<typeof startHub>>;

/** The agents, in a child process (bench/workflow-agents.ts): this process's CPU is then the hub's alone. */
async function startAgents(hub: Hub, count: number, slots: number, via: Options['complete']): Promise<ChildProcess> {
  // Started through the program loader (scripts/program-loader.mjs registers tsx), as the hub's own programs are from sources.
  const loader = fileURLToPath(new URL('../scripts/program-loader.mjs', import.meta.url));
  const child = fork(loader, [new URL('./workflow-agents.ts', import.meta.url).href], {
    env: { ...process.env, BENCH_AGENTS: JSON.stringify({ url: hub.url, count, slots, project: 'bench', capability: 'map', via }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: { ready?: boolean; error?: string }) => {
      if (message.ready) resolve();
      if (message.error) console.error(message.error);
    });
    child.once('exit', (code) => reject(new Error(`the agents exited (${code})`)));
  });
  return child;
}

async function oneRun(hub: Hub, options: Options, n: number): Promise<RunFigures & { run: WorkflowRun }> {
  const engine = hub.app.hub().workflows;
  const definition = {
    name: `bench-${n}`,
    project: 'bench',
    input: { items: Array.from({ length: options.items }, (_, i) => i) },
    steps: {
      map: { kind: 'fan-out', items: { $ref: 'input.items' }, concurrency: options.concurrency, task: { title: 'map', capabilities: ['map'], input: { i: { $ref: 'item' } } } },
      reduce: { kind: 'fan-in', dependsOn: ['map'], aggregate: 'collect' },
    },
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  let id = '';
  const finished = new Promise<void>((resolve) => {
    const off = engine.onChange((runs) => {
      if (runs.some((r) => r.id === id && r.state !== 'running')) {
        off();
        resolve();
      }
    });
  });
  const { status, body } = await hub.api('/workflows', hub.app.cockpitToken, definition);
  if (status !== 201) throw new Error(`start: ${status} ${JSON.stringify(body)}`);
  id = (body as WorkflowRun).id;
  await finished;
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const run = (await hub.api(`/workflows/${id}`, hub.app.cockpitToken)).body as WorkflowRun;
  if (run.state !== 'succeeded') throw new Error(`run ${id} ended ${run.state}: ${run.error}`);
  const result = run.stepRuns.find((s) => s.id === 'reduce')!.result as { i: number }[];
  if (result.length !== options.items || result.some((r, i) => r.i !== i)) throw new Error('the fan-in result is not the items in order');
  return { wallMs, cpuMs: (used.user + used.system) / 1000, items: options.items, agentsUsed: new Set(run.timeline.map((t) => t.agentId)).size, run };
}

export async function run(options: Options): Promise<number> {
  const machine = machineFacts();
  console.log(`Workflows benchmark — ${machineLine(machine)}`);
  const hub = await startHub();
  try {
    const agents = await startAgents(hub, options.agents, options.slots, options.complete);
    // One warm-up run (JIT, prepared statements), then the timed ones.
    await oneRun(hub, { ...options, items: Math.min(100, options.items) }, 0);
    const runs: RunFigures[] = [];
    for (let i = 1; i <= options.runs; i++) {
      const { run: _run, ...figures } = await oneRun(hub, options, i);
      runs.push(figures);
    }
    const wall = summarize(runs.map((r) => r.wallMs));
    const cpu = summarize(runs.map((r) => r.cpuMs));
    const best = Math.min(...runs.map((r) => r.wallMs));
    const load = os.loadavg();
    const rows = [
      [
        `${options.items}-item fan-out + collect fan-in, ${options.agents} agents x ${options.slots} slots completing over ${options.complete === 'http' ? 'HTTP' : 'the socket'}, concurrency ${options.concurrency}: wall time (median / best of ${options.runs})`,
        '<= 1 s',
        `${fmt(wall.p50 / 1000)} s / ${fmt(best / 1000)} s`,
        wall.p50 <= 1000 ? 'PASS' : 'FAIL',
      ],
      ['items per second (median run)', 'info', `${Math.round((options.items / wall.p50) * 1000)} items/s`, 'info'],
      ["CPU of the hub's process (the agents run in a child process), median run", 'info', `${Math.round(cpu.p50)} ms (${Math.round((cpu.p50 * 1000) / options.items)} µs per item)`, 'info'],
      ['agents that ran items (last run)', 'info', `${runs.at(-1)!.agentsUsed} of ${options.agents}`, 'info'],
    ];
    printTable(`Workflows (load average ${load[0]!.toFixed(1)} on ${machine.cores} cores; agents in a child process)`, ['what', 'target', 'measured', 'verdict'], rows);
    const file = writeResults('workflows', { benchmark: 'workflows', machine, options, runs, wall, cpu, loadAverage: load });
    console.log(`Results: ${file}`);
    agents.kill();
    return rows.some((row) => row[3] === 'FAIL') ? 1 : 0;
  } finally {
    await hub.stop();
  }
}

export const suite = {
  description,
  async run(argv: string[]): Promise<number> {
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(
        `workflows: ${description}\n  --items N        items of the fan-out (default 1000)\n  --agents N       agents (default 100)\n  --concurrency N  the fan-out's concurrency (default 1000)\n  --slots N        pushed tasks each agent takes at once (default 4)\n  --runs N         timed runs (default 5)\n  --complete VIA   how agents complete: socket (a task.complete frame, the default) or http`,
      );
      return 0;
    }
    const value = (name: string) => {
      const i = argv.indexOf(`--${name}`);
      return i >= 0 ? argv[i + 1] : undefined;
    };
    return run({
      items: intOption('items', value('items'), 1000),
      agents: intOption('agents', value('agents'), 100),
      concurrency: intOption('concurrency', value('concurrency'), 1000),
      slots: intOption('slots', value('slots'), 4),
      runs: intOption('runs', value('runs'), 5),
      complete: value('complete') === 'http' ? 'http' : 'socket',
    });
  },
};
