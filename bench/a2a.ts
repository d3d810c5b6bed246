/**
 * The A2A door's benchmark: `npm run bench -- a2a [options]`. Starts the built hub as its own process (as `hub`
 * does) and drives it with the official SDK's client (@a2a-js/sdk) and, as the baseline in the same run, the raw
 * HTTP API:
 *
 *   latency  one call at a time, alternating: A2A SendMessage (SDK client) and HTTP POST /agents/{id}/messages,
 *            each to an agent on a raw WebSocket; the call's round trip, and send → the agent's frame; A2A GetTask
 *   large    SendMessage with one file part of --file-mib MiB (base64 in the hub message): the round trip, and the
 *            hub's event-loop delay (max over the second, from its /api/v1/metrics) right after; then the same bytes
 *            as a JSON body over the HTTP API; --large-runs times each, alternating. Also the CPU time the hub's
 *            main thread spent from the call to the agent's frame, which contention does not inflate
 *
 * Prints tables and writes bench/results/a2a-<timestamp>.json.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Role, type SendMessageRequest, type Task } from '@a2a-js/sdk';
import { ClientFactory, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client';
import WebSocket from 'ws';
import { ensureBuilt, snapshotBuild, startHub, type RunningHub } from './lib/hub-process';
import { machineFacts, machineLine } from './lib/machine';
import { HUB_SUITE_OPTIONS, intOption, numberOption } from './lib/options';
import { writeResults } from './lib/results';
import { summarize, type Summary } from './lib/stats';
import { fmt, printTable } from './lib/table';

export const description = 'A2A door: SendMessage / GetTask round trips with the SDK client next to the HTTP API, and a large file part';

const USAGE = `Usage: npm run bench -- a2a [options]

  --calls N        calls of each kind in the latency phase (500)
  --file-mib N     size of the file part in the large phase (4)
  --large-runs N   large sends of each kind (3)
  --quick          100 calls, a 1 MiB file (a smoke run, not a measurement)
  --no-build       measure out/ as it is, even if stale`;

interface Registered {
  id: string;
  token: string;
}

async function register(hub: RunningHub, name: string): Promise<Registered> {
  const response = await fetch(`${hub.baseUrl}/api/v1/agents/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, project: 'bench' }),
  });
  const body = (await response.json()) as { agent: { id: string }; token: string };
  return { id: body.agent.id, token: body.token };
}

/** The receiving agent: a raw socket that resolves the wait for each message as its frame arrives. */
async function receiver(hub: RunningHub, agent: Registered): Promise<{ next(): Promise<number>; close(): void }> {
  const ws = new WebSocket(`${hub.wsBase}/api/v1/agents/${agent.id}/realtime`, { perMessageDeflate: false, headers: { authorization: `Bearer ${agent.token}` } });
  const waiting: Array<(at: number) => void> = [];
  const arrived: number[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { type: string; message?: { id: string } };
    if (frame.type !== 'message') return;
    const at = performance.now();
    ws.send(JSON.stringify({ type: 'ack', ids: [frame.message!.id] }));
    const wake = waiting.shift();
    if (wake) wake(at);
    else arrived.push(at);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    next: () => (arrived.length > 0 ? Promise.resolve(arrived.shift()!) : new Promise((resolve) => waiting.push(resolve))),
    close: () => ws.close(),
  };
}

function a2aClient(hub: RunningHub, token: string): Promise<Client> {
  const withToken: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  return new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: withToken })] }).createFromUrl(hub.baseUrl);
}

function request(to: string, parts: NonNullable<SendMessageRequest['message']>['parts']): SendMessageRequest {
  return {
    tenant: '',
    message: { messageId: crypto.randomUUID(), contextId: '', taskId: '', role: Role.ROLE_USER, parts, metadata: { to }, extensions: [], referenceTaskIds: [] },
    configuration: undefined,
    metadata: {},
  };
}

const text = (value: string) => [{ content: { $case: 'text' as const, value }, mediaType: 'text/plain', filename: '', metadata: {} }];

/**
 * CPU time of the hub's main thread (the event loop's thread: its id is the process id) so far, in ms, from
 * /proc (Linux; null elsewhere). Unlike the loop delay, it does not grow while other processes hold the cores, so
 * it compares builds on a busy machine: work moved to a worker thread leaves it.
 */
