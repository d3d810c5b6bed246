/**
 * kill -9 of the hub in the middle of a burst of memory stores (batches and singles, many in flight): every memory
 * the hub acknowledged (201) must be there after a restart, exactly once, and findable through search — the vector
 * index (whose files are saved lazily) is reconciled against SQLite on open. The hub runs as a real child process
 * (from source, through tsx) so the kill is a real one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/main/db/database';
import type { MemorySearchResult, MemoryStats, StoredMemory } from '../../src/shared/memory-protocol';
import type { RegisterResponse } from '../../src/shared/agent-protocol';
import { mulberry32 } from '../support/seeded-random';
import { tempDir } from '../helpers';

interface HubProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
}

function startHubProcess(dataDir: string): Promise<HubProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/headless.ts', '--data-dir', dataDir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Open the cockpit: (http:\/\/[^/]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hub exited (${code}):\n${output}`));
    });
  });
}

async function api(url: string, route: string, token: string | null, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/api/v1${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

const COMPONENTS = ['message store', 'agent registry', 'websocket gateway', 'vector index', 'config loader', 'backup scheduler', 'rate limiter', 'token service', 'file watcher', 'migration runner', 'file mailbox', 'keyword index', 'retention job', 'event bus', 'plugin loader', 'crash reporter'];
const EVENTS = ['drops pending messages', 'duplicates heartbeats', 'delays vector updates', 'rejects config changes', 'truncates search results', 'leaks agent tokens', 'loses backup snapshots', 'reorders workflow steps', 'double-counts metric samples', 'throttles upload chunks'];
const CONDITIONS = ['the database is locked', 'two agents reconnect at once', 'the disk is almost full', 'the clock jumps backwards', 'a migration is still running', 'the laptop wakes from sleep', 'the network drops briefly', 'the config is edited by hand', 'a snapshot is restored', 'the socket buffer is full'];
const PEOPLE = ['Ana', 'Bilal', 'Chen', 'Dara', 'Elif', 'Femi', 'Greta', 'Hiro', 'Ines', 'Jonas', 'Kofi', 'Lena'];
const KINDS = ['note', 'fact', 'error', 'decision', 'task'] as const;

/** A distinct developer note carrying its request and position as a unique word (r12n3). */
function note(random: () => number, request: number, position: number): { text: string; kind: (typeof KINDS)[number]; tags: string[] } {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const text =
    `Crash drill r${request}n${position}: ${pick(PEOPLE)} saw the ${pick(COMPONENTS)} ${pick(EVENTS)} when ${pick(CONDITIONS)}, ` +
    `about ${1 + Math.floor(random() * 5000)} times in build ${Math.floor(random() * 100_000)}.`;
  return { text, kind: pick(KINDS), tags: ['crash-drill', `request-${request}`] };
}

