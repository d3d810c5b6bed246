/**
 * The backup benchmark: `npm run bench -- backup [options]` (or import and call `run()`).
 *
 * Generates a 1 GiB tree in a temp folder: one 500 MiB file (a disk image, say) and 100,000 files sharing the other
 * 524 MiB (a seeded mix of sizes: mostly small source files, some medium, a few large; each file's content unique),
 * plus a small hub data folder with a SQLite database, then measures with the real engine:
 *
 *   full         the first backup into an empty target (every file hashed and copied, one fsync per object; the
 *                500 MiB file split into content-defined chunks as it is read)
 *   incremental  after changing 1% of the files and overwriting 1 MiB in the middle of the 500 MiB file (the cache
 *                spares re-hashing the other files; the large file is read again and only the chunks around the edit
 *                are stored)
 *   unchanged    nothing changed (the floor: scan, cache look-ups, manifest)
 *
 * For each run it also samples the peak memory above the run's start (the large file is streamed, never held) and
 * the longest event-loop stall (the hub must keep answering during a backup).
 *
 * The target folder is on the same disk as the tree (a cloud drive is slower to write; the point here is what the
 * engine costs). The tree is in the page cache for every run. Targets, for both: incremental ≤ 10% of the full run's
 * time, and bytes stored by the incremental run ≤ 2× the bytes changed.
 * Prints a table and writes bench/results/backup-<timestamp>.json; the temp tree is removed at the end.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BackupSettingsSchema } from '../src/main/backup/config';
import { BackupEngine, type BackupPhase } from '../src/main/backup/engine';
import { openDatabase } from '../src/main/db/database';
import { machineFacts, machineLine } from './lib/machine';
import { writeResults } from './lib/results';
import { fmt, printTable } from './lib/table';
import { mulberry32 } from '../test/support/seeded-random';

export const description = 'backup: full and incremental snapshots of a 1 GiB tree (100,000 files and one 500 MiB file changed by 1 MiB; content-defined chunks, fsynced)';

const USAGE = `Usage: npm run bench -- backup [options]

  --files N          files in the generated tree (100000)
  --total-mib N      their total size in MiB (1024)
  --change-percent P files changed before the incremental run (1)
  --seed N           seed of the generated tree (1)
  --quick            10,000 files, 100 MiB (a smoke run, not a measurement)
  --large-mib N      size of the large file, part of the total (500; 0: none)
  --large-change-mib N  bytes overwritten in its middle before the incremental run, in MiB (1)
  --verify           also verify the last snapshot (re-hashes every object)
  --keep             keep the temp folder (tree, data, target) and print where it is`;

interface Options {
  files: number;
  totalBytes: number;
  changePercent: number;
  largeBytes: number;
  largeChangeBytes: number;
  seed: number;
  verify: boolean;
  keep: boolean;
}

interface RunMeasure {
  run: string;
  files: number;
  bytes: number;
  seconds: number;
  mbPerSecond: number;
  objectsWritten: number;
  bytesWritten: number;
  hashed: number;
  phases: Partial<Record<BackupPhase, number>>;
  peakRssMiB: number;
  maxStallMs: number;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      files: { type: 'string' },
      'total-mib': { type: 'string' },
      'change-percent': { type: 'string' },
      'large-mib': { type: 'string' },
      'large-change-mib': { type: 'string' },
      seed: { type: 'string' },
      quick: { type: 'boolean', default: false },
      verify: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  const num = (value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${value}\n\n${USAGE}`);
    return n;
  };
  return {
    files: Math.round(num(values.files, values.quick ? 10_000 : 100_000)),
    totalBytes: Math.round(num(values['total-mib'], values.quick ? 100 : 1024) * 2 ** 20),
    changePercent: num(values['change-percent'], 1),
    largeBytes: values['large-mib'] === '0' ? 0 : Math.round(num(values['large-mib'], values.quick ? 50 : 500) * 2 ** 20),
    largeChangeBytes: Math.round(num(values['large-change-mib'], 1) * 2 ** 20),
    seed: Math.round(num(values.seed, 1)),
    verify: values.verify,
    keep: values.keep,
  };
}

const prng = mulberry32;

/** File sizes: 70% 0.2-8 KiB, 25% 8-64 KiB, 4.5% 64 KiB-1 MiB, 0.5% 1-16 MiB (log-uniform within each), scaled to the total. */
function sizesFor(count: number, totalBytes: number, random: () => number): number[] {
  const logUniform = (lo: number, hi: number) => Math.exp(Math.log(lo) + random() * (Math.log(hi) - Math.log(lo)));
  const raw = Array.from({ length: count }, () => {
    const r = random();
    if (r < 0.7) return logUniform(200, 8 * 1024);
    if (r < 0.95) return logUniform(8 * 1024, 64 * 1024);
    if (r < 0.995) return logUniform(64 * 1024, 1024 * 1024);
    return logUniform(1024 * 1024, 16 * 1024 * 1024);
  });
  const scale = totalBytes / raw.reduce((a, b) => a + b, 0);
  return raw.map((size) => Math.max(16, Math.round(size * scale)));
}