function mainThreadCpuMs(hub: RunningHub): number | null {
  try {
    const stat = readFileSync(`/proc/${hub.pid}/task/${hub.pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Linux's USER_HZ: /proc reports CPU time in hundredths of a second. */
const CLOCK_TICKS = 100;

async function loopDelayMaxMs(hub: RunningHub): Promise<number | null> {
  const response = await fetch(`${hub.baseUrl}/api/v1/metrics`, { headers: { authorization: `Bearer ${hub.cockpitToken}` } });
  if (response.status !== 200) return null;
  const match = /^devenviro_event_loop_delay_max_seconds (\S+)$/m.exec(await response.text());
  return match ? Number(match[1]) * 1000 : null;
}

interface LatencyResult {
  a2aSend: Summary;
  a2aDelivery: Summary;
  a2aGetTask: Summary;
  httpSend: Summary;
  httpDelivery: Summary;
}

async function latencyPhase(hub: RunningHub, calls: number): Promise<LatencyResult> {
  const caller = await register(hub, 'bench-caller');
  const target = await register(hub, 'bench-target');
  const inbox = await receiver(hub, target);
  const client = await a2aClient(hub, caller.token);
  const body = 'x'.repeat(200);
  const a2aSend: number[] = [];
  const a2aDelivery: number[] = [];
  const a2aGetTask: number[] = [];
  const httpSend: number[] = [];
  const httpDelivery: number[] = [];
  const warmup = Math.min(50, Math.floor(calls / 5));
  for (let i = 0; i < calls + warmup; i++) {
    const counted = i >= warmup;
    let started = performance.now();
    const task = (await client.sendMessage(request('bench-target', text(body)))) as Task;
    const answered = performance.now();
    const delivered = await inbox.next();
    if (counted) {
      a2aSend.push(answered - started);
      a2aDelivery.push(delivered - started);
    }
    started = performance.now();
    await client.getTask({ tenant: '', id: task.id });
    if (counted) a2aGetTask.push(performance.now() - started);

    started = performance.now();
    const response = await fetch(`${hub.baseUrl}/api/v1/agents/${target.id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
      body: JSON.stringify({ body }),
    });
    await response.arrayBuffer();
    const httpAnswered = performance.now();
    const httpDelivered = await inbox.next();
    if (counted) {
      httpSend.push(httpAnswered - started);
      httpDelivery.push(httpDelivered - started);
    }
  }
  inbox.close();
  return {
    a2aSend: summarize(a2aSend),
    a2aDelivery: summarize(a2aDelivery),
    a2aGetTask: summarize(a2aGetTask),
    httpSend: summarize(httpSend),
    httpDelivery: summarize(httpDelivery),
  };
}

interface LargeResult {
  fileBytes: number;
  roundTripMs: number;
  loopDelayMaxMs: number | null;
  /** CPU ms of the hub's main thread from the call to the agent's frame (10 ms resolution). */
  mainThreadCpuMs: number | null;
  /** The same bytes (base64 in a JSON body) sent over the HTTP API, in the same run. */
  httpRoundTripMs: number;
  httpLoopDelayMaxMs: number | null;
  httpMainThreadCpuMs: number | null;
}

const cpuSince = (hub: RunningHub, before: number | null): number | null => {
  const now = mainThreadCpuMs(hub);
  return now === null || before === null ? null : now - before;
};

async function largePhase(hub: RunningHub, fileMiB: number, runs: number): Promise<LargeResult[]> {
  const results: LargeResult[] = [];
  for (let i = 0; i < runs; i++) results.push(await largeRun(hub, fileMiB, i));
  return results;
}

