/**
 * The advisor's rules, each provoked on a real hub (its SQLite files, agents, sockets, encoder, event loop and file
 * systems) with a low threshold from config.json's `advisor` section, and its fixes with their before/after figures.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Advice, AdviceReport, FixResult } from '../../src/shared/advice-protocol';
import type { AppConfig } from '../../src/main/config/config';
import { openDatabase } from '../../src/main/db/database';
import { tempDir } from '../helpers';
import { openSocket, startHub, until, type TestHub } from '../hub/harness';

type Settings = Partial<AppConfig['advisor']>;

async function hubWith(advisor: Settings, configure?: (config: AppConfig) => void): Promise<TestHub> {
  return startHub({
    configure: (config) => {
      // Only the rule under test fires: everything else at a threshold it cannot reach here.
      Object.assign(config.advisor, { diskFreeBytes: 0, heapShare: 1, gcShare: 1, stallMs: 60_000 }, advisor);
      configure?.(config);
    },
  });
}

async function advice(hub: TestHub, token = hub.app.cockpitToken): Promise<AdviceReport> {
  const { status, body } = await hub.api('/performance/advice', { token });
  expect(status).toBe(200);
  return body as AdviceReport;
}

const find = (report: AdviceReport, id: string): Advice | undefined => report.advice.find((a) => a.id === id);

async function send(hub: TestHub, from: string, to: string, n: number, body = 'x'.repeat(2000)) {
  for (let i = 0; i < n; i++) {
    const { status } = await hub.api(`/agents/${to}/messages`, { token: from, body: { body: `${i} ${body}` } });
    expect(status).toBe(201);
  }
}

describe('advisor rules on a real hub', () => {
  it('names a grown WAL and checkpoints it from the cockpit, with the file size before and after', async () => {
    const hub = await hubWith({ walBytes: 64 * 1024 });
    const a = await hub.register('a');
    const b = await hub.register('b');
    await send(hub, a.token, b.agent.id, 60);
    const wal = path.join(hub.dataDir, 'hub.sqlite-wal');
    await until(() => statSync(wal).size > 64 * 1024, 5000, 'the WAL to grow');

    const found = find(await advice(hub), 'sqlite-wal.hub')!;
    expect(found).toMatchObject({ rule: 'sqlite-wal', fix: { kind: 'checkpoint', safe: true } });
    expect(found.title).toMatch(/^the hub database's WAL is \d/);
    expect(found.evidence[0]).toMatchObject({ label: 'hub.sqlite-wal', unit: 'bytes' });

    // Agents read advice but only the cockpit applies fixes.
    expect((await advice(hub, a.token)).advice.some((x) => x.id === 'sqlite-wal.hub')).toBe(true);
    expect((await hub.api('/performance/advice/sqlite-wal.hub/fix', { method: 'POST', token: a.token })).status).toBe(403);
    expect((await hub.api('/performance/advice')).status).toBe(401);

    const { status, body } = await hub.api('/performance/advice/sqlite-wal.hub/fix', { method: 'POST', token: hub.app.cockpitToken });
    expect(status).toBe(200);
    const result = body as FixResult;
    expect(result).toMatchObject({ adviceId: 'sqlite-wal.hub', kind: 'checkpoint', ok: true, automatic: false });
    expect(result.figures[0]!.before).toBeGreaterThan(64 * 1024);
    expect(result.figures[0]!.after).toBe(0);
    expect(find(await advice(hub), 'sqlite-wal.hub')).toBeUndefined();
    expect((await advice(hub)).recentFixes[0]).toMatchObject({ adviceId: 'sqlite-wal.hub', ok: true });
    // Gone: a second fix has nothing to fix.
    expect((await hub.api('/performance/advice/sqlite-wal.hub/fix', { method: 'POST', token: hub.app.cockpitToken })).status).toBe(404);
  });

  it('checkpoints on its own with advisor.autoFix', async () => {
    const hub = await hubWith({ walBytes: 64 * 1024, autoFix: true, evaluateSeconds: 1 });
    const a = await hub.register('a');
    const b = await hub.register('b');
    await send(hub, a.token, b.agent.id, 60);
    await until(() => statSync(path.join(hub.dataDir, 'hub.sqlite-wal')).size > 64 * 1024, 5000, 'the WAL to grow');
    let report: AdviceReport | undefined;
    await until(() => {
      void advice(hub).then((r) => (report = r));
      return report?.recentFixes.some((fix) => fix.automatic && fix.adviceId === 'sqlite-wal.hub') ?? false;
    }, 10_000, 'the automatic checkpoint');
    expect(report!.autoFix).toBe(true);
    expect(report!.recentFixes[0]!.figures[0]!.after).toBeLessThan(64 * 1024);
  });

  it('names checkpoints held back by a long read, since when, and says the checkpoint cannot pass it', async () => {
    const hub = await hubWith({ checkpointLagBytes: 32 * 1024 });
    const a = await hub.register('a');
    const b = await hub.register('b');
    // Another connection in the middle of a read: checkpoints cannot copy past its snapshot.
    const reader = openDatabase(path.join(hub.dataDir, 'hub.sqlite'));
    reader.exec('BEGIN');
    reader.prepare('SELECT COUNT(*) FROM agents').get();
    try {
      await send(hub, a.token, b.agent.id, 40);
      await until(() => (hub.app.hub().checkpointer.lag()?.behindFrames ?? 0) * 4096 > 32 * 1024, 10_000, 'checkpoints to fall behind');
      const found = find(await advice(hub), 'sqlite-checkpoint-lag.hub')!;
      expect(found.title).toMatch(/^checkpoints of the hub database are [\d.]+ (KB|MB) behind since \d\d:\d\d:\d\d$/);
      expect(found.evidence[0]!.since).not.toBeNull();
      const result = await hub.app.handlers['advice.fix']({ id: found.id });
      expect(result).toMatchObject({ ok: false, error: 'a reader or writer kept the checkpoint from finishing; try again' });
    } finally {
      reader.exec('COMMIT');
      reader.close();
    }
    // Once the read ends the worker catches up by itself.
    await until(() => hub.app.hub().checkpointer.lag()?.behindFrames === 0, 10_000, 'checkpoints to catch up');
    expect(find(await advice(hub), 'sqlite-checkpoint-lag.hub')).toBeUndefined();
  });

  it('names free pages and vacuums them in a worker, with the free bytes before and after', async () => {
    const hub = await hubWith({ freePageBytes: 256 * 1024, freePageShare: 0.1 });
    const db = hub.app.hub().db;
    db.exec('CREATE TABLE scratch (x BLOB)');
    const insert = db.prepare('INSERT INTO scratch VALUES (randomblob(4000))');
    for (let i = 0; i < 300; i++) insert.run();
    db.exec('DROP TABLE scratch');

    const found = find(await advice(hub), 'sqlite-free-pages.hub')!;
    expect(found).toMatchObject({ rule: 'sqlite-free-pages', fix: { kind: 'vacuum', safe: false } });
    const result = await hub.app.handlers['advice.fix']({ id: 'sqlite-free-pages.hub' });
    expect(result.ok).toBe(true);
    expect(result.figures[0]).toMatchObject({ label: 'free pages', unit: 'bytes', after: 0 });
    expect(result.figures[0]!.before).toBeGreaterThan(256 * 1024);
    expect(result.figures[1]!.after).toBeLessThan(result.figures[1]!.before);
  });

  it("names an agent offline with a backlog, shows it only to that project's agents, and revokes it", async () => {
    const hub = await hubWith({ offlineMinutes: 60, inboxUnread: 5 });
    const a = await hub.register('a');
    const tester = await hub.register('tester');
    const other = await hub.register('elsewhere', { project: 'other' });
    await send(hub, a.token, tester.agent.id, 7, 'hello');
    expect(find(await advice(hub), `offline-inbox.${tester.agent.id}`)).toBeUndefined();
    // Last seen two hours ago: what the registry holds for an agent that went away then.
    hub.app.hub().registry.get(tester.agent.id).lastSeen = Date.now() - 2 * 3_600_000;

    const found = find(await advice(hub), `offline-inbox.${tester.agent.id}`)!;
    expect(found.title).toBe('agent `tester` has 7 unread and has been offline 2.0 h');
    expect(found.fix).toMatchObject({ kind: 'revoke-agent', safe: false });
    expect(find(await advice(hub, a.token), found.id)).toBeDefined();
    expect(find(await advice(hub, other.token), found.id)).toBeUndefined();

    const result = await hub.app.handlers['advice.fix']({ id: found.id });
    expect(result).toMatchObject({ ok: true, figures: [{ before: 1, after: 0 }] });
    expect(hub.app.hub().registry.info(hub.app.hub().registry.get(tester.agent.id)).revoked).toBe(true);
    expect(find(await advice(hub), found.id)).toBeUndefined();
  });

  it('names a connected agent that does not take its messages (a slow consumer)', async () => {
    const hub = await hubWith({ slowConsumerUnread: 10 });
    const a = await hub.register('a');
    const b = await hub.register('b');
    const socket = await openSocket(hub.url, b.agent.id, b.token);
    await send(hub, a.token, b.agent.id, 12, 'unacknowledged');
    await until(() => socket.messages().length === 12, 5000, 'deliveries');
    const found = find(await advice(hub), `slow-consumer.${b.agent.id}`)!;
    expect(found.title).toBe('agent `b` is connected but 12 messages wait for it');
    expect(found.fix).toBeNull();
    socket.ws.close();
  });

  it('names low disk space in the data and backup folders (threshold above what is free)', async () => {
    const backupDir = tempDir();
    const hub = await hubWith({}, (config) => {
      config.advisor.diskFreeBytes = Number.MAX_SAFE_INTEGER;
      config.backup.target = backupDir;
    });
    const report = await advice(hub);
    expect(find(report, 'disk-free.data')!.title).toContain(hub.dataDir);
    expect(find(report, 'disk-free.backup')!.title).toContain(backupDir);
    expect(find(report, 'disk-free.data')!.evidence[0]).toMatchObject({ label: 'free space', unit: 'bytes' });
  });

  it('records an event-loop stall with its time, length and the request that ran', async () => {
    const hub = await hubWith({ stallMs: 150 });
    const { measurements } = hub.app.hub().advisor;
    // A CPU-bound request on the hub's own thread (the test runs in the hub's process), held 400 ms.
    const request = {};
    measurements.requestStarted(request, 'POST /api/v1/memory/extract');
    const until400 = performance.now() + 400;
    while (performance.now() < until400) {
      /* busy */
    }
    measurements.requestFinished(request);
    await new Promise((resolve) => setTimeout(resolve, 120));
    const found = find(await advice(hub), 'event-loop-stall')!;
    expect(found.title).toMatch(/^the event loop stalled [\d.]+ m?s at \d\d:\d\d:\d\d/);
    // Other stalls of a loaded machine may be listed too; this one is there with its time, length and request.
    const ours = found.evidence.find((e) => e.label === 'stall during POST /api/v1/memory/extract')!;
    expect(ours.value).toBeGreaterThanOrEqual(300);
    expect(Date.parse(ours.since!)).toBeGreaterThan(Date.now() - 10_000);
  });

  it('names GC pressure and a heap near its limit, with what the services hold', async () => {
    const hub = await hubWith({ gcShare: 1e-6, heapShare: 1e-6 });
    let keep = 0;
    for (let i = 0; i < 200; i++) keep += new Array(50_000).fill(i).length;
    expect(keep).toBeGreaterThan(0);
    await until(() => hub.app.hub().advisor.measurements.gc().count > 0, 5000, 'a garbage collection');
    const report = await advice(hub);
    expect(find(report, 'gc-pressure')!.title).toMatch(/^garbage collection took \d+% of the last minute$/);
    expect(find(report, 'heap-usage')!.evidence.map((e) => e.label)).toContain('heap used');
  });

  it('names a deep inference queue', async () => {
    const hub = await hubWith({ inferenceQueue: 20 });
    const memory = await hub.app.hub().memory.store();
    const texts = Array.from({ length: 40 }, (_, i) => `queued text number ${i} about the staging database`);
    const running = [memory.encoder.embed(texts.slice(0, 20)), memory.encoder.embed(texts.slice(20))];
    // Through the cockpit call, evaluated before the worker can answer (its replies are later tasks of the loop).
    const found = find(await hub.app.handlers['advice.list']({}), 'inference-queue');
    await Promise.all(running);
    expect(found!.title).toMatch(/^40 texts are waiting for the encoder/);
    expect(find(await advice(hub), 'inference-queue')).toBeUndefined();
  });
});