interface Tree {
  root: string;
  files: Array<{ rel: string; size: number }>;
  bytes: number;
}

/** Content: a unique header, then a slice of a seeded 32 MiB pool (so contents are distinct and generation is fast). */
function generateTree(root: string, options: Options): Tree {
  const random = prng(options.seed);
  const pool = Buffer.alloc(32 * 2 ** 20);
  for (let i = 0; i < pool.length; i += 32) createHash('sha256').update(`${options.seed}:${i}`).digest().copy(pool, i);
  const sizes = sizesFor(options.files, options.totalBytes - options.largeBytes, random);
  const files: Tree['files'] = [];
  let bytes = 0;
  const perDir = 100;
  for (let i = 0; i < sizes.length; i++) {
    const dir = `pkg${Math.floor(i / (perDir * 10))}/mod${Math.floor(i / perDir) % 10}`;
    if (i % perDir === 0) mkdirSync(path.join(root, dir), { recursive: true });
    const rel = `${dir}/file${i}.dat`;
    writeFileSync(path.join(root, rel), contentFor(i, 0, sizes[i]!, pool, random));
    files.push({ rel, size: sizes[i]! });
    bytes += sizes[i]!;
  }
  if (options.largeBytes > 0) {
    writeLargeFile(path.join(root, LARGE_FILE), options.largeBytes, prng(options.seed + 2));
    bytes += options.largeBytes;
  }
  return { root, files, bytes };
}

const LARGE_FILE = 'disk-image.bin';

/** Seeded content written 8 MiB at a time (never the whole file in memory, here either). */
function writeLargeFile(file: string, size: number, random: () => number): void {
  const piece = Buffer.allocUnsafe(8 * 2 ** 20);
  const fd = openSync(file, 'w');
  try {
    for (let written = 0; written < size; ) {
      for (let i = 0; i + 4 <= piece.length; i += 4) piece.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
      const n = Math.min(piece.length, size - written);
      writeSync(fd, piece, 0, n, written);
      written += n;
    }
  } finally {
    closeSync(fd);
  }
}

function contentFor(index: number, version: number, size: number, pool: Buffer, random: () => number): Buffer {
  const content = Buffer.allocUnsafe(size);
  const header = Buffer.from(`file ${index} version ${version}\n`);
  header.copy(content, 0, 0, Math.min(header.length, size));
  let at = Math.min(header.length, size);
  while (at < size) {
    const offset = Math.floor(random() * (pool.length - 1));
    at += pool.copy(content, at, offset, Math.min(pool.length, offset + (size - at)));
  }
  return content;
}

