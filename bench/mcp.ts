/**
 * The hub's MCP server beside its raw HTTP API and WebSocket push: `npm run bench -- mcp [options]`.
 *
 * One hub process (node out/main/headless.js, fresh temp data dir, --port 0). In one run, with the official MCP SDK
 * client over Streamable HTTP (and over stdio through `devenviro mcp`): tool call round trips of send_message and
 * read_inbox next to the same operations over HTTP (POST a message, GET the inbox), in alternating blocks so both
 * see the same machine; then wait_for_messages wake-up next to the WebSocket push, sample by sample alternately.
 * Prints tables and writes bench/results/mcp-<timestamp>.json.
 */
import { setMaxListeners } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MCP_PATH } from '../src/shared/mcp-protocol';
import { realtimeUrl, registerAgents, type AgentCredentials } from './lib/agents';
import { ensureBuilt, snapshotBuild, startHub, type BuildState, type RunningHub } from './lib/hub-process';
import { machineFacts, machineLine } from './lib/machine';
import { HUB_SUITE_OPTIONS, intOption } from './lib/options';
import { nowUs, Peer } from './lib/peer';
import { CpuMeter, sleep, waitForQuiet, waitForQuietMachine } from './lib/proc';
import { summarizeProfile, type ProfileSummary } from './lib/profile';
import { resultsDir, timestampForFile, writeResults } from './lib/results';
import { summarize, type Summary } from './lib/stats';
import { fmt, printTable, type SummaryRow } from './lib/table';

export const description = 'MCP server: send_message / read_inbox round trips and wait_for_messages wake-up, beside the HTTP API and WebSocket push';

const USAGE = `Usage: npm run bench -- mcp [options]

  --samples N        timed calls per operation and way (1000; --quick 200); operations: whoami (the floor: the
                     agent's own record, and an MCP ping), send, inbox
  --rounds N         alternating blocks the samples are split into (5)
  --wakeups N        wake-up samples per way (300; --quick 60)
  --inbox N          messages waiting in the inbox that read_inbox / GET read (20)
  --body-bytes N     message body size (256)
  --no-stdio         skip the stdio way (devenviro mcp relaying to the hub)
  --quick            smaller counts (a smoke run, not a measurement)
  --profile          run the hub under --cpu-prof and print its top self-time functions
  --no-build         measure out/ as it is, even if stale
  --quiet-wait S     wait up to S seconds before each phase for other processes to go quiet (10; 0: never)
  --strict           exit 1 when a goal is missed
  --keep-data        keep the hub's temporary data directory
  --hub-entry FILE   run this headless.js instead of out/main/headless.js (A/B-testing a change)
  --data-root DIR    make the hub's data directory here (default: the OS temp dir)`;

/** Goals of the MCP server (issue 13): over the HTTP API it adds at most this much per call, p50… */
const OVERHEAD_GOAL_MS = 1;
/** …and a waiting call returns at most this long after the sender's send was acknowledged, p50. */
const WAKEUP_GOAL_MS = 2;

