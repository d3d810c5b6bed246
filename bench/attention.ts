/**
 * "Needs attention" benchmark: how long computing the list holds the hub's event loop on a busy hub's data.
 *
 *   npm run bench -- attention [--agents N] [--backlog N] [--history N] [--tasks N] [--rounds N]
 *
 * Starts the hub in-process on a fresh data directory and fills its SQLite file directly (as months of traffic would
 * leave it): --agents agents, a tenth of them offline for two hours each with --backlog unread messages (1% urgent),
 * --history acknowledged deliveries spread over everyone (what an index must not walk), and --tasks ready tasks for a
 * capability nobody has, and --runs workflows waiting at an approval gate. Then computes the list --rounds times with no cache, timing the whole and each source.
 * Every compute is one synchronous call: its time is the time it holds the loop. Writes
 * bench/results/attention-<ts>.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from '../src/main/app';
import { AttentionService, SOURCES } from '../src/main/attention/service';
import { DEFAULT_LIMITS, type AttentionDeps } from '../src/main/attention/source';
import { defaultConfig } from '../src/main/config/config';
import { CreateTaskRequest } from '../src/shared/task-protocol';
import { machineFacts, machineLine } from './lib/machine';
import { intOption } from './lib/options';
import { writeResults } from './lib/results';
import { summarize, type Summary } from './lib/stats';
import { fmt, printTable } from './lib/table';

const description = 'needs attention: list compute time (whole and per source) on a hub full of backlog, history and stuck tasks (in-process)';

const HOUR = 3_600_000;

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { runs: { type: 'string' }, agents: { type: 'string' }, backlog: { type: 'string' }, history: { type: 'string' }, tasks: { type: 'string' }, rounds: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log('Usage: npm run bench -- attention [--agents 500] [--backlog 2000] [--history 1000000] [--tasks 5000] [--runs 200] [--rounds 50]');
    return 0;
  }
  const agentCount = intOption('agents', values.agents, 500);
  const backlog = intOption('backlog', values.backlog, 2000);
  const history = intOption('history', values.history, 1_000_000);
  const taskCount = intOption('tasks', values.tasks, 5000);
  const rounds = intOption('rounds', values.rounds, 50);
  const runCount = intOption('runs', values.runs, 200);

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-bench-attention-'));
  const config = defaultConfig();
  config.api.port = 0;
  const app = createApp({ dataDir, runtime: 'headless', config, rendererDir: null });
  await app.start();
  try {
    const hub = app.hub();
    const { db, registry } = hub;
    const fillStarted = performance.now();
    const agents = Array.from({ length: agentCount }, (_, i) => {
      const { agent } = registry.register({ name: `agent-${i}`, project: `p${i % 10}`, tier: 'development', capabilities: ['code'] }, { kind: 'none' });
      return registry.get(agent.id);
    });
    const offline = agents.filter((_, i) => i % 10 === 0);
    const now = Date.now();
    const insertMessage = db.prepare(
      `INSERT INTO messages (id, sender, to_type, to_value, thread_id, subject, content_type, body, importance, ack_required, created_at)
       VALUES (?, ?, 'agent', ?, ?, NULL, 'text', 'x', ?, 0, ?)`,
    );
    const insertDelivery = db.prepare('INSERT INTO deliveries (agent_id, seq, acked_at) VALUES (?, ?, ?)');
    let n = 0;
    const message = (to: string, at: number, urgent: boolean, acked: boolean) => {
      const id = `M${String(n++).padStart(12, '0')}`;
      const seq = Number(insertMessage.run(id, agents[0]!.id, to, id, urgent ? 'urgent' : 'normal', new Date(at).toISOString()).lastInsertRowid);
      insertDelivery.run(to, seq, acked ? new Date(at).toISOString() : null);
    };
    db.transaction(() => {
      // The history first (older rows, lower seq), as it would be: everyone's acknowledged mail.
      for (let i = 0; i < history; i++) message(agents[i % agentCount]!.id, now - 48 * HOUR + i, false, true);
      for (const agent of offline) {
        for (let i = 0; i < backlog; i++) message(agent.id, now - 2 * HOUR + i * 1000, i % 100 === 0, false);
        agent.inboxDepth = backlog;
      }
    })();
    for (const agent of offline) agent.lastSeen = now - 2 * HOUR;
    const lead = { kind: 'agent' as const, agent: agents[1]! };
    for (let i = 0; i < taskCount; i++) {
      await hub.tasks.create(lead, CreateTaskRequest.parse({ title: `translate ${i}`, project: agents[1]!.project, capabilities: [i % 2 === 0 ? 'klingon' : 'elvish'] }));
    }
    // Running workflows, each at an approval gate after a first step (the gates a person would be asked about).
    for (let i = 0; i < runCount; i++) {
      hub.workflows.start({ kind: 'cockpit' }, { name: `release-${i}`, project: 'p1', steps: { gate: { kind: 'approval', prompt: `ship ${i}?` } } });
    }
    db.prepare('UPDATE tasks SET ready_since = ?, created_at = ?').run(new Date(now - HOUR).toISOString(), new Date(now - HOUR).toISOString());
    const fillSeconds = (performance.now() - fillStarted) / 1000;

    const deps: AttentionDeps = { ...hub, services: app.services, backupSettings: () => app.config.backup };
    const attention = new AttentionService(deps, { cacheMs: 0 });
    const sources = Object.entries(SOURCES).map(([name, make]) => ({ name, source: make(deps, DEFAULT_LIMITS) }));
    // The first compute reads every backlog; later ones reuse what has not changed (messages.ts).
    const coldStarted = performance.now();
    new AttentionService(deps, { cacheMs: 0 }).list();
    const cold = performance.now() - coldStarted;
    const whole: number[] = [];
    const perSource = new Map<string, number[]>(sources.map(({ name }) => [name, []]));
    let items = 0;
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      items = attention.list().items.length;
      whole.push(performance.now() - started);
      for (const { name, source } of sources) {
        const at = performance.now();
        source(Date.now());
        perSource.get(name)!.push(performance.now() - at);
      }
    }
    attention.close();

    const machine = machineFacts();
    console.log(machineLine(machine));
    console.log(`filled in ${fmt(fillSeconds)} s: ${agentCount} agents (${offline.length} offline with ${backlog} unread each), ${history} acknowledged deliveries, ${taskCount} stuck tasks, ${runCount} workflows at a gate; ${items} items listed`);
    const rows: Array<[string, Summary]> = [['first compute', summarize([cold])], ['whole list', summarize(whole)], ...[...perSource].map(([name, samples]) => [name, summarize(samples)] as [string, Summary])];
    printTable(`attention list compute: the first, then ${rounds} rounds with no list cache (ms the loop is held)`, ['what', 'p50 ms', 'p99 ms', 'max ms'], rows.map(([name, s]) => [name, fmt(s.p50), fmt(s.p99), fmt(s.max)]));
    const file = writeResults('attention', { machine, agents: agentCount, offline: offline.length, backlog, history, tasks: taskCount, runs: runCount, rounds, items, results: Object.fromEntries(rows) });
    console.log(`wrote ${file}`);
    return 0;
  } finally {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export const suite = { description, run };