async function measure(engine: BackupEngine, label: string, objectWrites: { count: number; bytes: number }): Promise<RunMeasure> {
  const before = { ...objectWrites };
  const phaseStart = new Map<BackupPhase, number>();
  const startRss = process.memoryUsage().rss;
  let peakRss = startRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  const record = await engine
    .run({
      onProgress: (p) => {
        if (!phaseStart.has(p.phase)) phaseStart.set(p.phase, performance.now());
      },
    })
    .finally(() => {
      loop.disable();
      clearInterval(sampler);
    });
  const seconds = (performance.now() - t0) / 1000;
  const starts = [...phaseStart.entries()].sort((a, b) => a[1] - b[1]);
  const phases: RunMeasure['phases'] = {};
  starts.forEach(([phase, at], i) => {
    phases[phase] = Number((((starts[i + 1]?.[1] ?? t0 + seconds * 1000) - at) / 1000).toFixed(3));
  });
  return {
    run: label,
    files: record.files,
    bytes: record.bytes,
    seconds,
    mbPerSecond: record.bytes / 2 ** 20 / seconds,
    objectsWritten: objectWrites.count - before.count,
    bytesWritten: objectWrites.bytes - before.bytes,
    hashed: record.hashed,
    phases,
    peakRssMiB: (peakRss - startRss) / 2 ** 20,
    maxStallMs: loop.max / 1e6,
  };
}