async function largeRun(hub: RunningHub, fileMiB: number, run: number): Promise<LargeResult> {
  const caller = await register(hub, `large-caller-${run}`);
  const target = await register(hub, `large-target-${run}`);
  const inbox = await receiver(hub, target);
  const client = await a2aClient(hub, caller.token);
  const bytes = Buffer.alloc(Math.round(fileMiB * 1024 * 1024), 7);
  // Let the metrics second with the connection set-up pass, so the delay read after belongs to the send.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const cpuBefore = mainThreadCpuMs(hub);
  const started = performance.now();
  await client.sendMessage(request(`large-target-${run}`, [{ content: { $case: 'raw', value: bytes }, mediaType: 'application/octet-stream', filename: 'blob.bin', metadata: {} }]));
  const roundTripMs = performance.now() - started;
  await inbox.next();
  const cpu = cpuSince(hub, cpuBefore);
  // The hub's metrics cover whole seconds: read after the second the send fell in.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const loop = await loopDelayMaxMs(hub);

  // The baseline: the same bytes as the HTTP API's JSON body, as the A2A door makes of them.
  const httpBody = JSON.stringify({ body: { files: [{ name: 'blob.bin', mediaType: 'application/octet-stream', bytes: bytes.toString('base64') }] } });
  const httpCpuBefore = mainThreadCpuMs(hub);
  const httpStarted = performance.now();
  const response = await fetch(`${hub.baseUrl}/api/v1/agents/${target.id}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
    body: httpBody,
  });
  await response.arrayBuffer();
  const httpRoundTripMs = performance.now() - httpStarted;
  await inbox.next();
  const httpCpu = cpuSince(hub, httpCpuBefore);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const httpLoop = await loopDelayMaxMs(hub);
  inbox.close();
  return { fileBytes: bytes.length, roundTripMs, loopDelayMaxMs: loop, mainThreadCpuMs: cpu, httpRoundTripMs, httpLoopDelayMaxMs: httpLoop, httpMainThreadCpuMs: httpCpu };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...HUB_SUITE_OPTIONS, calls: { type: 'string' }, 'file-mib': { type: 'string' }, 'large-runs': { type: 'string' } },
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const calls = values.quick ? 100 : intOption('calls', values.calls, 500);
  const fileMiB = values.quick ? 1 : numberOption('file-mib', values['file-mib'], 4, 0.001);
  const largeRuns = values.quick ? 1 : intOption('large-runs', values['large-runs'], 3);
  const machine = machineFacts();
  const build = ensureBuilt(!values['no-build']);
  const snapshot = snapshotBuild(values['hub-entry']);
  const hub = await startHub({ entry: snapshot.entry, label: 'a2a', ...(values['data-root'] ? { dataRoot: values['data-root'] } : {}) });
  try {
    const latency = await latencyPhase(hub, calls);
    const large = await largePhase(hub, fileMiB, largeRuns);
    const row = (name: string, s: Summary) => [name, s.count, s.p50, s.p90, s.p99, s.max];
    printTable(`latency: one call at a time, ${calls} of each (ms)`, ['call', 'n', 'p50', 'p90', 'p99', 'max'], [
      row('A2A SendMessage (SDK client) → answer', latency.a2aSend),
      row('A2A SendMessage → frame at the agent', latency.a2aDelivery),
      row('HTTP POST message → answer', latency.httpSend),
      row('HTTP POST message → frame at the agent', latency.httpDelivery),
      row('A2A GetTask', latency.a2aGetTask),
    ]);
    printTable('A2A over HTTP, p50 (ms)', ['what', 'extra ms'], [
      ['SendMessage answer − HTTP send answer', latency.a2aSend.p50 - latency.httpSend.p50],
      ['delivery via A2A − delivery via HTTP', latency.a2aDelivery.p50 - latency.httpDelivery.p50],
    ]);
    printTable(`large: one ${fmt(large[0]!.fileBytes / 2 ** 20)} MiB file, ${largeRuns} runs`, ['run', 'call', 'round trip ms', 'hub event-loop delay max ms (that second)', 'hub main-thread CPU ms'], [
      ...large.map((r, i) => [i + 1, 'A2A SendMessage, a file part', r.roundTripMs, r.loopDelayMaxMs, r.mainThreadCpuMs]),
      ...large.map((r, i) => [i + 1, 'HTTP POST message, the same bytes base64 in a JSON body', r.httpRoundTripMs, r.httpLoopDelayMaxMs, r.httpMainThreadCpuMs]),
    ]);
    console.log(`\n${machineLine(machine)}`);
    const file = writeResults('a2a', { machine, build, calls, latency, large });
    console.log(`results: ${file}`);
    return 0;
  } finally {
    await hub.stop();
    snapshot.remove();
  }
}
