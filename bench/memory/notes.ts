/** Realistic developer notes and questions for the memory benchmark, composed from seeded vocabularies. */
import { mulberry32 } from '../../test/support/seeded-random';

export const prng = mulberry32;

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

export interface Draft {
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
