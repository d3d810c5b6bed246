/**
 * The memory engine benchmark: `npm run bench -- memory [options]`.
 *
 * End to end against a real hub process (node out/main/headless.js, fresh temp data dir, --port 0), over HTTP with
 * an agent token, embedding included in every number:
 *
 * | phase      | what |
 * |---|---|
 * | single     | one store in flight at a time on an empty engine (warm-up excluded): client round trip p50/p99 |
 * | concurrent | many single stores in flight at once (the engine groups them: one ONNX run + one commit per group) |
 * | batched    | POST {memories:[…]} batches of 100–500 (a few in flight) up to 100,000 memories: memories/s, by segment |
 * | ivf        | waits for the background IVF build (stats says ivf, size matches, no build child, hub idle; below
 * |            | 20,000 memories the index stays flat and only the size is awaited) |
 * | search     | distinct realistic queries, one in flight, at 100,000 memories: p50/p99 (client and hub's tookMs) |
 * | single@N   | one store in flight again, at 100,000 memories (dedupe against the IVF index) |
 * | recall     | after the hub stops: its saved vector index reopened here, recall@10 vs an exact scan (optional); |
 * |            | and the near-duplicate check (edited copies of stored notes) against exact search and FAISS's |
 *
 * Texts are composed from seeded vocabularies (people, components, files, errors, causes, decisions…) into 8–30-word
 * developer notes of six kinds; all distinct. Queries are questions composed the same way (never a stored text).
 * Prints a metric | target | measured | pass/fail table and writes bench/results/memory-<timestamp>.json.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { MemorySearchResult, MemoryStats, StoredMemory } from '../src/shared/memory-protocol';
import { ensureBuilt, snapshotBuild, startHub, type BuildState, type RunningHub } from './lib/hub-process';
import { machineFacts, machineLine } from './lib/machine';
import { repoRoot } from './lib/paths';
import { CpuMeter, memoryStatus, sleep, waitForQuiet, waitForQuietMachine } from './lib/proc';
import { summarizeProfile, type ProfileSummary } from './lib/profile';
import { resultsDir, timestampForFile, writeResults } from './lib/results';
import { histogram, histogramLine, summarize, type Summary } from './lib/stats';
import { fmt, fmtBytes, printTable, type SummaryRow } from './lib/table';
import { mulberry32 } from '../test/support/seeded-random';
import { HUB_SUITE_OPTIONS, intOption } from './lib/options';

export const description = 'memory engine end to end over HTTP: single and batched stores, grouped concurrent stores, search at 100,000 memories';

const USAGE = `Usage: npm run bench -- memory [options]

  --memories N        memories stored before searching (100000)
  --single N          sequential single stores measured, on the empty engine and again at N memories (300)
  --concurrent N      single stores sent with many in flight (3000)
  --clients N         single stores in flight in the concurrent phase (64)
  --batch-min N       smallest batch of the batched phase (100)
  --batch-max N       largest batch of the batched phase (500)
  --batch-inflight N  batch requests in flight (2)
  --queries N         distinct search queries measured (1000)
  --k N               hits per search (10)
  --recall-queries N  queries for recall@10 of the saved vector index vs exact (100; 0 skips)
  --ivf-timeout S     longest wait for the background IVF build (240)
  --stores-only       stop after the store phases (single, concurrent, batched): no IVF wait, search or recall
  --quiet-wait S      wait up to S seconds before each phase for other processes to go quiet (10; 0: never)
  --quick             10,000 memories, fewer samples (a smoke run, not a measurement)
  --profile           run the hub under --cpu-prof and print its top self-time functions
  --no-build          measure out/ as it is, even if stale (warns); default: \`npm run build\` when stale
  --hub-entry FILE    run this headless.js instead of out/main/headless.js
  --data-root DIR     make the hub's data directory here (default: the OS temp dir)
  --keep-data         keep the hub's data directory
  --strict            exit 1 when a target is missed`;

interface Options {
  memories: number;
  single: number;
  concurrent: number;
  clients: number;
  batchMin: number;
  batchMax: number;
  batchInflight: number;
  queries: number;
  k: number;
  recallQueries: number;
  ivfTimeoutMs: number;
  quietWaitMs: number;
  quick: boolean;
  profile: boolean;
  build: boolean;
  hubEntry: string | undefined;
  dataRoot: string | undefined;
  keepData: boolean;
  strict: boolean;
  storesOnly: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...HUB_SUITE_OPTIONS,
      memories: { type: 'string' },
      single: { type: 'string' },
      concurrent: { type: 'string' },
      clients: { type: 'string' },
      'batch-min': { type: 'string' },
      'batch-max': { type: 'string' },
      'batch-inflight': { type: 'string' },
      queries: { type: 'string' },
      k: { type: 'string' },
      'recall-queries': { type: 'string' },
      'ivf-timeout': { type: 'string' },
      'stores-only': { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  const quick = values.quick ?? false;
  const int = intOption;
  const options: Options = {
    memories: int('memories', values.memories, quick ? 10_000 : 100_000, 1000),
    single: int('single', values.single, quick ? 100 : 300),
    concurrent: int('concurrent', values.concurrent, quick ? 1000 : 3000),
    clients: int('clients', values.clients, 64),
    batchMin: int('batch-min', values['batch-min'], 100),
    batchMax: int('batch-max', values['batch-max'], 500),
    batchInflight: int('batch-inflight', values['batch-inflight'], 2),
    queries: int('queries', values.queries, quick ? 200 : 1000),
    k: int('k', values.k, 10),
    recallQueries: int('recall-queries', values['recall-queries'], quick ? 30 : 100, 0),
    ivfTimeoutMs: int('ivf-timeout', values['ivf-timeout'], 240, 1) * 1000,
    quietWaitMs: int('quiet-wait', values['quiet-wait'], 10, 0) * 1000,
    quick,
    profile: values.profile ?? false,
    build: !(values['no-build'] ?? false),
    hubEntry: values['hub-entry'],
    dataRoot: values['data-root'],
    keepData: values['keep-data'] ?? false,
    strict: values.strict ?? false,
    storesOnly: values['stores-only'] ?? false,
  };
  if (options.batchMax < options.batchMin) throw new Error('--batch-max must be >= --batch-min');
  if (options.k > 200) throw new Error('--k must be <= 200 (the API maximum)');
  return options;
}

// ---------------------------------------------------------------------------------------------------------------
// Realistic texts, composed from seeded vocabularies

const prng = mulberry32;

const PEOPLE = ['Ana', 'Bilal', 'Chen', 'Dara', 'Elif', 'Femi', 'Greta', 'Hiro', 'Ines', 'Jonas', 'Kofi', 'Lena', 'Mateo', 'Nadia', 'Oskar', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tariq', 'Uma', 'Viktor', 'Wen', 'Yara', 'Zoe', 'Marek', 'Aiko', 'Farid', 'Leila', 'Tomás'];
const COMPONENTS = ['message store', 'agent registry', 'websocket gateway', 'memory engine', 'vector index', 'config loader', 'backup scheduler', 'cockpit dashboard', 'workflow runner', 'rate limiter', 'token service', 'metrics collector', 'file watcher', 'search endpoint', 'migration runner', 'file mailbox', 'presence tracker', 'sentence encoder', 'keyword index', 'restore wizard', 'CLI', 'HTTP router', 'auth middleware', 'retention job', 'snapshot uploader', 'event bus', 'live feed', 'settings page', 'log shipper', 'plugin loader', 'installer', 'update checker', 'crash reporter', 'tray icon', 'agent client', 'notification panel', 'diff viewer', 'terminal pane', 'project switcher', 'onboarding flow'];
const AREAS = ['main', 'main/messaging', 'main/agents', 'main/memory', 'main/memory/vector', 'main/backup', 'main/api', 'main/config', 'main/monitor', 'main/db', 'renderer/src/views', 'renderer/src/components', 'shared', 'cli', 'preload', 'main/embedding'];
const MODULES = ['store', 'service', 'http', 'registry', 'gateway', 'index', 'builder', 'files', 'scheduler', 'engine', 'metrics', 'schema', 'migrations', 'auth', 'queue', 'cache', 'retry', 'watcher', 'protocol', 'router', 'tokenizer', 'paths', 'security', 'snapshot'];
const LIBS = ['better-sqlite3', 'fastify', 'zod', 'ws', 'chokidar', 'onnxruntime-node', 'faiss-node', 'ulid', 'express', 'socket.io', 'LevelDB', 'Postgres', 'Redis', 'a plain JSON file', 'hnswlib', 'undici', 'pino', 'a worker thread', 'DuckDB', 'protobuf', 'msgpack', 'RxJS', 'Electron IPC', 'a Rust sidecar'];
const ERRORS = ['SQLITE_BUSY', 'ECONNRESET', 'ETIMEDOUT', 'EADDRINUSE', 'ENOSPC', 'EMFILE', 'EPERM on Windows', 'a TypeError reading undefined', 'a RangeError for an invalid array length', 'an unhandled promise rejection', 'a 429 from the upstream API', 'a checksum mismatch', 'unexpected end of JSON input', 'a heap out of memory crash', 'a deadlock between two transactions', 'a 401 after token rotation', 'a segfault inside the native addon', 'a stack overflow in the recursive walk', 'a foreign key violation', 'a UNIQUE constraint failure', 'an ERR_STREAM_PREMATURE_CLOSE', 'a CORS rejection', 'an invalid UTF-8 sequence', 'a zod validation error'];
const CONDITIONS = ['the database is locked by the backup', 'two agents reconnect at once', 'the payload exceeds 64 KB', 'the clock jumps backwards', 'the index is being rebuilt', 'the user closes the window', 'the disk is almost full', 'a migration is still running', 'the encoder is still loading', 'the socket buffer is full', 'the laptop wakes from sleep', 'the config file is edited by hand', 'a snapshot is restored in place', 'the network drops for a few seconds', 'hundreds of files change in one commit', 'the agent sends an empty batch', 'the cockpit tab stays open overnight', 'the sync folder is on a network drive', 'the antivirus scans the data folder', 'the user renames a project', 'two hubs start on the same port', 'the home directory has a space in it', 'a tag contains an emoji', 'an agent disconnects mid-transfer', 'the machine runs on battery saver', 'the proxy strips the auth header', 'the repository has 50,000 files', 'the locale is Turkish'];
const CAUSES = ['a missing await in the transaction callback', 'an off-by-one error in the pagination cursor', 'a stale prepared statement after the migration', 'the default timeout of five seconds', 'a race between the flush timer and shutdown', 'the JSON schema accepting empty strings', 'the cache key ignoring the project id', 'a listener registered twice after reconnect', 'integer overflow in the sequence counter', 'the watcher firing before the rename completes', 'a shared buffer reused across requests', 'timezone handling in the retention cutoff', 'an early return that skips the cleanup', 'the lock being released before the commit', 'a wrong default for the batch size', 'retrying without backoff', 'reading the whole file into memory', 'sorting by a string instead of a number', 'path.join on a Windows drive letter', 'a regex that backtracks on long lines', 'an fsync skipped on rename', 'comparing tokens with ===', 'a Map keyed by object identity', 'the fallback encoding being latin1'];
const VERBS = ['drops', 'duplicates', 'delays', 'rejects', 'reorders', 'caches', 'retries', 'truncates', 'serialises', 'batches', 'validates', 'indexes', 'leaks', 'double-counts', 'loses', 'throttles', 'corrupts', 'misroutes', 're-sends', 'mislabels'];
const OBJECTS = ['pending messages', 'heartbeats', 'vector updates', 'config changes', 'search results', 'agent tokens', 'backup snapshots', 'metric samples', 'workflow steps', 'file events', 'memory writes', 'presence updates', 'upload chunks', 'audit records', 'retry timers', 'session cookies', 'tag lists', 'model downloads', 'crash dumps', 'project settings', 'log lines', 'diff hunks'];
const REASONS = ['it halves the p99 latency', 'the old one could not handle concurrent writers', 'it removes a native dependency', 'the licence is simpler', 'it survives a crash without losing data', 'the maintainers stopped releasing fixes', 'it keeps memory flat under load', 'our tests were flaky with the old one', 'it works the same on Windows and macOS', 'it cuts the install size by half', 'the team already knows it well', 'it needs no background service', 'it streams instead of buffering', 'the security review flagged the old one'];
const MILESTONES = ['the 0.3 release', 'the beta', 'Friday', 'the next sprint', 'the security review', 'the demo on Monday', 'the end of the month', 'the Windows installer ships', 'the load test', 'we onboard the second team', 'the code freeze', 'the conference talk'];
const ENVS = ['staging', 'production', 'local', 'CI', 'preview', 'benchmark', 'nightly', 'demo'];
const SERVICES = ['database', 'hub API', 'metrics endpoint', 'websocket relay', 'backup target', 'model server', 'cache', 'search service', 'auth proxy', 'mail relay', 'artifact store', 'license server'];
const FACTS = ['needs the cockpit token', 'restarts every night at 03:00', 'keeps thirty days of logs', 'is only reachable over the VPN', 'uses TLS with a self-signed certificate', 'runs with two worker threads', 'rejects requests over 10 MB', 'is shared by every project', 'stores its data under /var/lib/devenviro', 'is owned by the platform team', 'has no backups yet', 'is rate-limited to 50 requests per second'];
const STORAGE = ['SQLite with WAL', 'the FAISS files', 'a JSON file per agent', 'the backup folder', 'memory only', 'an append-only log', 'the OS keychain', 'a temp directory', 'IndexedDB in the renderer', 'the user config folder'];
const TASK_VERBS = ['add tests for', 'remove the workaround for', 'document', 'profile', 'rename', 'split up', 'add metrics for', 'rate-limit', 'migrate', 'deduplicate', 'add a retry around', 'write a fuzz test for', 'benchmark', 'simplify'];
const SYMBOLS = ['createApp', 'MessageStore.append', 'AgentRegistry.register', 'loadConfig', 'VectorIndex.search', 'groupCommit', 'openDatabase', 'MemoryService.store', 'parseHubArgs', 'startWatcher', 'rotateToken', 'BackupScheduler.run', 'RealtimeGateway.deliver', 'textHash', 'scoreCandidate', 'extractMemories', 'writeFileDurableSync', 'Metrics.record', 'FileMailbox.start', 'restoreInPlace', 'runIvfBuild', 'ensureDefaultEncoder', 'checkVectorIndex', 'createApiServer'];
const CODE_CHANGES = ['returns early for empty input', 'takes an AbortSignal', 'streams rows instead of loading them all', 'validates its arguments with zod', 'reuses one prepared statement', 'runs inside a single transaction', 'logs the request id', 'accepts a project filter', 'yields to the event loop every 256 items', 'uses a monotonic clock', 'throws a typed HubError', 'caps its output at 200 items', 'retries twice with jitter', 'closes its file handles in finally'];
const BENEFITS = ['callers cannot forget to close it', 'a slow disk no longer blocks the event loop', 'the error reaches the agent intact', 'tests run twice as fast', 'the cockpit shows the real cause', 'a crash leaves nothing half written', 'memory stays flat on big inputs', 'the behaviour matches the docs', 'Windows paths work', 'cancelled requests stop early'];
const MACHINES = ['the 2-core CI runner', 'an M2 laptop', 'the old ThinkPad', 'a Raspberry Pi 5', 'the build server', 'a Windows VM', 'the staging box', 'a Chromebook in Linux mode'];
const OPENERS = ['Heads-up from {person}:', 'Standup notes:', 'Note to self:', 'While reviewing PR #{n},', 'In the retro we agreed:', 'Pairing with {person}:', 'Found during the load test:', 'Reminder:', 'Quick finding:', 'From the incident channel:', 'After the outage on {day},', 'Per {person},', 'For the next on-call:', 'Design review outcome:', 'Learned the hard way:', 'On {day}'];
const TAILS = ['Ticket DEV-{n}.', '{person} signed off on it.', 'Needs a regression test.', 'Not reproducible on {machine}.', 'Happens about {n} times a day.', 'Blocked on {person}.', 'Low priority for now.', 'Users noticed it.', 'Reverted once already.', 'Worth a blog post.', 'Discussed with {person} on {day}.', 'Check the logs from {day}.', 'Keep an eye on it.', 'Docs need an update too.'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'the weekend', 'release day', 'March 3', 'June 12', 'September 30'];
const TAGS = ['bug', 'perf', 'decision', 'infra', 'security', 'ux', 'tests', 'docs', 'tech-debt', 'release', 'oncall', 'storage', 'api', 'memory'];

interface Draft {
  text: string;
  kind: 'fact' | 'decision' | 'task' | 'error' | 'code' | 'note';
  tags: string[];
}

type Pick = <T>(list: readonly T[]) => T;
type Make = (p: Pick, n: (lo: number, hi: number) => number, file: () => string) => string;

const TEMPLATES: Array<{ kind: Draft['kind']; make: Make }> = [
  { kind: 'decision', make: (p) => `Decided with ${p(PEOPLE)} to move the ${p(COMPONENTS)} from ${p(LIBS)} to ${p(LIBS)} because ${p(REASONS)}.` },
  { kind: 'decision', make: (p, n) => `We keep the ${p(COMPONENTS)} on ${p(LIBS)} until ${p(MILESTONES)}; it took ${n(2, 900)} ms per request when ${p(CONDITIONS)}.` },
  { kind: 'decision', make: (p) => `No more ${p(LIBS)} in the ${p(COMPONENTS)}: ${p(REASONS)}, and ${p(CAUSES)} bit us twice.` },
  { kind: 'decision', make: (p) => `${p(PEOPLE)} and ${p(PEOPLE)} chose ${p(STORAGE)} for ${p(OBJECTS)} since ${p(REASONS)}.` },
  { kind: 'error', make: (p, n, file) => `${cap(p(ERRORS))} in ${file()}:${n(12, 980)} when ${p(CONDITIONS)}; the root cause was ${p(CAUSES)}.` },
  { kind: 'error', make: (p, n) => `The ${p(COMPONENTS)} ${p(VERBS)} ${p(OBJECTS)} with ${p(ERRORS)} after ${n(2, 90)} minutes when ${p(CONDITIONS)}.` },
  { kind: 'error', make: (p) => `Crash: ${p(ERRORS)} from the ${p(COMPONENTS)} while ${p(CONDITIONS).replace(/^the /, 'the ')}, traced to ${p(CAUSES)}.` },
  { kind: 'fact', make: (p, n) => `The ${p(ENVS)} ${p(SERVICES)} behind the ${p(COMPONENTS)} listens on port ${n(1025, 65000)} and ${p(FACTS)}.` },
  { kind: 'fact', make: (p, n) => `The ${p(COMPONENTS)} keeps its ${p(OBJECTS)} in ${p(STORAGE)} for ${n(1, 90)} days; the ${p(COMPONENTS)} reads them on start.` },
  { kind: 'fact', make: (p) => `Only the ${p(COMPONENTS)} may write ${p(OBJECTS)}; the ${p(ENVS)} ${p(SERVICES)} ${p(FACTS)}.` },
  { kind: 'task', make: (p, _n, file) => `TODO for ${p(PEOPLE)}: ${p(TASK_VERBS)} the ${p(OBJECTS)} handling in ${file()} before ${p(MILESTONES)}.` },
  { kind: 'task', make: (p, n) => `Follow up on issue #${n(10, 3000)}: the ${p(COMPONENTS)} ${p(VERBS)} ${p(OBJECTS)} when ${p(CONDITIONS)}.` },
  { kind: 'task', make: (p) => `Someone should ${p(TASK_VERBS)} ${p(SYMBOLS)} so the ${p(COMPONENTS)} stops ${p(VERBS).replace(/s$/, 'ing').replace(/eing$/, 'ing')} ${p(OBJECTS)}.` },
  { kind: 'note', make: (p) => `${cap(p(PEOPLE))} noticed that the ${p(COMPONENTS)} ${p(VERBS)} ${p(OBJECTS)} when ${p(CONDITIONS)}, probably ${p(CAUSES)}.` },
  { kind: 'note', make: (p, n) => `Benchmark on ${p(MACHINES)}: the ${p(COMPONENTS)} handles ${n(50, 20000)} ${p(OBJECTS)} per second while ${p(CONDITIONS)}.` },
  { kind: 'note', make: (p) => `Interesting: ${p(LIBS)} ${p(VERBS)} ${p(OBJECTS)} silently if ${p(CONDITIONS)}.` },
  { kind: 'code', make: (p, _n, file) => `${p(SYMBOLS)} in ${file()} now ${p(CODE_CHANGES)}, so ${p(BENEFITS)}.` },
  { kind: 'code', make: (p, _n, file) => `Refactored ${p(SYMBOLS)} in ${file()}; the ${p(COMPONENTS)} calls it for ${p(OBJECTS)} and ${p(BENEFITS)}.` },
  { kind: 'code', make: (p) => `${p(SYMBOLS)} must not be called from the ${p(COMPONENTS)} when ${p(CONDITIONS)}: ${p(CAUSES)}.` },
];

function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function normalised(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

/** An endless stream of distinct developer notes (8–30 words), the same for the same seed. */
export class NoteGenerator {
  private readonly random: () => number;
  private readonly seen = new Set<string>();
  readonly pick: Pick;