export async function run(argv: string[] = []): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const machine = machineFacts();
  console.log(machineLine(machine));
  const work = mkdtempSync(path.join(os.tmpdir(), 'devenviro-bench-backup-'));
  const treeDir = path.join(work, 'projects', 'big');
  const dataDir = path.join(work, 'data');
  const target = path.join(work, 'drive');
  let engine: BackupEngine | undefined;
  try {
    mkdirSync(treeDir, { recursive: true });
    mkdirSync(target, { recursive: true });
    console.log(`generating ${options.files.toLocaleString('en-US')} files, ${fmt(options.totalBytes / 2 ** 20)} MiB in ${work} …`);
    let t = performance.now();
    const tree = generateTree(treeDir, options);
    const generateSeconds = (performance.now() - t) / 1000;
    // A small hub data folder too: a SQLite database copied through the backup API, and a config file.
    const db = openDatabase(path.join(dataDir, 'hub.sqlite'));
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 5000; i++) insert.run(`message ${i} `.repeat(20));
    })();
    writeFileSync(path.join(dataDir, 'config.json'), '{}\n');
    console.log(`generated in ${fmt(generateSeconds)} s`);
    // The hash cache trusts only files older than a few seconds (a file written in the same timestamp tick as its
    // hashing could change unseen): let the freshly generated tree age past that, as real trees are.
    await new Promise((resolve) => setTimeout(resolve, 3500));

    // No size limit: the 500 MiB file is over the default 100 MiB one.
    const settings = BackupSettingsSchema.parse({ target, sources: [{ name: 'big', path: treeDir }], exclude: [], maxFileBytes: 2 ** 40, intervalMinutes: null });
    const objectWrites = { count: 0, bytes: 0 };
    engine = new BackupEngine({
      dataDir,
      settings: () => settings,
      databases: () => [db],
      hooks: {
        afterObjectWrite: (_sha, bytes) => {
          objectWrites.count++;
          objectWrites.bytes += bytes;
        },
      },
    });

    console.log('full backup …');
    const full = await measure(engine, 'full', objectWrites);

    const random = prng(options.seed + 1);
    const pool = Buffer.alloc(2 ** 20, 7);
    const changeCount = Math.max(1, Math.round((tree.files.length * options.changePercent) / 100));
    const chosen = new Set<number>();
    while (chosen.size < changeCount) chosen.add(Math.floor(random() * tree.files.length));
    let changedBytes = 0;
    t = performance.now();
    for (const i of chosen) {
      const file = tree.files[i]!;
      writeFileSync(path.join(treeDir, file.rel), contentFor(i, 1, file.size, pool, random));
      changedBytes += file.size;
    }
    if (options.largeBytes > 0) {
      const edit = Buffer.allocUnsafe(options.largeChangeBytes);
      for (let i = 0; i + 4 <= edit.length; i += 4) edit.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
      const fd = openSync(path.join(treeDir, LARGE_FILE), 'r+');
      writeSync(fd, edit, 0, edit.length, Math.floor(options.largeBytes / 2));
      closeSync(fd);
      changedBytes += options.largeChangeBytes;
    }
    console.log(`changed ${changeCount.toLocaleString('en-US')} files and ${fmt(options.largeChangeBytes / 2 ** 20)} MiB of the large one (${fmt(changedBytes / 2 ** 20)} MiB) in ${fmt((performance.now() - t) / 1000)} s; incremental backup …`);
    const incremental = await measure(engine, `incremental (${options.changePercent}% + ${fmt(options.largeChangeBytes / 2 ** 20)} MiB changed)`, objectWrites);
    console.log('unchanged backup …');
    const unchanged = await measure(engine, 'unchanged', objectWrites);

    let verify: { seconds: number; objects: number; ok: boolean } | null = null;
    if (options.verify) {
      const snapshots = await engine.listSnapshots();
      t = performance.now();
      const report = await engine.verify(snapshots.snapshots[0]!.id);
      verify = { seconds: (performance.now() - t) / 1000, objects: report.objects, ok: report.ok };
    }
    db.close();

    const runs = [full, incremental, unchanged];
    printTable(
      `Backup of ${tree.files.length.toLocaleString('en-US')} files${options.largeBytes > 0 ? ` + one of ${fmt(options.largeBytes / 2 ** 20)} MiB` : ''}, ${fmt(tree.bytes / 2 ** 20)} MiB (${machine.cores} cores, target on ${machine.tmpFsType})`,
      ['run', 'files', 'MiB', 'seconds', 'MB/s', 'objects written', 'MiB written', 'files hashed', 'peak RSS +MiB', 'max stall ms'],
      runs.map((r) => [r.run, r.files, r.bytes / 2 ** 20, r.seconds, r.mbPerSecond, r.objectsWritten, r.bytesWritten / 2 ** 20, r.hashed, r.peakRssMiB, r.maxStallMs]),
    );
    printTable(
      'Time per phase (seconds)',
      ['run', 'scanning', 'hashing', 'copying', 'manifest', 'pruning'],
      runs.map((r) => [r.run, r.phases.scanning, r.phases.hashing, r.phases.copying, r.phases.manifest, r.phases.pruning]),
    );
    const ratio = incremental.seconds / full.seconds;
    const storedRatio = incremental.bytesWritten / changedBytes;
    const checks: Array<[string, string, number, number]> = [
      ['incremental time / full time', '≤ 10%', ratio, 0.1],
      ['bytes stored by the incremental run / bytes changed', '≤ 200%', storedRatio, 2],
    ];
    const results = checks.map(([metric, target, measured, max]) => ({ metric, target, measured, max, pass: measured <= max }));
    const pass = results.every((r) => r.pass);
    printTable('Targets', ['metric', 'target', 'measured', 'result'], results.map((r) => [r.metric, r.target, `${fmt(r.measured * 100)}%`, r.pass ? 'pass' : 'FAIL']));
    if (verify) console.log(`\nverify of the last snapshot: ${verify.objects.toLocaleString('en-US')} objects in ${fmt(verify.seconds)} s (${verify.ok ? 'ok' : 'FAILED'})`);

    const file = writeResults('backup', {
      suite: 'backup',
      machine,
      options,
      tree: { files: tree.files.length, bytes: tree.bytes, largeFileBytes: options.largeBytes, generateSeconds, changedFiles: changeCount, changedBytes },
      runs,
      verify,
      targets: results,
    });
    console.log(`\nresults: ${file}`);
    // Non-zero like the other suites when the target is missed or the verification finds damage (see bench/run.ts).
    return pass && (verify?.ok ?? true) ? 0 : 1;
  } finally {
    engine?.close();
    if (options.keep) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

// `node --import tsx bench/backup.ts [options]` runs it directly too.
if (import.meta.url === `file://${process.argv[1]}`) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exit(1);
    },
  );
}
