/**
 * Other agents while a large document is extracted: a real hub process (out/main/headless.js, fresh data dir), one
 * agent sending messages and another searching memory, one request at a time each, first with the hub otherwise
 * idle, then while a third agent extracts a ~2 MB document (the seeded transcript of bench/extract.ts) over HTTP.
 * Target: message and search p99 during the extraction within 2x of idle.
 *
 *   node --import tsx bench/extract-load.ts [--mb 2] [--idle-seconds 10] [--no-build] [--profile DIR] [--entry FILE]
 *   npm run bench -- extract-load [...]
 *
 * Prints a table and writes bench/results/extract-load-<ts>.json.
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { ExtractReport } from '../src/shared/memory-protocol';
import { generateTranscript } from './extract';
import { registerAgents, type AgentCredentials } from './lib/agents';
import { ensureBuilt, startHub } from './lib/hub-process';
import { machineFacts, machineLine } from './lib/machine';
import { repoRoot } from './lib/paths';
import { sleep } from './lib/proc';
import { writeResults } from './lib/results';
import { summarize, type Summary } from './lib/stats';
import { printTable } from './lib/table';

export const description = 'message and search latency of other agents while a ~2 MB document is extracted, vs idle: [--mb N] [--idle-seconds N] [--no-build] [--profile DIR] [--entry FILE]';

const QUERIES = ['why does the message store drop pending messages', 'backup snapshot failure', 'how is the vector index rebuilt', 'rate limiter retries', 'config loader defaults', 'websocket gateway reconnect', 'what did we decide about locking', 'migration runner timeout'];
const NOTES = [
  'The message store groups commits every 2 ms to keep fsync cost low.',
  'Backups go to the folder set in backup.target, with snapshots kept per backup.keep.',
  'The vector index is rebuilt in a child process when it grows past 20,000 memories.',
  'The rate limiter retries with exponential backoff up to five times.',
  'The config loader writes defaults to config.json on the first start.',
  'The websocket gateway replays pending messages after a reconnect.',
  'We decided to take a per-project lock before writing batches.',
  'The migration runner times out after 30 seconds per step.',
];

interface Sample {
  at: number;
  ms: number;
}

/** One request at a time, as fast as answers come (with a short pause), until `until()` says stop. */
async function loop(request: () => Promise<void>, until: () => boolean, pauseMs: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  while (!until()) {
    const started = performance.now();
    await request();
    samples.push({ at: started, ms: performance.now() - started });
    await sleep(pauseMs);
  }
  return samples;
}

function send(url: string, method: 'GET' | 'POST', token: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, agent: keepAlive, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });

async function expectOk(response: Promise<{ status: number; text: string }>, what: string): Promise<string> {
  const { status, text } = await response;
  if (status >= 300) throw new Error(`${what}: HTTP ${status} ${text.slice(0, 300)}`);
  return text;
}