  constructor(seed = 20_261_125) {
    this.random = prng(seed);
    this.pick = <T>(list: readonly T[]): T => list[Math.floor(this.random() * list.length)]!;
  }

  next(): Draft {
    const n = (lo: number, hi: number) => lo + Math.floor(this.random() * (hi - lo + 1));
    const file = () => `src/${this.pick(AREAS)}/${this.pick(MODULES)}.ts`;
    const fill = (frame: string) =>
      frame.replace(/\{(\w+)\}/g, (_, slot: string) =>
        slot === 'person' ? this.pick(PEOPLE) : slot === 'day' ? this.pick(DAYS) : slot === 'machine' ? this.pick(MACHINES) : String(n(2, 999)),
      );
    for (;;) {
      const template = this.pick(TEMPLATES);
      let text = template.make(this.pick, n, file);
      if (this.random() < 0.45) {
        const opener = fill(this.pick(OPENERS));
        text = `${opener} ${opener.endsWith(',') ? text.charAt(0).toLowerCase() + text.slice(1) : text}`;
      }
      if (this.random() < 0.5) text = `${text} ${fill(this.pick(TAILS))}`;
      const words = text.split(/\s+/).length;
      const key = normalised(text);
      if (words < 8 || words > 30 || this.seen.has(key)) continue;
      this.seen.add(key);
      const tags = [this.pick(TAGS)];
      if (this.random() < 0.4) tags.push(this.pick(TAGS));
      return { text, kind: template.kind, tags: [...new Set(tags)] };
    }
  }

