// The worker and child-process programs (src/main/programs.ts): each is a build entry of its own, and each starts
// and does its job both as the built .js beside the main bundle and from its TypeScript source. Real SQLite, ONNX
// Runtime and FAISS; the build is a real electron-vite build into a scratch directory inside the repository (so the
// built files resolve node_modules as out/main does).
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { A2aDecodeReply, A2aDecodeRequest } from '../../src/main/a2a/request-decoder';
import type { DbMaintenanceJob, DbMaintenanceReply } from '../../src/main/advisor/db-maintenance';
import type { CheckpointWorkerData } from '../../src/main/db/checkpointer';
import type { InferenceReply, InferenceWorkerData } from '../../src/main/embedding/inference-worker';
import type { DecodeReply, DecodeRequest } from '../../src/main/messaging/send-decoder';
import type { ExtractWorkerReply, ExtractWorkerRequest } from '../../src/main/memory/extract-runner';
import { OnnxSentenceEncoder } from '../../src/main/embedding';
import type { ChildMessage, IvfBuildJob } from '../../src/main/vector/builder';
import { flatHeader } from '../../src/main/vector/faiss-format';
import { PROGRAMS, programLaunch, type ProgramName } from '../../src/main/programs';
import { mulberry32 } from '../support/seeded-random';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelPath = path.join(repoRoot, 'resources', 'models', 'use-lite-int8', 'model.onnx');
const names = Object.keys(PROGRAMS) as ProgramName[];
/** The programs the tests below start: every program in PROGRAMS must be among them. */
const STARTED: readonly ProgramName[] = ['a2a-decoder', 'checkpoint-worker', 'db-maintenance', 'extract-worker', 'inference-worker', 'ivf-build', 'send-decoder'];

let outDir: string;
let tmp: string;

beforeAll(() => {
  outDir = mkdtempSync(path.join(repoRoot, '.devenviro-test-programs-'));
  tmp = mkdtempSync(path.join(os.tmpdir(), 'devenviro-programs-'));
  execFileSync(path.join(repoRoot, 'node_modules', '.bin', 'electron-vite'), ['build', '--logLevel', 'warn', '--outDir', outDir], {
    cwd: repoRoot,
    stdio: 'pipe',
  });
}, 180_000);

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

/** How each test starts a program: the built file, or what programs.ts starts when running from sources. */
const launchers: Record<'built' | 'sources', (name: ProgramName) => { script: string; args: string[] }> = {
  built: (name) => ({ script: path.join(outDir, 'main', `${name}.js`), args: [] }),
  sources: (name) => programLaunch(name),
};

function exited(worker: Worker): Promise<number> {
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', resolve);
  });
}

describe('program build entries', () => {
  it.each(names)('%s is built to out/main/<name>.js', (name) => {
    const file = path.join(outDir, 'main', `${name}.js`);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).size).toBeGreaterThan(0);
  });

  it('every program has a start test below', () => {
    expect([...names].sort()).toEqual([...STARTED].sort());
  });

  it('from sources, each program is started from its .ts through the loader', () => {
    for (const name of names) {
      const launch = programLaunch(name);
      expect(path.basename(launch.script)).toBe('program-loader.mjs');
      expect(launch.args.at(-1)).toBe(`file://${path.join(repoRoot, PROGRAMS[name])}`);
      expect(existsSync(path.join(repoRoot, PROGRAMS[name]))).toBe(true);
    }
  });
});