describe('memory crash safety', () => {
  it('keeps every acknowledged memory, once and searchable, through a kill -9 during batch stores', async () => {
    const dataDir = tempDir();
    const first = await startHubProcess(dataDir);
    let second: HubProcess | undefined;
    try {
      const registered = await api(first.url, '/agents/register', null, { name: 'rememberer', project: 'crash' });
      expect(registered.status).toBe(201);
      const { token } = registered.body as RegisterResponse;
      const stats0 = await api(first.url, '/memory/stats', token);
      expect(stats0.status).toBe(200);
      const headerFile = path.join(dataDir, 'vectors', `${(stats0.body as MemoryStats).index.model}.json`);
      const savedCount = () => (existsSync(headerFile) ? (JSON.parse(readFileSync(headerFile, 'utf8')) as { count: number }).count : 0);

      // Seed memories, acknowledged and then saved to the vector index's files (debounced, a few seconds later): the
      // crash below then leaves a saved index that is behind SQLite, which the restart must reconcile.
      const random = mulberry32(4242);
      const seed = Array.from({ length: 200 }, (_, position) => note(random, 9999, position));
      const seeded = await api(first.url, '/memory/store', token, { memories: seed });
      expect(seeded.status).toBe(201);
      const seedSaved = Date.now();
      while (savedCount() < seed.length) {
        if (Date.now() - seedSaved > 30_000) throw new Error(`the vector index was not saved within 30 s (${savedCount()} saved)`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      // The burst: requests of 1 (singles) or 10–60 memories, every text unique.
      const requests = Array.from({ length: 160 }, (_, request) => {
        const size = random() < 0.4 ? 1 : 10 + Math.floor(random() * 51);
        return Array.from({ length: size }, (_, position) => note(random, request, position));
      });
      const totalMemories = requests.reduce((n, r) => n + r.length, 0);
      const acknowledged = new Map<number, StoredMemory[]>();
      const failedBeforeKill: string[] = [];
      let killed = false;
      let next = 0;
      // A dozen requests in flight: the engine groups what arrives while it embeds, so acknowledgements come in a
      // steady stream of group commits rather than all at once.
      const sender = async () => {
        while (next < requests.length && !killed) {
          const request = next++;
          const memories = requests[request]!;
          try {
            const reply = await api(first.url, '/memory/store', token, memories.length === 1 ? memories[0] : { memories });
            if (reply.status === 201) acknowledged.set(request, reply.body.stored as StoredMemory[]);
            else if (!killed) failedBeforeKill.push(`request ${request}: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
          } catch (error) {
            if (!killed) failedBeforeKill.push(`request ${request}: ${(error as Error).message}`);
          }
        }
      };
      const senders = Array.from({ length: 12 }, sender);
      const ackedMemories = () => [...acknowledged.values()].reduce((n, stored) => n + stored.length, 0);
      const started = Date.now();
      // Well before the index's next debounced save (5 s after the burst's first memory) and before the end.
      while (ackedMemories() < totalMemories / 8) {
        if (Date.now() - started > 120_000) throw new Error(`only ${ackedMemories()} memories acknowledged after 120 s`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      killed = true;
      first.child.kill('SIGKILL');
      await first.exited;
      await Promise.all(senders);
      expect(failedBeforeKill).toEqual([]);
      // Mid-burst: some requests acknowledged, not all.
      expect(acknowledged.size).toBeGreaterThan(0);
      expect(acknowledged.size).toBeLessThan(requests.length);
      acknowledged.set(-1, seeded.body.stored as StoredMemory[]);
      // The index files on disk miss acknowledged memories: only the seed was saved before the kill.
      const savedAtKill = savedCount();
      expect(savedAtKill).toBeLessThan(ackedMemories());

      second = await startHubProcess(dataDir);
      const url = second.url;
      // The first memory request waits for the engine to open, which reconciles the vector index with SQLite.
      const stats = (await api(url, '/memory/stats', token)).body as MemoryStats;

      // 1. Every acknowledged memory is there, under the id it was acknowledged with, with its text.
      const ackedIds = new Map<string, string | null>();
      for (const [request, stored] of acknowledged) {
        stored.forEach((item, position) => {
          // A reinforced outcome names an earlier memory (a near-identical one): it must be there too. One that
          // supersedes an earlier memory is new, with the text sent.
          const sent = request === -1 ? seed[position]! : requests[request]![position]!;
          ackedIds.set(item.memory.id, item.outcome === 'reinforced' ? null : sent.text);
        });
      }
      const missing: string[] = [];
      const wrongText: string[] = [];
      for (const [id, text] of ackedIds) {
        const reply = await api(url, `/memory/${id}`, token);
        if (reply.status !== 200) missing.push(`${id} (${text}): HTTP ${reply.status}`);
        else if (text !== null && reply.body.text !== text) wrongText.push(`${id}: ${reply.body.text} != ${text}`);
      }
      expect(missing).toEqual([]);
      expect(wrongText).toEqual([]);

      // 2. The vector index holds exactly the memories SQLite holds (none lost with the unsaved index files, none twice).
      expect(stats.total).toBeGreaterThanOrEqual(ackedIds.size);
      expect(stats.total).toBeLessThanOrEqual(totalMemories + seed.length);
      expect(stats.index.size).toBe(stats.total);

      // 3. Search finds acknowledged memories by their text through both sides, the vector side with its own vector:
      //    the last acknowledged requests (the likeliest to be missing from the saved index files) and a sample.
      const createdIds = [...ackedIds].filter(([, text]) => text !== null) as Array<[string, string]>;
      const sample = [...createdIds.slice(-25), ...createdIds.filter((_, i) => i % Math.max(1, Math.floor(createdIds.length / 25)) === 0)];
      const notFound: string[] = [];
      for (const [id, text] of sample) {
        // With history: a drill note superseded by a later one that differs only in its numbers is still stored.
        const result = (await api(url, `/memory/search?q=${encodeURIComponent(text)}&k=5&includeHistory=true`, token)).body as MemorySearchResult;
        const hit = result.hits.find((h) => h.memory.id === id);
        if (!hit || hit.scores.vectorRank === null || hit.scores.vectorSimilarity! < 0.99 || hit.scores.keywordRank === null) {
          notFound.push(`${id} ${text}: ${JSON.stringify(hit?.scores ?? result.hits.map((h) => h.memory.text))}`);
        }
        const ids = result.hits.map((h) => h.memory.id);
        expect(new Set(ids).size).toBe(ids.length);
      }
      expect(notFound).toEqual([]);

      const reinforced = [...acknowledged.values()].flat().filter((item) => item.outcome === 'reinforced').length;
      console.log(
        `acknowledged ${acknowledged.size - 1}/${requests.length} burst requests (${ackedMemories() - seed.length}/${totalMemories} memories) + ${seed.length} seed; ` +
          `${reinforced} reinforced; index saved with ${savedAtKill} at the kill; after restart ${stats.total} memories, index ${stats.index.kind} of ${stats.index.size}`,
      );

      // 4. The engine goes on storing and finding after the crash (ids and index positions do not clash).
      const fresh = await api(url, '/memory/store', token, { text: 'The staging hub listens on port 7411 again since the restart.', kind: 'fact' });
      expect(fresh.status).toBe(201);
      expect(fresh.body.stored[0].outcome).toBe('created');
      const found = (await api(url, `/memory/search?q=${encodeURIComponent('which port does the staging hub listen on')}&k=3`, token)).body as MemorySearchResult;
      expect(found.hits[0]?.memory.id).toBe(fresh.body.stored[0].memory.id);
      const after = (await api(url, '/memory/stats', token)).body as MemoryStats;
      expect(after.total).toBe(stats.total + 1);
      expect(after.index.size).toBe(after.total);

      // 5. Nothing stored twice: every text once in SQLite (read beside the running hub; WAL readers do not block).
      const db = openDatabase(path.join(dataDir, 'memory.sqlite'), { readonly: true });
      try {
        const rows = db.prepare('SELECT COUNT(*) AS count, COUNT(DISTINCT text) AS texts, COUNT(DISTINCT text_hash) AS hashes FROM memories').get() as {
          count: number;
          texts: number;
          hashes: number;
        };
        expect(rows.count).toBe(after.total);
        expect(rows.texts).toBe(rows.count);
        expect(rows.hashes).toBe(rows.count);
        const vectors = db.prepare('SELECT COUNT(*) FROM embeddings').pluck().get() as number;
        expect(vectors).toBe(rows.count);
      } finally {
        db.close();
      }
    } finally {
      if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
      if (second && second.child.exitCode === null && second.child.signalCode === null) {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    }
  }, 300_000);
});