  take(count: number): Draft[] {
    return Array.from({ length: count }, () => this.next());
  }
}

/** Distinct search questions, phrased the way an agent asks (never a stored text). */
export function makeQueries(count: number, seed = 7_301): string[] {
  const random = prng(seed);
  const p = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const forms: Array<() => string> = [
    () => `why does the ${p(COMPONENTS)} ${p(VERBS).replace(/s$/, '')} ${p(OBJECTS)} when ${p(CONDITIONS)}`,
    () => `what port does the ${p(ENVS)} ${p(SERVICES)} use`,
    () => `${p(ERRORS)} in the ${p(COMPONENTS)}`,
    () => `who decided to move the ${p(COMPONENTS)} to ${p(LIBS)}`,
    () => `how do we ${p(TASK_VERBS)} ${p(OBJECTS)} in the ${p(COMPONENTS)}`,
    () => `benchmark numbers for the ${p(COMPONENTS)} on ${p(MACHINES)}`,
    () => `root cause of ${p(ERRORS)} when ${p(CONDITIONS)}`,
    () => `what changed in ${p(SYMBOLS)}`,
    () => `where does the ${p(COMPONENTS)} store ${p(OBJECTS)}`,
    () => `open tasks for ${p(PEOPLE)} before ${p(MILESTONES)}`,
    () => `is ${p(CAUSES)} why the ${p(COMPONENTS)} ${p(VERBS)} ${p(OBJECTS)}`,
    () => `src/${p(AREAS)}/${p(MODULES)}.ts ${p(ERRORS)}`,
  ];
  const out = new Set<string>();
  while (out.size < count) out.add(p(forms)());
  return [...out];
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP (keep-alive, as an agent's client would)

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

interface Reply<T> {
  status: number;
  body: T;
  ms: number;
}

function call<T>(baseUrl: string, method: string, route: string, token: string | null, body?: unknown): Promise<Reply<T>> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${baseUrl}/api/v1${route}`,
      {
        method,
        agent,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const ms = performance.now() - started;
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // Not JSON (metrics): the text itself.
          }
          resolve({ status: response.statusCode ?? 0, body: parsed as T, ms });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

class MemoryClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    private readonly cockpitToken: string,
  ) {}

  async store(drafts: Draft[]): Promise<{ ms: number; stored: StoredMemory[] }> {
    const body = drafts.length === 1 ? drafts[0] : { memories: drafts };
    const reply = await call<{ stored: StoredMemory[] }>(this.baseUrl, 'POST', '/memory/store', this.token, body);
    if (reply.status !== 201) throw new Error(`store: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
    return { ms: reply.ms, stored: reply.body.stored };
  }

  async search(q: string, k: number): Promise<{ ms: number; result: MemorySearchResult }> {
    const reply = await call<MemorySearchResult>(this.baseUrl, 'GET', `/memory/search?q=${encodeURIComponent(q)}&k=${k}`, this.token);
    if (reply.status !== 200) throw new Error(`search: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
    return { ms: reply.ms, result: reply.body };
  }

  async stats(): Promise<MemoryStats> {
    const reply = await call<MemoryStats>(this.baseUrl, 'GET', '/memory/stats', this.token);
    if (reply.status !== 200) throw new Error(`stats: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
    return reply.body;
  }

  /** The hub's own operation counters and latency sums (Prometheus text, cockpit token); null until ready. */
  async operations(): Promise<Record<string, { count: number; sumMs: number }> | null> {
    const reply = await call<string>(this.baseUrl, 'GET', '/metrics', this.cockpitToken);
    if (reply.status !== 200 || typeof reply.body !== 'string') return null;
    const out: Record<string, { count: number; sumMs: number }> = {};
    for (const match of reply.body.matchAll(/^devenviro_operation_latency_seconds_(count|sum)\{operation="(\w+)"\} (\S+)$/gm)) {
      const entry = (out[match[2]!] ??= { count: 0, sumMs: 0 });
      if (match[1] === 'count') entry.count = Number(match[3]);
      else entry.sumMs = Number(match[3]) * 1000;
    }
    return out;
  }
}

type Operations = NonNullable<Awaited<ReturnType<MemoryClient['operations']>>>;

/** What the hub itself spent between two metric readings: embed runs, store and search calls. */
function operationDelta(before: Operations | null, after: Operations | null): Record<string, { count: number; sumMs: number }> | null {
  if (!before || !after) return null;
  const out: Record<string, { count: number; sumMs: number }> = {};
  for (const [op, now] of Object.entries(after)) {
    const was = before[op] ?? { count: 0, sumMs: 0 };
    out[op] = { count: now.count - was.count, sumMs: now.sumMs - was.sumMs };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Result shapes

interface StorePhase {
  memories: number;
  requests: number;
  wallMs: number;
  perSecond: number;
  latency: Summary;
  histogram: string;
  /** Stores that reinforced an existing memory (the same fact) instead of adding one. */
  reinforced: number;
  /** Stores that superseded an existing memory (a newer value of it): a memory is added, the old one is history. */
  superseding: number;
  /** The hub's ONNX runs during the phase, and memories per run (grouping). */
  embedRuns: number | null;
  memoriesPerEmbedRun: number | null;
  embedMs: number | null;
  cpuPercent: Record<string, number | null>;
  load1: number;
}

interface BatchedPhase extends StorePhase {
  inflight: number;
  batchSizes: { min: number; max: number };
  /** memories/s by stretch of the load (the index is exact below 20,000, IVF above). */
  segments: Array<{ from: number; to: number; seconds: number; perSecond: number }>;
}

interface SearchPhase {
  memories: number;
  queries: number;
  k: number;
  latency: Summary;
  hubTookMs: Summary;
  histogram: string;
  hitsPerQuery: number;
  /** Share of returned hits that came from the vector side / the keyword side. */
  vectorShare: number;
  keywordShare: number;
  cpuPercent: Record<string, number | null>;
  load1: number;
}

interface IvfWait {
  waitedMs: number;
  kind: string;
  size: number;
  total: number;
  builds: number;
  timedOut: boolean;
}

interface RecallResult {
  queries: number;
  k: number;
  recallAt10: number;
  indexKind: string;
  nlist?: number;
  nprobe?: number;
  estimatedRecall?: number;
  openMs: number;
  exactMsPerQuery: number;
  indexMsPerQuery: number;
  /** Near-duplicate checks: edited copies of stored notes, their stored neighbours at cosine >= 0.95 found. */
  nearDuplicates: {
    queries: number;
    pairs: number;
    /** searchCloseBatch, as stores use it (int8 scan of the nearest lists). */
    close: { found: number; msPerQuery: number };
    /** searchBatch: FAISS's IVF search at its nprobe, what stores used before. */
    faiss: { found: number; msPerQuery: number };
  };
}

interface Results {
  suite: 'memory';
  startedAt: string;
  finishedAt?: string;
  machine: ReturnType<typeof machineFacts>;
  loadAverage: { start: number[]; end?: number[] };
  options: Options;
  build: BuildState;
  hub: { pid?: number; startMs?: number; encoder?: string; dimension?: number };
  single?: StorePhase;
  concurrent?: StorePhase;
  batched?: BatchedPhase;
  loadSeconds?: number;
  ivf?: IvfWait;
  search?: SearchPhase;
  singleAtScale?: StorePhase;
  recall?: RecallResult;
  rss: { afterLoad?: number; afterIvf?: number; afterSearch?: number; peak?: number };
  finalStats?: MemoryStats;
  profiles: ProfileSummary[];
  errors: Record<string, string>;
  summary: SummaryRow[];
}

// ---------------------------------------------------------------------------------------------------------------

let quietWaitMs = 10_000;
/** The hub's default VectorIndexTuning.ivfThreshold: below it the index stays exact (flat) and no IVF is awaited. */
const IVF_THRESHOLD = 20_000;

export async function run(argv: string[] = []): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  quietWaitMs = options.quietWaitMs;
  const started = new Date();
  const machine = machineFacts();
  console.log(`Memory benchmark — ${machineLine(machine)}`);
  if (options.quick) console.log('--quick: a smoke run with small counts; do not quote these numbers.');
  const build: BuildState = options.hubEntry ? { built: false, stale: null, builtAt: null } : ensureBuilt(options.build);
  const snapshot = snapshotBuild(options.hubEntry);
  const results: Results = {
    suite: 'memory',
    startedAt: started.toISOString(),
    machine,
    loadAverage: { start: os.loadavg().map((l) => Number(l.toFixed(2))) },
    options,
    build,
    hub: {},
    rss: {},
    profiles: [],
    errors: {},
    summary: [],
  };
  const attempt = async (name: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (error) {
      results.errors[name] = (error as Error).stack ?? String(error);
      console.error(`\n[${name}] failed: ${(error as Error).message}`);
      return false;
    }
  };

  let hub: RunningHub | undefined;
  let dataDir: string | undefined;
  // Ctrl-C (bench/lib/children kills the hub and exits): leave no build copy or 100k-memory data dir behind.
  const cleanUp = () => {
    snapshot.remove();
    if (dataDir && !options.keepData) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);
  try {
    const hubStarted = performance.now();
    hub = await startHub({
      entry: snapshot.entry,
      label: 'memory',
      // Kept until the recall check has read the saved index; removed below unless --keep-data.
      keepData: true,
      dataRoot: options.dataRoot,
      cpuProfDir: options.profile ? path.join(resultsDir, `profiles-${timestampForFile(started)}`) : undefined,
    });
    dataDir = hub.dataDir;
    results.hub.pid = hub.pid;
    console.log(`\nhub pid ${hub.pid}, data ${hub.dataDir}`);
    const register = await call<{ agent: { id: string }; token: string }>(hub.baseUrl, 'POST', '/agents/register', null, { name: 'bench-memory', project: 'bench' });
    if (register.status !== 201) throw new Error(`register: HTTP ${register.status} ${JSON.stringify(register.body)}`);
    const client = new MemoryClient(hub.baseUrl, register.body.token, hub.cockpitToken);
    // The first memory request waits for the encoder and the engine to open.
    const opened = await client.stats();
    results.hub.startMs = performance.now() - hubStarted;
    results.hub.encoder = opened.index.model;
    results.hub.dimension = opened.index.dimension;
    console.log(`memory engine ready after ${fmt(results.hub.startMs)} ms: ${opened.index.model}, ${opened.index.dimension}-d`);
    const notes = new NoteGenerator();
    const pid = hub.pid;

    await attempt('single', async () => {
      // Warm-up: the first ONNX runs, JIT, SQLite page cache.
      for (const draft of notes.take(30)) await client.store([draft]);
      await settle(pid, 'single');
      results.single = await singleStores(client, notes, options.single, pid);
      logStore('single (empty engine)', results.single);
    });

    await attempt('concurrent', async () => {
      await settle(pid, 'concurrent');
      results.concurrent = await concurrentStores(client, notes, options.concurrent, options.clients, pid);
      logStore(`concurrent singles (${options.clients} in flight)`, results.concurrent);
    });

    const loaded = await attempt('batched', async () => {
      await settle(pid, 'batched');
      const already = (await client.stats()).total;
      results.batched = await batchedStores(client, notes, options, already, pid);
      logStore(`batched (${options.batchMin}–${options.batchMax} per request, ${options.batchInflight} in flight)`, results.batched);
      results.loadSeconds = ((results.single?.wallMs ?? 0) + (results.concurrent?.wallMs ?? 0) + results.batched.wallMs) / 1000;
      results.rss.afterLoad = memoryStatus(pid)?.rss;
    });

    if (loaded && !options.storesOnly) {
      await attempt('ivf', async () => {
        results.ivf = await waitForIvf(client, pid, options.memories >= IVF_THRESHOLD ? 'ivf' : 'flat', options);
        results.rss.afterIvf = memoryStatus(pid)?.rss;
        console.log(
          `[ivf] index ${results.ivf.kind}, ${results.ivf.size} vectors for ${results.ivf.total} memories after ${fmt(results.ivf.waitedMs / 1000)} s` +
            (results.ivf.timedOut ? ' (TIMED OUT)' : ''),
        );
      });
      await attempt('search', async () => {
        await settle(pid, 'search');
        results.search = await searches(client, options, pid);
        results.rss.afterSearch = memoryStatus(pid)?.rss;
        const s = results.search;
        console.log(
          `[search] ${s.queries} queries at ${s.memories} memories: p50 ${fmt(s.latency.p50)} ms, p99 ${fmt(s.latency.p99)} ms, max ${fmt(s.latency.max)} ms ` +
            `(hub tookMs p50 ${fmt(s.hubTookMs.p50)}, p99 ${fmt(s.hubTookMs.p99)}); ${s.histogram}`,
        );
      });
      await attempt('single-at-scale', async () => {
        await settle(pid, 'single-at-scale');
        results.singleAtScale = await singleStores(client, notes, options.single, pid);
        logStore(`single (at ${fmt(results.search?.memories ?? options.memories)} memories)`, results.singleAtScale);
      });
    }
    results.finalStats = await client.stats().catch(() => undefined);
    results.rss.peak = memoryStatus(pid)?.hwm;
  } catch (error) {
    results.errors.setup = (error as Error).stack ?? String(error);
    console.error(`\n[setup] failed: ${(error as Error).message}`);
  } finally {
    if (hub) {
      const { code, profile } = await hub.stop();
      if (code !== 0) console.warn(`the hub exited with ${code}; its last output:\n${hub.output().slice(-3000)}`);
      if (profile) {
        try {
          results.profiles.push(summarizeProfile(profile, 30));
        } catch (error) {
          console.warn(`could not read the profile ${profile}: ${(error as Error).message}`);
        }
      }
    }
    snapshot.remove();
  }

  if (dataDir && options.recallQueries > 0 && results.batched && !options.storesOnly) {
    await attempt('recall', async () => {
      results.recall = await recallCheck(dataDir!, options);
      console.log(`[recall] recall@${results.recall.k} of the hub's saved ${results.recall.indexKind} index vs exact: ${fmt(results.recall.recallAt10)} (${results.recall.queries} queries)`);
    });
  }
  process.off('exit', cleanUp);
  if (dataDir && !options.keepData) rmSync(dataDir, { recursive: true, force: true });
  else if (dataDir) console.log(`data kept in ${dataDir}`);

  results.loadAverage.end = os.loadavg().map((l) => Number(l.toFixed(2)));
  results.summary = summaryRows(options, results);
  results.finishedAt = new Date().toISOString();
  printDetails(results);
  for (const profile of results.profiles) {
    printTable(
      `CPU profile of the hub ${path.relative(process.cwd(), profile.file)}: ${fmt(profile.busyMs)} ms busy of ${fmt(profile.durationMs)} ms; top self time`,
      ['self ms', 'self %', 'total %', 'function', 'where'],
      profile.top.map((r) => [r.selfMs, r.selfPercent, r.totalPercent, r.function, r.where]),
    );
  }
  printTable(
    `Summary (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s run, ${machine.cores} cores, load average ${results.loadAverage.start.join(' ')} at start, ${results.loadAverage.end.join(' ')} at end)`,
    ['metric', 'target', 'measured', 'pass/fail'],
    results.summary.map((r) => [r.metric, r.target, r.measured, r.verdict]),
  );
  console.log(machineLine(machine));
  const file = writeResults('memory', results, started);
  console.log(`\nResults: ${path.relative(process.cwd(), file)}`);
  const failed = results.summary.some((r) => r.verdict === 'ERROR' || (options.strict && r.verdict === 'FAIL'));
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Phases

async function settle(pid: number, what: string): Promise<void> {
  await waitForQuiet(pid, { timeoutMs: 30_000 });
  if (quietWaitMs === 0) return;
  const { othersPercent, waitedMs } = await waitForQuietMachine([pid, process.pid, ...childPids(pid)], { timeoutMs: quietWaitMs });
  if (othersPercent !== null && othersPercent > 25) {
    console.warn(`[${what}] other processes still use ${othersPercent}% CPU after ${fmt(waitedMs / 1000)} s; measuring anyway (see "others" in CPU)`);
  }
}

/** Stores that added no memory (a supersedes outcome adds one: the newer value). */
function countReinforced(stored: StoredMemory[]): number {
  return stored.filter((s) => s.outcome === 'reinforced').length;
}

async function storePhase(
  client: MemoryClient,
  pid: number,
  body: (record: (ms: number, stored: StoredMemory[]) => void) => Promise<void>,
): Promise<StorePhase> {
  const latencies: number[] = [];
  let memories = 0;
  let reinforced = 0;
  let superseding = 0;
  const before = await client.operations();
  const meter = new CpuMeter({ hub: pid, bench: process.pid });
  const started = performance.now();
  await body((ms, stored) => {
    latencies.push(ms);
    memories += stored.length;
    reinforced += countReinforced(stored);
    superseding += stored.filter((s) => s.outcome === 'supersedes').length;
  });
  const wallMs = performance.now() - started;
  const cpuPercent = meter.read();
  const ops = operationDelta(before, await client.operations());
  const embed = ops?.embed;
  return {
    memories,
    requests: latencies.length,
    wallMs,
    perSecond: (memories / wallMs) * 1000,
    latency: summarize(latencies),
    histogram: histogramLine(histogram(latencies, 0.5)),
    reinforced,
    superseding,
    embedRuns: embed ? embed.count : null,
    memoriesPerEmbedRun: embed && embed.count > 0 ? memories / embed.count : null,
    embedMs: embed ? embed.sumMs : null,
    cpuPercent,
    load1: os.loadavg()[0]!,
  };
}

function singleStores(client: MemoryClient, notes: NoteGenerator, count: number, pid: number): Promise<StorePhase> {
  const drafts = notes.take(count);
  return storePhase(client, pid, async (record) => {
    for (const draft of drafts) {
      const { ms, stored } = await client.store([draft]);
      record(ms, stored);
    }
  });
}

function concurrentStores(client: MemoryClient, notes: NoteGenerator, count: number, clients: number, pid: number): Promise<StorePhase> {
  const drafts = notes.take(count);
  return storePhase(client, pid, async (record) => {
    let next = 0;
    const worker = async () => {
      while (next < drafts.length) {
        const draft = drafts[next++]!;
        const { ms, stored } = await client.store([draft]);
        record(ms, stored);
      }
    };
    await Promise.all(Array.from({ length: clients }, worker));
  });
}

async function batchedStores(client: MemoryClient, notes: NoteGenerator, options: Options, already: number, pid: number): Promise<BatchedPhase> {
  const target = options.memories;
  const random = prng(99);
  // Progress marks (memories the hub holds, ms since start), for the rate by stretch of the load.
  const marks: Array<[number, number]> = [[already, 0]];
  let held = already;
  let planned = already;
  let lastLog = 0;
  let phaseStarted = 0;
  // Batches are made as they are sent, until the hub holds `target` memories: a text the engine folds into a
  // near-identical one (reinforced) does not count, so the load is topped up to the full count.
  const nextBatch = (): Draft[] | null => {
    if (planned >= target) return null;
    const size = Math.min(target - planned, options.batchMin + Math.floor(random() * (options.batchMax - options.batchMin + 1)));
    planned += size;
    return notes.take(size);
  };
  const phase = await storePhase(client, pid, async (record) => {
    phaseStarted = performance.now();
    const worker = async () => {
      for (let batch = nextBatch(); batch; batch = nextBatch()) {
        const reply = await client.store(batch);
        record(reply.ms, reply.stored);
        const reinforced = countReinforced(reply.stored);
        held += batch.length - reinforced;
        planned -= reinforced;
        const at = performance.now() - phaseStarted;
        marks.push([held, at]);
        if (at - lastLog > 10_000) {
          lastLog = at;
          console.log(`  [batched] ${held.toLocaleString('en-US')} memories after ${fmt(at / 1000)} s (${fmt(((held - already) / at) * 1000)}/s)`);
        }
      }
    };
    await Promise.all(Array.from({ length: options.batchInflight }, worker));
  });
  marks.sort((a, b) => a[1] - b[1]);
  const bounds = [already, ...[20_000, 40_000, 80_000].filter((b) => b > already && b < target), target];
  const markAt = (count: number) => marks.find(([n]) => n >= count) ?? marks[marks.length - 1]!;
  const segments = bounds.slice(1).map((to, i) => {
    const [fromCount, fromMs] = markAt(bounds[i]!);
    const [toCount, toMs] = markAt(to);
    const seconds = (toMs - fromMs) / 1000;
    return { from: fromCount, to: toCount, seconds, perSecond: seconds > 0 ? (toCount - fromCount) / seconds : NaN };
  });
  return { ...phase, inflight: options.batchInflight, batchSizes: { min: options.batchMin, max: options.batchMax }, segments };
}

/** Pids of the direct children of a process (the hub's IVF build runs in one). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // Not Linux, or the process is gone.
  }
  return out;
}

/**
 * Waits until the hub's index is IVF and holds every memory, no build child is running (a build past 20k, and
 * again at 40k and 80k, trains in a child process), and the hub is idle: searches must not share the CPU with a
 * build, nor see an index swapped in halfway.
 */
async function waitForIvf(client: MemoryClient, pid: number, kind: 'ivf' | 'flat', options: Options): Promise<IvfWait> {
  const started = performance.now();
  let builds = 0;
  let sawChild = false;
  let quietSince: number | null = null;
  for (;;) {
    const stats = await client.stats();
    const children = childPids(pid);
    if (children.length > 0 && !sawChild) builds++;
    sawChild = children.length > 0;
    const ready = stats.index.kind === kind && stats.index.size === stats.total && stats.total >= options.memories && children.length === 0;
    if (ready) {
      quietSince ??= performance.now();
      // A build's last steps (loading its parts, the swap and save) happen in the hub itself: wait for it to idle.
      if (performance.now() - quietSince > 3000) {
        await waitForQuiet(pid, { timeoutMs: 30_000 });
        const after = await client.stats();
        if (childPids(pid).length === 0 && after.index.kind === kind && after.index.size === after.total) {
          return { waitedMs: performance.now() - started, kind: after.index.kind, size: after.index.size, total: after.total, builds, timedOut: false };
        }
        quietSince = null;
      }
    } else {
      quietSince = null;
    }
    if (performance.now() - started > options.ivfTimeoutMs) {
      return { waitedMs: performance.now() - started, kind: stats.index.kind, size: stats.index.size, total: stats.total, builds, timedOut: true };
    }
    await sleep(500);
  }
}

async function searches(client: MemoryClient, options: Options, pid: number): Promise<SearchPhase> {
  const all = makeQueries(options.queries + 30);
  const warmup = all.slice(0, 30);
  const queries = all.slice(30);
  const memories = (await client.stats()).total;
  for (const q of warmup) await client.search(q, options.k);
  const latencies: number[] = [];
  const took: number[] = [];
  let hits = 0;
  let vectorHits = 0;
  let keywordHits = 0;
  const meter = new CpuMeter({ hub: pid, bench: process.pid });
  for (const q of queries) {
    const { ms, result } = await client.search(q, options.k);
    latencies.push(ms);
    took.push(result.tookMs);
    hits += result.hits.length;
    for (const hit of result.hits) {
      if (hit.scores.vectorRank !== null) vectorHits++;
      if (hit.scores.keywordRank !== null) keywordHits++;
    }
  }
  return {
    memories,
    queries: queries.length,
    k: options.k,
    latency: summarize(latencies),
    hubTookMs: summarize(took),
    histogram: histogramLine(histogram(latencies, 0.5)),
    hitsPerQuery: hits / queries.length,
    vectorShare: hits ? vectorHits / hits : 0,
    keywordShare: hits ? keywordHits / hits : 0,
    cpuPercent: meter.read(),
    load1: os.loadavg()[0]!,
  };
}

/**
 * Recall@10 of the hub's vector side: its saved index reopened here (as the hub would reopen it), against an exact
 * scan of every vector in memory.sqlite, for queries embedded with the same encoder.
 */
async function recallCheck(dataDir: string, options: Options): Promise<RecallResult> {
  const [{ openDatabase }, { OnnxSentenceEncoder, defaultEncoderDir }, { VectorIndex }] = await Promise.all([
    import('../src/main/db/database'),
    import('../src/main/embedding'),
    import('../src/main/vector'),
  ]);
  const encoder = await OnnxSentenceEncoder.load(defaultEncoderDir(path.join(repoRoot, 'resources')));
  const db = openDatabase(path.join(dataDir, 'memory.sqlite'), { readonly: true });
  try {
    const model = encoder.id;
    const d = encoder.dimension;
    const n = db.prepare('SELECT COUNT(*) FROM embeddings WHERE model = ?').pluck().get(model) as number;
    const ids = new Int32Array(n);
    const matrix = new Float32Array(n * d);
    let row = 0;
    for (const r of db.prepare('SELECT memory_id AS id, vector FROM embeddings WHERE model = ?').iterate(model) as Iterable<{ id: number; vector: Buffer }>) {
      ids[row] = r.id;
      new Uint8Array(matrix.buffer, row * d * 4, d * 4).set(r.vector);
      row++;
    }
    const opened = performance.now();
    const index = await VectorIndex.open({
      dir: path.join(dataDir, 'vectors'),
      modelId: model,
      dimension: d,
      expectedCount: n,
      tuning: { autoBuild: false },
      *loadAll() {
        for (let i = 0; i < n; i++) yield { id: ids[i]!, vector: matrix.slice(i * d, (i + 1) * d) };
      },
    });
    const openMs = performance.now() - opened;
    try {
      const queries = makeQueries(options.recallQueries, 4_242);
      const vectors = await encoder.embed(queries);
      let found = 0;
      let exactMs = 0;
      let indexMs = 0;
      const k = 10;
      for (const q of vectors) {
        let t = performance.now();
        const exact = exactTopK(matrix, ids, d, q, k);
        exactMs += performance.now() - t;
        t = performance.now();
        const approx = index.search(q, k);
        indexMs += performance.now() - t;
        const truth = new Set(exact.map((hit) => hit.id));
        found += approx.filter((hit) => truth.has(hit.id)).length;
      }
      const nearDuplicates = await nearDuplicateCheck(db, encoder, index, matrix, ids, options.recallQueries * 2);
      const stats = index.stats();
      return {
        queries: vectors.length,
        k,
        recallAt10: found / (vectors.length * k),
        indexKind: stats.kind,
        nlist: stats.nlist,
        nprobe: stats.nprobe,
        estimatedRecall: stats.recall,
        openMs,
        exactMsPerQuery: exactMs / vectors.length,
        indexMsPerQuery: indexMs / vectors.length,
        nearDuplicates,
      };
    } finally {
      await index.close();
    }
  } finally {
    db.close();
    await encoder.close();
  }
}

/** Slightly edited copies of stored notes: what a store's near-duplicate check is for. */
const NOTE_EDITS: Array<(text: string, random: () => number) => string> = [
  (s) => s.replace(/\d+/, (m) => String(Number(m) + 1)),
  (s) => {
    const sentences = s.split(/(?<=\.)\s+/);
    return sentences.length > 1 ? sentences.slice(0, -1).join(' ') : `${s} Again.`;
  },
  (s, random) => {
    const words = s.split(' ');
    const i = Math.floor(random() * words.length);
    words[i] = words[(i + 1) % words.length]!;
    return words.join(' ');
  },
  (s) => s.replace(/ /, ' really '),
  (s) => `${s} (again)`,
];

/**
 * Edited copies of stored notes, embedded; their stored neighbours at cosine >= 0.95 found exactly, and how many of
 * them each near-duplicate probe finds (batches of 200, as a store's groups).
 */
async function nearDuplicateCheck(
  db: { prepare(sql: string): { all(...params: unknown[]): unknown[] } },
  encoder: { embed(texts: string[]): Promise<Float32Array[]> },
  index: import('../src/main/vector').VectorIndex,
  matrix: Float32Array,
  ids: Int32Array,
  count: number,
): Promise<RecallResult['nearDuplicates']> {
  const random = prng(9_157);
  const rows = db.prepare('SELECT text FROM memories WHERE id % 97 = 0 ORDER BY id LIMIT ?').all(count) as Array<{ text: string }>;
  const texts = rows.map((row, i) => NOTE_EDITS[i % NOTE_EDITS.length]!(row.text, random));
  const vectors = await encoder.embed(texts);
  const d = vectors[0]?.length ?? 0;
  const truth = vectors.map((q) => new Set(exactTopK(matrix, ids, d, q, 10).filter((hit) => hit.score >= 0.95).map((hit) => hit.id)));
  const probe = (run: (batch: Float32Array[]) => Array<Array<{ id: number }>>) => {
    const started = performance.now();
    const got: Array<Array<{ id: number }>> = [];
    for (let i = 0; i < vectors.length; i += 200) got.push(...run(vectors.slice(i, i + 200)));
    const msPerQuery = (performance.now() - started) / Math.max(1, vectors.length);
    const found = got.reduce((sum, hits, q) => sum + hits.filter((hit) => truth[q]!.has(hit.id)).length, 0);
    return { found, msPerQuery };
  };
  index.searchCloseBatch(vectors.slice(0, 20), 10); // warm-up
  return {
    queries: vectors.length,
    pairs: truth.reduce((sum, set) => sum + set.size, 0),
    close: probe((batch) => index.searchCloseBatch(batch, 10)),
    faiss: probe((batch) => index.searchBatch(batch, 10)),
  };
}

function exactTopK(matrix: Float32Array, ids: Int32Array, d: number, q: Float32Array, k: number): Array<{ id: number; score: number }> {
  const best: Array<{ id: number; score: number }> = [];
  const n = ids.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    const base = i * d;
    for (let j = 0; j < d; j++) s += matrix[base + j]! * q[j]!;
    if (best.length < k || s > best[best.length - 1]!.score) {
      best.push({ id: ids[i]!, score: s });
      best.sort((a, b) => b.score - a.score);
      if (best.length > k) best.pop();
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------------
// Output

function logStore(what: string, p: StorePhase): void {
  console.log(
    `[${what}] ${p.memories.toLocaleString('en-US')} memories in ${p.requests.toLocaleString('en-US')} requests, ${fmt(p.wallMs / 1000)} s: ` +
      `${fmt(p.perSecond)} memories/s; request p50 ${fmt(p.latency.p50)} ms, p99 ${fmt(p.latency.p99)} ms` +
      (p.memoriesPerEmbedRun !== null ? `; ${fmt(p.memoriesPerEmbedRun)} memories per ONNX run` : '') +
      (p.reinforced ? `; ${p.reinforced} reinforced instead of created` : '') +
      (p.superseding ? `; ${p.superseding} superseded an older value` : ''),
  );
}

function mib(bytes: number | undefined): string | null {
  return bytes === undefined || !Number.isFinite(bytes) ? null : fmtBytes(bytes);
}

function printDetails(r: Results): void {
  const storeRow = (name: string, p: StorePhase | undefined) =>
    p
      ? [
          name,
          p.memories,
          p.requests,
          p.wallMs / 1000,
          p.perSecond,
          p.latency.p50,
          p.latency.p99,
          p.latency.max,
          p.memoriesPerEmbedRun,
          p.embedMs === null ? null : `${fmt((p.embedMs / p.wallMs) * 100)}%`,
          `${p.reinforced} / ${p.superseding ?? 0}`,
          `${p.cpuPercent.hub ?? '?'}% / ${p.cpuPercent.others ?? '?'}%`,
          p.load1,
        ]
      : [name, 'not run'];
  printTable(
    'Stores (client round trips over HTTP, embedding included)',
    ['phase', 'memories', 'requests', 'wall s', 'memories/s', 'p50 ms', 'p99 ms', 'max ms', 'per ONNX run', 'embedding share', 'reinforced / supersedes', 'CPU hub / others', 'load 1m'],
    [
      storeRow('single, empty engine', r.single),
      storeRow(`concurrent singles (${r.options.clients} in flight)`, r.concurrent),
      storeRow(`batched ${r.options.batchMin}–${r.options.batchMax} (${r.options.batchInflight} in flight)`, r.batched),
      storeRow(`single, at ${fmt(r.search?.memories ?? r.options.memories)}`, r.singleAtScale),
    ],
  );
  if (r.batched) {
    printTable(
      'Batched load by stretch (exact index below 20,000; IVF builds in the background at 20k, 40k, 80k)',
      ['from', 'to', 'seconds', 'memories/s'],
      r.batched.segments.map((s) => [s.from, s.to, s.seconds, s.perSecond]),
    );
  }
  if (r.search) {
    const s = r.search;
    printTable(
      `Search at ${fmt(s.memories)} memories, k=${s.k}, one in flight (query embedding included)`,
      ['measured at', 'queries', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'hits/query', 'hits from vector / keyword side', 'CPU hub / others', 'load 1m'],
      [
        ['client (HTTP round trip)', s.queries, s.latency.p50, s.latency.p90, s.latency.p99, s.latency.max, s.hitsPerQuery, `${fmt(s.vectorShare * 100)}% / ${fmt(s.keywordShare * 100)}%`, `${s.cpuPercent.hub ?? '?'}% / ${s.cpuPercent.others ?? '?'}%`, s.load1],
        ['hub (tookMs)', s.queries, s.hubTookMs.p50, s.hubTookMs.p90, s.hubTookMs.p99, s.hubTookMs.max, null, null, null, null],
      ],
    );
  }
  printTable('Hub', ['what', 'value'], [
    ['memory engine ready after start', r.hub.startMs === undefined ? null : `${fmt(r.hub.startMs)} ms`],
    ['encoder', r.hub.encoder ? `${r.hub.encoder} (${r.hub.dimension}-d)` : null],
    ['IVF ready after the load', r.ivf ? `${fmt(r.ivf.waitedMs / 1000)} s (${r.ivf.kind}, ${r.ivf.size} vectors${r.ivf.timedOut ? ', timed out' : ''})` : null],
    ['final stats', r.finalStats ? `${r.finalStats.total} memories, ${r.finalStats.index.kind} index of ${r.finalStats.index.size}, ${r.finalStats.index.tombstones} tombstones` : null],
    ['RSS after load / after IVF / after search', [mib(r.rss.afterLoad), mib(r.rss.afterIvf), mib(r.rss.afterSearch)].map((v) => v ?? '—').join(' / ')],
    ['peak RSS (VmHWM)', mib(r.rss.peak)],
    ['recall@10 of the saved index vs exact', r.recall ? `${fmt(r.recall.recallAt10)} over ${r.recall.queries} queries (${r.recall.indexKind}, nlist ${r.recall.nlist ?? '—'}, nprobe ${r.recall.nprobe ?? '—'}, estimated at build ${r.recall.estimatedRecall === undefined ? '—' : fmt(r.recall.estimatedRecall)})` : null],
    [
      'near-duplicate check (edited copies of stored notes, neighbours at cosine >= 0.95)',
      r.recall
        ? (({ queries, pairs, close, faiss } = r.recall.nearDuplicates) =>
            `${queries} copies, ${pairs} pairs: int8 scan of the nearest lists found ${close.found} (${fmt(close.msPerQuery)} ms/copy), FAISS IVF found ${faiss.found} (${fmt(faiss.msPerQuery)} ms/copy)`)()
        : null,
    ],
  ]);
  for (const [name, error] of Object.entries(r.errors)) console.log(`\nERROR in ${name}: ${error.split('\n')[0]}`);
}

function summaryRows(o: Options, r: Results): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const verdict = (ok: boolean): SummaryRow['verdict'] => (ok ? 'PASS' : 'FAIL');
  const missing = (name: string): SummaryRow['verdict'] => (r.errors[name] ? 'ERROR' : 'not run');
  const n = fmt(r.search?.memories ?? o.memories);

  rows.push(
    r.single
      ? { metric: 'store one, embedding included, empty engine (p50; old 27 ms)', target: '<= 5 ms', measured: `p50 ${fmt(r.single.latency.p50)} ms, p99 ${fmt(r.single.latency.p99)} ms`, verdict: verdict(r.single.latency.p50 <= 5) }
      : { metric: 'store one, empty engine', target: '<= 5 ms', measured: '—', verdict: missing('single') },
  );
  rows.push(
    r.singleAtScale
      ? { metric: `store one, embedding included, at ${n} memories (p50)`, target: '<= 5 ms', measured: `p50 ${fmt(r.singleAtScale.latency.p50)} ms, p99 ${fmt(r.singleAtScale.latency.p99)} ms`, verdict: verdict(r.singleAtScale.latency.p50 <= 5) }
      : { metric: `store one at ${n} memories`, target: '<= 5 ms', measured: '—', verdict: missing('single-at-scale') },
  );
  rows.push(
    r.batched
      ? { metric: `batched store (${o.batchMin}–${o.batchMax} per request) to ${fmt(o.memories)}`, target: '>= 1,000 memories/s', measured: `${fmt(r.batched.perSecond)} memories/s`, verdict: verdict(r.batched.perSecond >= 1000) }
      : { metric: 'batched store', target: '>= 1,000 memories/s', measured: '—', verdict: missing('batched') },
  );
  rows.push(
    r.concurrent
      ? {
          metric: `concurrent single stores (${o.clients} in flight, grouped)`,
          target: '>= 1,000 memories/s',
          measured: `${fmt(r.concurrent.perSecond)} memories/s${r.concurrent.memoriesPerEmbedRun !== null ? `, ${fmt(r.concurrent.memoriesPerEmbedRun)} per ONNX run` : ''}`,
          verdict: verdict(r.concurrent.perSecond >= 1000),
        }
      : { metric: 'concurrent single stores', target: '>= 1,000 memories/s', measured: '—', verdict: missing('concurrent') },
  );
  if (r.search) {
    const s = r.search;
    rows.push({ metric: `search at ${n} memories, IVF, query embedding included: p50 (old 8 s)`, target: '<= 10 ms', measured: `${fmt(s.latency.p50)} ms`, verdict: verdict(s.latency.p50 <= 10 && !r.ivf?.timedOut) });
    rows.push({ metric: `search at ${n} memories: p99`, target: '<= 50 ms', measured: `${fmt(s.latency.p99)} ms`, verdict: verdict(s.latency.p99 <= 50 && !r.ivf?.timedOut) });
  } else {
    rows.push({ metric: `search at ${n} memories: p50 / p99`, target: '<= 10 ms / <= 50 ms', measured: '—', verdict: missing('search') });
  }
  rows.push({ metric: `time to load ${n} memories (all store phases)`, target: 'info', measured: r.loadSeconds === undefined ? '—' : `${fmt(r.loadSeconds)} s`, verdict: 'info' });
  rows.push({ metric: 'IVF ready after the load', target: 'info', measured: r.ivf ? `${fmt(r.ivf.waitedMs / 1000)} s${r.ivf.timedOut ? ' (timed out)' : ''}` : '—', verdict: r.ivf?.timedOut ? 'FAIL' : 'info' });
  rows.push({ metric: 'recall@10, vector side vs exact', target: 'info (aims 0.95)', measured: r.recall ? fmt(r.recall.recallAt10) : '—', verdict: r.recall ? 'info' : missing('recall') });
  const near = r.recall?.nearDuplicates;
  rows.push({
    metric: 'near-duplicate check: neighbours at cosine >= 0.95 found',
    target: 'info',
    measured: near ? `${fmt(near.close.found / Math.max(1, near.pairs))} (FAISS IVF ${fmt(near.faiss.found / Math.max(1, near.pairs))}), ${fmt(near.close.msPerQuery)} vs ${fmt(near.faiss.msPerQuery)} ms` : '—',
    verdict: near ? 'info' : missing('recall'),
  });
  rows.push({ metric: `hub RSS at ${n} (after search) / peak`, target: 'info', measured: `${mib(r.rss.afterSearch) ?? '—'} / ${mib(r.rss.peak) ?? '—'}`, verdict: 'info' });
  return rows;
}

/** The bench/run.ts suite. */
export const suite = { description, run };

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await run(process.argv.slice(2));
}