export async function run(options: { mb: number; idleSeconds: number; build: boolean; profileDir?: string; entry?: string }): Promise<void> {
  const machine = machineFacts();
  console.log(`Other agents during a large extraction — ${machineLine(machine)}`);
  // --entry: another build of the hub (a copy of out/main from another commit), to compare two builds back to back.
  const build = options.entry ? { built: false, stale: null, builtAt: null, entry: options.entry } : ensureBuilt(options.build);
  let words = 300_000;
  let text = generateTranscript(words);
  while (text.length < options.mb * 1024 * 1024) text = generateTranscript((words = Math.ceil(words * ((options.mb * 1024 * 1024) / text.length) * 1.02)));
  console.log(`document: ${(text.length / 1024 / 1024).toFixed(2)} MB, ${words.toLocaleString('en-US')} words`);
  const hub = await startHub({ label: 'extract-load', ...(options.profileDir ? { cpuProfDir: options.profileDir } : {}), ...(options.entry ? { entry: options.entry } : {}) });
  try {
    const [sender, receiver, searcher, extractor] = (await registerAgents(hub.baseUrl, 4, { prefix: 'load' })) as [AgentCredentials, AgentCredentials, AgentCredentials, AgentCredentials];
    const api = (p: string) => `${hub.baseUrl}/api/v1${p}`;
    // Memories to search among (and the encoder warm).
    const notes = Array.from({ length: 2000 }, (_, i) => ({ text: `${NOTES[i % NOTES.length]} (note ${i})`, kind: 'note' }));
    for (let i = 0; i < notes.length; i += 250) await expectOk(send(api('/memory/store'), 'POST', searcher.token, JSON.stringify({ memories: notes.slice(i, i + 250) })), 'store');
    let q = 0;
    const message = () => expectOk(send(api('/messages'), 'POST', sender.token, JSON.stringify({ to: { type: 'agent', id: receiver.id }, body: `ping ${Date.now()}` })), 'message').then(() => undefined);
    const search = () => expectOk(send(api(`/memory/search?q=${encodeURIComponent(QUERIES[q++ % QUERIES.length]!)}&k=10`), 'GET', searcher.token), 'search').then(() => undefined);
    // Warm-up, then idle.
    for (let i = 0; i < 50; i++) await Promise.all([message(), search()]);
    await sleep(1000);
    const idleEnd = performance.now() + options.idleSeconds * 1000;
    const idleLoad = os.loadavg()[0]!;
    const [idleMessages, idleSearches] = await Promise.all([loop(message, () => performance.now() > idleEnd, 10), loop(search, () => performance.now() > idleEnd, 10)]);

    // During the extraction.
    let extracting = true;
    const started = performance.now();
    const extraction = expectOk(send(api('/memory/extract'), 'POST', extractor.token, JSON.stringify({ text, title: 'large transcript', source: { type: 'file', ref: 'large.md' } })), 'extract').finally(() => (extracting = false));
    const [busyMessages, busySearches, reportText] = await Promise.all([loop(message, () => !extracting, 10), loop(search, () => !extracting, 10), extraction]);
    const extractSeconds = (performance.now() - started) / 1000;
    const busyLoad = os.loadavg()[0]!;
    const report = JSON.parse(reportText) as ExtractReport;

    const stat = (samples: Sample[]): Summary => summarize(samples.map((s) => s.ms));
    const rows = {
      message: { idle: stat(idleMessages), busy: stat(busyMessages) },
      search: { idle: stat(idleSearches), busy: stat(busySearches) },
    };
    printTable(
      `Other agents' requests, idle (${options.idleSeconds} s) vs during the extraction (${extractSeconds.toFixed(1)} s, ${report.stored.length.toLocaleString('en-US')} memories)`,
      ['request', 'idle n', 'idle p50 ms', 'idle p99 ms', 'busy n', 'busy p50 ms', 'busy p99 ms', 'busy max ms', 'p99 ratio', 'within 2x'],
      (['message', 'search'] as const).map((name) => {
        const { idle, busy } = rows[name];
        const ratio = busy.p99 / idle.p99;
        return [name, idle.count, idle.p50, idle.p99, busy.count, busy.p50, busy.p99, busy.max, ratio, ratio <= 2 ? 'yes' : 'NO'];
      }),
    );
    // The two halves of the busy phase: extracting (the worker parses, the inference workers embed) and storing the
    // drafts (commits on the main thread), split at the hub's extractMs.
    const split = started + report.stats.extractMs;
    const phases = (samples: Sample[]) => ({ extracting: stat(samples.filter((s) => s.at < split)), storing: stat(samples.filter((s) => s.at >= split)) });
    const byPhase = { message: phases(busyMessages), search: phases(busySearches) };
    printTable(
      'During the extraction, by phase',
      ['request', 'extracting n', 'p50 ms', 'p99 ms', 'storing n', 'p50 ms', 'p99 ms'],
      (['message', 'search'] as const).map((name) => {
        const { extracting, storing } = byPhase[name];
        return [name, extracting.count, extracting.p50, extracting.p99, storing.count, storing.p50, storing.p99];
      }),
    );
    console.log(`load average (1 min): ${idleLoad.toFixed(2)} idle phase, ${busyLoad.toFixed(2)} after the extraction, on ${machine.cores} cores`);
    console.log(`extraction: ${(report.stats.extractMs / 1000).toFixed(1)} s extracting, ${(report.stats.totalMs / 1000).toFixed(1)} s in all, ${report.stats.drafts.toLocaleString('en-US')} drafts`);
    const file = writeResults('extract-load', {
      benchmark: 'extract-load',
      machine,
      build,
      document: { bytes: Buffer.byteLength(text), words },
      loadAverage: { idle: idleLoad, busy: busyLoad },
      extraction: { seconds: extractSeconds, memories: report.stored.length, stats: report.stats },
      latency: rows,
      busyByPhase: byPhase,
    });
    console.log(`Results: ${path.relative(repoRoot, file)}`);
  } finally {
    const { profile } = await hub.stop();
    if (profile) console.log(`CPU profile of the hub's main thread: ${profile}`);
    keepAlive.destroy();
  }
}

/** The bench/run.ts suite: `npm run bench -- extract-load [...]`. */
export const suite = {
  description,
  async run(argv: string[]): Promise<number> {
    const { values } = parseArgs({ args: argv, options: { mb: { type: 'string' }, 'idle-seconds': { type: 'string' }, 'no-build': { type: 'boolean' }, profile: { type: 'string' }, entry: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      console.log(`extract-load: ${description}`);
      return 0;
    }
    await run({ mb: Number(values.mb ?? 2), idleSeconds: Number(values['idle-seconds'] ?? 10), build: !values['no-build'], ...(values.profile ? { profileDir: path.resolve(values.profile) } : {}), ...(values.entry ? { entry: path.resolve(values.entry) } : {}) });
    return 0;
  },
};

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await suite.run(process.argv.slice(2));
}