interface Options {
  samples: number;
  rounds: number;
  wakeups: number;
  inbox: number;
  bodyBytes: number;
  stdio: boolean;
  quick: boolean;
  profile: boolean;
  build: boolean;
  quietWaitMs: number;
  strict: boolean;
  keepData: boolean;
  hubEntry: string | undefined;
  dataRoot: string | undefined;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...HUB_SUITE_OPTIONS,
      samples: { type: 'string' },
      rounds: { type: 'string' },
      wakeups: { type: 'string' },
      inbox: { type: 'string' },
      'body-bytes': { type: 'string' },
      'no-stdio': { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  const quick = values.quick ?? false;
  return {
    samples: intOption('samples', values.samples, quick ? 200 : 1000),
    rounds: intOption('rounds', values.rounds, 5),
    wakeups: intOption('wakeups', values.wakeups, quick ? 60 : 300),
    inbox: intOption('inbox', values.inbox, 20),
    bodyBytes: intOption('body-bytes', values['body-bytes'], 256),
    stdio: !(values['no-stdio'] ?? false),
    quick,
    profile: values.profile ?? false,
    build: !(values['no-build'] ?? false),
    quietWaitMs: intOption('quiet-wait', values['quiet-wait'], 10, 0) * 1000,
    strict: values.strict ?? false,
    keepData: values['keep-data'] ?? false,
    hubEntry: values['hub-entry'],
    dataRoot: values['data-root'],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Result shapes

/** One operation done one way: its round trips (ms) and the hub's CPU time per call (µs). */
interface RoundTrip {
  operation: 'send' | 'inbox' | 'whoami';
  way: string;
  latency: Summary;
  hubCpuUsPerCall: number | null;
  errors: number;
}

/** Wake-ups one way: from the sender's send ack (and from its send) to the waiting call's return / the frame. */
interface WakeUp {
  way: string;
  fromAck: Summary;
  fromSend: Summary;
  /** Waits that returned without the message (timed out, or returned before it was sent). */
  missed: number;
}

interface Results {
  suite: 'mcp';
  startedAt: string;
  finishedAt?: string;
  machine: ReturnType<typeof machineFacts>;
  options: Options;
  build: BuildState;
  roundTrips: RoundTrip[];
  wakeUps: WakeUp[];
  /** MCP p50 minus HTTP p50 per operation and MCP way, ms. */
  overheadMs: Array<{ operation: string; way: string; p50: number; p99: number }>;
  cpuPercent: Record<string, Record<string, number | null>>;
  profiles: ProfileSummary[];
  errors: Record<string, string>;
  summary: SummaryRow[];
}

// ---------------------------------------------------------------------------------------------------------------
// The ways in

/** A tool-calling client: the SDK client over Streamable HTTP or over stdio. */
interface McpWay {
  name: string;
  agent: AgentCredentials;
  client: Client;
  /** The relay process of the stdio way (its CPU is reported beside the hub's). */
  pid?: number;
  close(): Promise<void>;
}

async function mcpOverHttp(hub: RunningHub, agent: AgentCredentials): Promise<McpWay> {
  const transport = new StreamableHTTPClientTransport(new URL(`${hub.baseUrl}${MCP_PATH}`), {
    requestInit: { headers: { authorization: `Bearer ${agent.token}` } },
  });
  const client = new Client({ name: 'bench-mcp-http', version: '1.0.0' });
  await client.connect(transport);
  // As MCP clients do: the tool list first (the SDK client then checks each result against the tool's output schema).
  await client.listTools();
  return {
    name: 'MCP (Streamable HTTP)',
    agent,
    client,
    async close() {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/**
 * `devenviro mcp` from the measured build (its cli.js), launched by the SDK's stdio client: it registers the agent
 * in the hub's data directory and relays every message to /mcp. Resolves with that agent's saved id and token.
 */
async function mcpOverStdio(hub: RunningHub, hubEntry: string, name: string): Promise<McpWay> {
  const cli = pathToFileURL(path.join(path.dirname(hubEntry), 'cli.js')).href;
  const program = `const { run } = await import(${JSON.stringify(cli)}); await run(process.argv.slice(1));`;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('DEVENVIRO_')) env[key] = value;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--input-type=module', '-e', program, 'mcp', '--as', name, '--project', 'bench', '--data-dir', hub.dataDir, '--url', hub.baseUrl],
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'bench-mcp-stdio', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (error) {
    throw new Error(`devenviro mcp did not start: ${(error as Error).message}\n${stderr}`, { cause: error });
  }
  await client.listTools();
  const who = (await client.callTool({ name: 'whoami', arguments: {} })) as CallToolResult;
  const id = (who.structuredContent as { agent: { id: string } }).agent.id;
  // The relay saved the agent's credentials beside the hub's data; the bench needs its token to fill its inbox.
  const { loadCredentials } = await import('../src/client/credentials');
  const saved = loadCredentials(hub.dataDir, 'bench', name);
  if (!saved || saved.id !== id) throw new Error(`devenviro mcp saved no credentials for ${name} under ${hub.dataDir}`);
  return {
    name: 'MCP (stdio, devenviro mcp)',
    agent: { id, name, token: saved.token },
    client,
    pid: transport.pid ?? undefined,
    close: () => client.close(),
  };
}

async function callTool(way: McpWay, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const result = (await way.client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name}: ${result.content.map((part) => (part.type === 'text' ? part.text : '')).join('')}`);
  return result;
}

/** The raw HTTP API, with the same fetch (undici, keep-alive) the SDK's Streamable HTTP client uses. */
async function httpSend(hub: RunningHub, from: AgentCredentials, to: string, body: string): Promise<string> {
  const response = await fetch(`${hub.baseUrl}/api/v1/agents/${to}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${from.token}` },
    body: JSON.stringify({ body }),
  });
  const answer = (await response.json()) as { id: string };
  if (response.status !== 201) throw new Error(`POST message: HTTP ${response.status} ${JSON.stringify(answer)}`);
  return answer.id;
}

async function httpInbox(hub: RunningHub, reader: AgentCredentials): Promise<number> {
  const response = await fetch(`${hub.baseUrl}/api/v1/agents/${reader.id}/messages?limit=50`, { headers: { authorization: `Bearer ${reader.token}` } });
  const page = (await response.json()) as { messages: unknown[] };
  if (response.status !== 200) throw new Error(`GET inbox: HTTP ${response.status} ${JSON.stringify(page)}`);
  return page.messages.length;
}

async function httpAgent(hub: RunningHub, agent: AgentCredentials): Promise<void> {
  const response = await fetch(`${hub.baseUrl}/api/v1/agents/${agent.id}/status`, { headers: { authorization: `Bearer ${agent.token}` } });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`GET status: HTTP ${response.status}`);
}

async function httpAck(hub: RunningHub, agent: AgentCredentials, ids: string[]): Promise<void> {
  const response = await fetch(`${hub.baseUrl}/api/v1/agents/${agent.id}/messages/ack`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${agent.token}` },
    body: JSON.stringify({ ids }),
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`POST ack: HTTP ${response.status}`);
}

// ---------------------------------------------------------------------------------------------------------------

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  // The SDK's HTTP client hands one AbortSignal to every fetch, and undici lets go of its listener only at garbage
  // collection: past 1,500 calls Node would warn on each call and bury the bench's output.
  setMaxListeners(0);
  const started = new Date();
  const machine = machineFacts();
  console.log(`MCP benchmark — ${machineLine(machine)}`);
  if (options.quick) console.log('--quick: a smoke run with small counts; do not quote these numbers.');
  const build: BuildState = options.hubEntry ? { built: false, stale: null, builtAt: null } : ensureBuilt(options.build);
  const snapshot = snapshotBuild(options.hubEntry);
  const results: Results = {
    suite: 'mcp',
    startedAt: started.toISOString(),
    machine,
    options,
    build,
    roundTrips: [],
    wakeUps: [],
    overheadMs: [],
    cpuPercent: {},
    profiles: [],
    errors: {},
    summary: [],
  };

  const hub = await startHub({
    entry: snapshot.entry,
    label: 'hub',
    cpuProfDir: options.profile ? path.join(resultsDir, `profiles-${timestampForFile(started)}`) : undefined,
    keepData: options.keepData,
    dataRoot: options.dataRoot,
  });
  console.log(`\n[hub] pid ${hub.pid} at ${hub.baseUrl}`);
  const ways: McpWay[] = [];
  let wsPeer: Peer | undefined;
  try {
    await waitForQuiet(hub.pid); // the encoder loads in the background after start
    const [sender, receiver, reader, waiter, wsWaiter] = await registerAgents(hub.baseUrl, 5, { prefix: 'mcp-bench', project: 'bench', concurrency: 1 }) as [
      AgentCredentials,
      AgentCredentials,
      AgentCredentials,
      AgentCredentials,
      AgentCredentials,
    ];
    const body = 'x'.repeat(options.bodyBytes);

    // Each MCP way sends as `sender`-like agents of its own and reads its own inbox; HTTP reads `reader`'s.
    const httpWay = await mcpOverHttp(hub, sender);
    ways.push(httpWay);
    const readerWay = await mcpOverHttp(hub, reader);
    ways.push(readerWay);
    const waiterWay = await mcpOverHttp(hub, waiter);
    ways.push(waiterWay);
    let stdioWay: McpWay | undefined;
    if (options.stdio) {
      try {
        stdioWay = await mcpOverStdio(hub, snapshot.entry, 'mcp-bench-stdio');
        ways.push(stdioWay);
      } catch (error) {
        results.errors.stdio = (error as Error).message;
        console.error(`[stdio] skipped: ${(error as Error).message}`);
      }
    }
    wsPeer = await Peer.connect(realtimeUrl(hub.wsBase, wsWaiter.id), wsWaiter.id, 'hub', wsWaiter.token);

    // The inboxes that are read hold the same page: `inbox` messages, never acknowledged.
    const newest = new Map<string, string>();
    for (const target of [reader, ...(stdioWay ? [stdioWay.agent] : [])]) {
      for (let i = 0; i < options.inbox; i++) newest.set(target.id, await httpSend(hub, sender, target.id, body));
    }

    const pids: Record<string, number> = { hub: hub.pid, bench: process.pid, ...(stdioWay?.pid ? { relay: stdioWay.pid } : {}) };
    const settle = async (what: string) => {
      await waitForQuiet(hub.pid);
      if (options.quietWaitMs === 0) return;
      const { othersPercent } = await waitForQuietMachine(Object.values(pids), { timeoutMs: options.quietWaitMs });
      if (othersPercent !== null && othersPercent > 25) console.warn(`[${what}] other processes use ${othersPercent}% of a core; measuring anyway`);
    };

    // Round trips: per operation, the ways in turn, block by block.
    const sendWays: Array<[string, () => Promise<unknown>]> = [
      ['HTTP POST /agents/{id}/messages', () => httpSend(hub, sender, receiver.id, body)],
      [httpWay.name, () => callTool(httpWay, 'send_message', { to: { type: 'agent', id: receiver.id }, body })],
      ...(stdioWay ? [[stdioWay.name, () => callTool(stdioWay, 'send_message', { to: { type: 'agent', id: receiver.id }, body })] as [string, () => Promise<unknown>]] : []),
    ];
    const expectPage = (count: number) => {
      if (count !== options.inbox) throw new Error(`the inbox read ${count} messages, not ${options.inbox}`);
    };
    const inboxWays: Array<[string, () => Promise<unknown>]> = [
      ['HTTP GET /agents/{id}/messages', async () => expectPage(await httpInbox(hub, reader))],
      [readerWay.name, async () => expectPage(((await callTool(readerWay, 'read_inbox', {})).structuredContent as { messages: unknown[] }).messages.length)],
      ...(stdioWay
        ? [[stdioWay.name, async () => expectPage(((await callTool(stdioWay, 'read_inbox', {})).structuredContent as { messages: unknown[] }).messages.length)] as [string, () => Promise<unknown>]]
        : []),
    ];
    // The floor: the agent's own record (no storage work), and an MCP ping (the protocol alone, no tool at all).
    const whoamiWays: Array<[string, () => Promise<unknown>]> = [
      ['HTTP GET /agents/{id}/status', () => httpAgent(hub, sender)],
      [httpWay.name, () => callTool(httpWay, 'whoami', {})],
      [`${httpWay.name} ping (no tool)`, () => httpWay.client.ping()],
    ];
    for (const [operation, list] of [
      ['whoami', whoamiWays],
      ['send', sendWays],
      ['inbox', inboxWays],
    ] as const) {
      await settle(operation);
      const cpu = new CpuMeter(pids);
      results.roundTrips.push(...(await roundTrips(operation, list, hub.pid, options)));
      results.cpuPercent[operation] = cpu.read();
    }

    // Wake-up: a waiting wait_for_messages call (each MCP way) and a WebSocket, sample by sample in turn.
    await settle('wake-up');
    const cpu = new CpuMeter(pids);
    const wakeWays: WakeWay[] = [
      mcpWakeWay(hub, waiterWay, undefined),
      ...(stdioWay ? [mcpWakeWay(hub, stdioWay, newest.get(stdioWay.agent.id))] : []),
      socketWakeWay(wsPeer, wsWaiter),
    ];
    results.wakeUps = await wakeUps(hub, sender, body, wakeWays, options.wakeups);
    results.cpuPercent['wake-up'] = cpu.read();
  } catch (error) {
    results.errors.run = (error as Error).stack ?? String(error);
    console.error(`\n[mcp] failed: ${(error as Error).message}`);
  } finally {
    wsPeer?.close();
    for (const way of ways) await way.close().catch(() => undefined);
    const { code, profile } = await hub.stop();
    if (code !== 0) console.warn(`[hub] exited with ${code}:\n${hub.output().slice(-2000)}`);
    if (profile) results.profiles.push(summarizeProfile(profile));
    snapshot.remove();
  }

  const http = (operation: string) => results.roundTrips.find((r) => r.operation === operation && r.way.startsWith('HTTP'));
  for (const r of results.roundTrips) {
    const base = http(r.operation);
    if (!base || r === base) continue;
    results.overheadMs.push({ operation: r.operation, way: r.way, p50: r.latency.p50 - base.latency.p50, p99: r.latency.p99 - base.latency.p99 });
  }
  results.summary = summaryRows(results);
  results.finishedAt = new Date().toISOString();
  report(results);
  const file = writeResults('mcp', results, started);
  console.log(`\nResults: ${path.relative(process.cwd(), file)}`);
  const failed = Object.keys(results.errors).some((k) => k !== 'stdio') || results.summary.some((r) => r.verdict === 'ERROR' || (options.strict && r.verdict === 'FAIL'));
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Phases

/**
 * Each way's calls, timed one at a time (one in flight), in `rounds` blocks per way taken in turn, so a burst of
 * other work on the machine falls on all ways alike. The hub's CPU time is read per block.
 */
async function roundTrips(operation: RoundTrip['operation'], ways: Array<[string, () => Promise<unknown>]>, hubPid: number, options: Options): Promise<RoundTrip[]> {
  const perBlock = Math.max(1, Math.ceil(options.samples / options.rounds));
  const samples = ways.map(() => [] as number[]);
  const cpuSeconds = ways.map(() => 0);
  const errors = ways.map(() => 0);
  // Warm-up: connections open, code paths compiled.
  for (const [, call] of ways) for (let i = 0; i < 50; i++) await call();
  for (let round = 0; round < options.rounds; round++) {
    for (let w = 0; w < ways.length; w++) {
      const call = ways[w]![1];
      const cpu = new CpuMeter({ hub: hubPid });
      for (let i = 0; i < perBlock; i++) {
        const t0 = performance.now();
        try {
          await call();
          samples[w]!.push(performance.now() - t0);
        } catch (error) {
          if (errors[w]!++ === 0) console.error(`[${operation}] ${ways[w]![0]}: ${(error as Error).message}`);
        }
      }
      cpuSeconds[w]! += cpu.used().hub ?? NaN;
    }
  }
  return ways.map(([way], w) => {
    const latency = summarize(samples[w]!);
    const result: RoundTrip = {
      operation,
      way,
      latency,
      hubCpuUsPerCall: Number.isFinite(cpuSeconds[w]!) && latency.count ? (cpuSeconds[w]! * 1e6) / latency.count : null,
      errors: errors[w]!,
    };
    console.log(`[${operation}] ${way}: p50 ${fmt(latency.p50)} ms, p99 ${fmt(latency.p99)} ms (n=${latency.count}), hub ${fmt(result.hubCpuUsPerCall ?? NaN)} µs CPU/call`);
    return result;
  });
}

/** A way of being woken by a message: `arm` starts waiting and resolves with when (µs) the message was seen. */
interface WakeWay {
  name: string;
  agent: AgentCredentials;
  arm(): Promise<{ woke: Promise<{ atUs: number; gotIt: boolean }> }>;
  /** After a sample: the message is acknowledged so the next wait blocks again. */
  reset(ids: string[]): Promise<void>;
}

/** `after`: the newest message already in the agent's inbox (the read_inbox page), so the wait is for a new one. */
function mcpWakeWay(hub: RunningHub, way: McpWay, after: string | undefined): WakeWay {
  return {
    name: `${way.name} wait_for_messages`,
    agent: way.agent,
    async arm() {
      const woke = callTool(way, 'wait_for_messages', { timeoutMs: 10_000, ...(after ? { after } : {}) }).then((result) => ({
        atUs: nowUs(),
        gotIt: !(result.structuredContent as { timedOut: boolean }).timedOut,
      }));
      // The call must be waiting at the hub before the message is sent: a call still on its way would find the
      // message already there and return at once, measuring less than a wake-up.
      await sleep(15);
      return { woke };
    },
    reset: async (ids) => {
      after = ids.at(-1);
      await httpAck(hub, way.agent, ids);
    },
  };
}

function socketWakeWay(peer: Peer, agent: AgentCredentials): WakeWay {
  return {
    name: 'WebSocket push (message frame)',
    agent,
    async arm() {
      const woke = new Promise<{ atUs: number; gotIt: boolean }>((resolve) => {
        peer.onDelivery = (_body, _id, atUs) => resolve({ atUs, gotIt: true });
      });
      await sleep(15);
      return { woke };
    },
    // The peer acknowledges what it receives on its own.
    reset: async () => undefined,
  };
}

/** Per sample and way in turn: arm the wait, send over HTTP, and time the wake-up from the send and from its ack. */
async function wakeUps(hub: RunningHub, sender: AgentCredentials, body: string, ways: WakeWay[], count: number): Promise<WakeUp[]> {
  const fromAck = ways.map(() => [] as number[]);
  const fromSend = ways.map(() => [] as number[]);
  const missed = ways.map(() => 0);
  const warmup = 20;
  for (let i = 0; i < count + warmup; i++) {
    for (let w = 0; w < ways.length; w++) {
      const way = ways[w]!;
      const { woke } = await way.arm();
      const sentUs = nowUs();
      const id = await httpSend(hub, sender, way.agent.id, body);
      const ackUs = nowUs();
      const { atUs, gotIt } = await woke;
      await way.reset([id]);
      if (i < warmup) continue;
      // A call that returned before the message was sent did not wait for it.
      if (!gotIt || atUs < sentUs) {
        missed[w]!++;
        continue;
      }
      fromAck[w]!.push((atUs - ackUs) / 1000);
      fromSend[w]!.push((atUs - sentUs) / 1000);
    }
  }
  return ways.map((way, w) => {
    const result: WakeUp = { way: way.name, fromAck: summarize(fromAck[w]!), fromSend: summarize(fromSend[w]!), missed: missed[w]! };
    console.log(`[wake-up] ${way.name}: send ack → woken p50 ${fmt(result.fromAck.p50)} ms, p99 ${fmt(result.fromAck.p99)} ms (n=${result.fromAck.count}, missed ${result.missed})`);
    return result;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

function report(r: Results): void {
  if (r.roundTrips.length) {
    printTable(
      'Round trip, one call in flight, ms (hub CPU: the hub process\'s CPU time per call)',
      ['operation', 'way', 'n', 'p50', 'p90', 'p99', 'max', 'hub µs CPU/call', 'errors'],
      r.roundTrips.map((t) => [t.operation, t.way, t.latency.count, t.latency.p50, t.latency.p90, t.latency.p99, t.latency.max, t.hubCpuUsPerCall, t.errors]),
    );
  }
  if (r.overheadMs.length) {
    printTable('MCP overhead over the HTTP API (MCP minus HTTP), ms', ['operation', 'way', 'p50', 'p99'], r.overheadMs.map((o) => [o.operation, o.way, o.p50, o.p99]));
  }
  if (r.wakeUps.length) {
    printTable(
      'Wake-up: the sender POSTs a message; time until the waiting call returns / the socket has the frame, ms',
      ['way', 'n', 'from send ack p50', 'p90', 'p99', 'max', 'from send p50', 'from send p99', 'missed'],
      r.wakeUps.map((w) => [w.way, w.fromAck.count, w.fromAck.p50, w.fromAck.p90, w.fromAck.p99, w.fromAck.max, w.fromSend.p50, w.fromSend.p99, w.missed]),
    );
  }
  for (const p of r.profiles) {
    printTable(
      `CPU profile ${path.relative(process.cwd(), p.file)}: ${fmt(p.busyMs)} ms busy of ${fmt(p.durationMs)} ms; top self time`,
      ['self ms', 'self %', 'total %', 'function', 'where'],
      p.top.slice(0, 25).map((row) => [row.selfMs, row.selfPercent, row.totalPercent, row.function, row.where]),
    );
  }
  printTable('Summary', ['metric', 'target', 'measured', 'pass/fail'], r.summary.map((s) => [s.metric, s.target, s.measured, s.verdict]));
  const cpu = Object.entries(r.cpuPercent).map(([phase, reading]) => `${phase}: ${Object.entries(reading).map(([k, v]) => `${k} ${v ?? '?'}%`).join(', ')}`);
  console.log(`CPU (% of one core) per phase — ${cpu.join('; ')}`);
  console.log(`${machineLine(r.machine)}; ${os.cpus().length} cores shared with whatever else ran ("others" above)`);
}

function summaryRows(r: Results): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const failed = Object.keys(r.errors).some((k) => k !== 'stdio');
  for (const operation of ['send', 'inbox'] as const) {
    const o = r.overheadMs.find((x) => x.operation === operation && x.way.includes('Streamable HTTP'));
    const metric = `${operation === 'send' ? 'send_message' : 'read_inbox'} overhead over HTTP, p50`;
    if (!o) rows.push({ metric, target: `<= ${OVERHEAD_GOAL_MS} ms`, measured: '—', verdict: failed ? 'ERROR' : 'not run' });
    else rows.push({ metric, target: `<= ${OVERHEAD_GOAL_MS} ms`, measured: `${fmt(o.p50)} ms`, verdict: o.p50 <= OVERHEAD_GOAL_MS ? 'PASS' : 'FAIL' });
  }
  const wake = r.wakeUps.find((w) => w.way.includes('Streamable HTTP'));
  const socket = r.wakeUps.find((w) => w.way.startsWith('WebSocket'));
  if (!wake) rows.push({ metric: 'wait_for_messages wake-up after the send ack, p50', target: `<= ${WAKEUP_GOAL_MS} ms`, measured: '—', verdict: failed ? 'ERROR' : 'not run' });
  else {
    rows.push({
      metric: 'wait_for_messages wake-up after the send ack, p50',
      target: `<= ${WAKEUP_GOAL_MS} ms`,
      measured: `${fmt(wake.fromAck.p50)} ms (p99 ${fmt(wake.fromAck.p99)} ms)${socket ? `; WebSocket ${fmt(socket.fromAck.p50)} ms` : ''}`,
      verdict: wake.fromAck.p50 <= WAKEUP_GOAL_MS && wake.missed === 0 ? 'PASS' : 'FAIL',
    });
  }
  return rows;
}