describe.each(['built', 'sources'] as const)('programs started %s', (mode) => {
  const launch = launchers[mode];

  it('checkpoint-worker checkpoints the WAL into the database file, and stops cleanly', async () => {
    const file = path.join(tmp, `${mode}-checkpoint.db`);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run('x'.repeat(200));
    })();
    const before = statSync(file).size;
    const { script, args } = launch('checkpoint-worker');
    const workerData: CheckpointWorkerData = { file, nativeBinding: undefined, intervalMs: 20, restartFrames: 16_384 };
    const worker = new Worker(script, { argv: args, workerData });
    const messages: unknown[] = [];
    worker.on('message', (message) => messages.push(message));
    const exit = exited(worker);
    const deadline = Date.now() + 20_000;
    while (statSync(file).size <= before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    worker.postMessage('stop');
    expect(await exit).toBe(0);
    expect(statSync(file).size).toBeGreaterThan(before + 2000 * 200);
    // It tells how far behind checkpoints are (here: caught up), for the advisor.
    expect(messages[0]).toMatchObject({ checkpointed: expect.any(Number), log: expect.any(Number) });
    db.close();
  });

  it('db-maintenance checkpoints a WAL to empty (TRUNCATE), answers and ends', async () => {
    const file = path.join(tmp, `${mode}-maintenance.db`);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 500; i++) insert.run('x'.repeat(200));
    })();
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(500 * 200);
    const { script, args } = launch('db-maintenance');
    const workerData: DbMaintenanceJob = { file, nativeBinding: undefined, job: 'checkpoint' };
    const worker = new Worker(script, { argv: args, workerData });
    const exit = exited(worker);
    const reply = await new Promise<DbMaintenanceReply>((resolve) => worker.once('message', resolve));
    expect(reply).toEqual({ ok: true });
    expect(await exit).toBe(0);
    expect(statSync(`${file}-wal`).size).toBe(0);
    db.close();
  });

  it('inference-worker runs the encoder model and releases it', async () => {
    const { script, args } = launch('inference-worker');
    const workerData: InferenceWorkerData = { modelPath, options: { intraOpNumThreads: 1 } };
    const worker = new Worker(script, { argv: args, workerData });
    const exit = exited(worker);
    const reply = new Promise<InferenceReply>((resolve) => worker.once('message', resolve));
    const ids = new BigInt64Array([5n, 6n, 7n, 8n]);
    const mask = new BigInt64Array([1n, 1n, 1n, 1n]);
    worker.postMessage({
      id: 1,
      feeds: { input_ids: { type: 'int64', data: ids, dims: [2, 2] }, attention_mask: { type: 'int64', data: mask, dims: [2, 2] } },
    });
    const answer = await reply;
    expect(answer.error).toBeUndefined();
    const output = answer.result!.sentence_embedding!;
    expect(output.dims).toEqual([2, 512]);
    expect(output.data).toBeInstanceOf(Float32Array);
    const norm = Math.hypot(...output.data.subarray(0, 512));
    expect(norm).toBeGreaterThan(0.99);
    expect(norm).toBeLessThan(1.01);
    worker.postMessage({ release: true });
    expect(await exit).toBe(0);
  });

  it('ivf-build trains an IVF index from a vectors file and writes its parts', async () => {
    const dimension = 16;
    const count = 2000;
    const random = mulberry32(7);
    const vectors = new Float32Array(count * dimension).map(() => random() - 0.5);
    const vectorsFile = path.join(tmp, `${mode}.vectors.faiss`);
    writeFileSync(vectorsFile, Buffer.concat([flatHeader(dimension, count), Buffer.from(vectors.buffer)]));
    const job: IvfBuildJob = {
      vectorsFile,
      count,
      dimension,
      nlist: 16,
      description: 'IVF16,Flat',
      trainPoints: 512,
      partBytes: 32 * 1024,
      outPrefix: path.join(tmp, `${mode}.ivf`),
      targetRecall: 0.9,
      maxNprobe: 16,
      tuneQueries: 64,
      seed: 1,
    };
    const { script, args } = launch('ivf-build');
    const child = fork(script, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: ['--expose-gc'] });
    const steps: string[] = [];
    const result = await new Promise<Extract<ChildMessage, { type: 'done' }>['result']>((resolve, reject) => {
      child.on('message', (message: ChildMessage) => {
        if (message.type === 'progress') steps.push(message.step);
        else if (message.type === 'done') resolve(message.result);
        else reject(new Error(message.message));
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
      child.send({ type: 'build', job });
    });
    expect(steps).toContain('train');
    expect(result.nlist).toBe(16);
    expect(result.recall).toBeGreaterThanOrEqual(0.9);
    expect(result.parts.length).toBeGreaterThan(1);
    expect(result.parts.reduce((sum, part) => sum + part.count, 0)).toBe(count);
    for (const part of result.parts) expect(statSync(part.file).size).toBe(part.bytes);
  });

  it('extract-worker extracts a text, asking this thread to embed, and sends the drafts back', async () => {
    const { script, args } = launch('extract-worker');
    const worker = new Worker(script, { argv: args });
    const encoder = await OnnxSentenceEncoder.load(path.dirname(modelPath));
    try {
      const text = '# Storage\n\nWe decided to use SQLite with WAL mode. The store lives in src/main/store.ts.\n\nTODO: add a vacuum job.\n';
      const drafts: Array<{ kind: string; text: string }> = [];
      let embedded = 0;
      const done = new Promise<ExtractWorkerReply>((resolve) => {
        worker.on('message', (reply: ExtractWorkerReply) => {
          if (reply.type === 'embed') {
            embedded += reply.texts.length;
            void encoder.embed(reply.texts).then((vectors) => worker.postMessage({ type: 'vectors', job: 3, call: reply.call, vectors } satisfies ExtractWorkerRequest));
          } else if (reply.type === 'drafts') drafts.push(...reply.drafts);
          else resolve(reply);
        });
      });
      worker.postMessage({ type: 'extract', job: 3, text, options: { source: 'notes.md' } } satisfies ExtractWorkerRequest);
      const end = await done;
      expect(end.type).toBe('done');
      expect(embedded).toBeGreaterThan(0);
      expect(drafts.filter((d) => d.kind === 'decision').map((d) => d.text)).toEqual(['We decided to use SQLite with WAL mode.']);
      expect(drafts.filter((d) => d.kind === 'task').map((d) => d.text)).toEqual(['TODO: add a vacuum job.']);
      // A text over the line limit is refused with the code the hub answers with.
      const refused = new Promise<ExtractWorkerReply>((resolve) => worker.on('message', (reply: ExtractWorkerReply) => reply.job === 4 && resolve(reply)));
      worker.postMessage({ type: 'extract', job: 4, text: 'x'.repeat(100_001), options: {} } satisfies ExtractWorkerRequest);
      expect(await refused).toMatchObject({ type: 'failed', code: 'invalid_request' });
    } finally {
      await worker.terminate();
      await encoder.close();
    }
  });

  it('send-decoder splits a large send into its envelope and body', async () => {
    const { script, args } = launch('send-decoder');
    const worker = new Worker(script, { argv: args });
    const body = 'x'.repeat(100_000);
    const bytes = new TextEncoder().encode(JSON.stringify({ to: 'reviewer', subject: 'large', body }));
    const reply = new Promise<DecodeReply>((resolve) => worker.once('message', resolve));
    worker.postMessage({ id: 7, bytes, nested: false } satisfies DecodeRequest);
    const answer = await reply;
    await worker.terminate();
    expect(answer.id).toBe(7);
    if ('error' in answer) throw new Error(answer.error);
    expect(answer.result.kind).toBe('split');
    if (answer.result.kind !== 'split') return;
    expect(JSON.parse(answer.result.envelope)).toEqual({ to: 'reviewer', subject: 'large', body: '' });
    expect(answer.result.body.utf8Bytes).toBe(100_000);
    expect(JSON.parse(new TextDecoder().decode(answer.result.body.json))).toBe(body);
  });

  it('a2a-decoder takes a large file part out of an A2A request and hands back its base64', async () => {
    const { script, args } = launch('a2a-decoder');
    const worker = new Worker(script, { argv: args });
    const file = Buffer.alloc(100_000, 7);
    const request = {
      jsonrpc: '2.0',
      id: 1,
      method: 'SendMessage',
      params: { message: { messageId: 'm1', role: 'ROLE_USER', parts: [{ text: 'see file' }, { raw: file.toString('base64'), mediaType: 'application/octet-stream' }] } },
    };
    const bytes = new TextEncoder().encode(JSON.stringify(request));
    const reply = new Promise<A2aDecodeReply>((resolve) => worker.once('message', resolve));
    worker.postMessage({ id: 3, bytes, stubPrefix: 'stub:' } satisfies A2aDecodeRequest);
    const answer = await reply;
    await worker.terminate();
    expect(answer.id).toBe(3);
    if ('error' in answer) throw new Error(answer.error);
    expect(answer.result.kind).toBe('parsed');
    if (answer.result.kind !== 'parsed') return;
    expect(answer.result.files).toHaveLength(1);
    expect(Buffer.from(new TextDecoder().decode(answer.result.files[0]!), 'base64').equals(file)).toBe(true);
    const parts = (answer.result.body as typeof request).params.message.parts as Array<Record<string, unknown>>;
    expect(parts[0]).toEqual({ text: 'see file' });
    expect(parts[1]?.url).toBe('stub:0');
    expect(parts[1]?.raw).toBeUndefined();
  });
});
