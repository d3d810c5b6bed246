/**
 * Memory replicated across hubs joined through a real redis-server: a memory stored on one hub is found by search on
 * the others with the same uid and without being embedded there; edits and deletes travel both ways; the project
 * rule holds on every hub; a change made while Redis is away reaches the others once it is back; a hub that joins
 * later reads every memory the cluster has.
 */
import path from 'node:path';
import { createClient, RESP_TYPES } from 'redis';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ClusterState } from '../../src/shared/cluster-protocol';
import type { Memory } from '../../src/shared/memory-protocol';
import type { ReplicatedChange } from '../../src/main/memory/store-replica';
import { writeTinySentenceTransformer } from '../embedding/st-fixture';
import { startHub, type TestHub } from '../hub/harness';
import { tempDir } from '../helpers';
import { redisUnavailable } from '../support/redis-server';
import { clusterHub, redis, until } from './support';

const unavailable = redisUnavailable();

/** Every text the hub's sentence encoder is asked to embed (the real encoder still does the work). */
async function embeddedTexts(hub: TestHub): Promise<string[]> {
  const encoder = await hub.app.encoder();
  const seen: string[] = [];
  const embed = encoder.embed.bind(encoder);
  encoder.embed = (texts, options) => {
    seen.push(...texts);
    return embed(texts, options);
  };
  return seen;
}

const cluster = async (hub: TestHub): Promise<ClusterState> => (await hub.api('/cluster', { token: hub.app.cockpitToken })).body;

interface Agent {
  id: string;
  token: string;
}

async function agent(hub: TestHub, name: string, project: string): Promise<Agent> {
  const { agent: info, token } = await hub.register(name, { project });
  return { id: info.id, token };
}

async function store(hub: TestHub, who: Agent, text: string, extra: Record<string, unknown> = {}): Promise<Memory> {
  const { status, body } = await hub.api('/memory/store', { token: who.token, body: { text, kind: 'fact', ...extra } });
  expect(status).toBe(201);
  return body.stored[0].memory as Memory;
}

const read = async (hub: TestHub, who: Agent, uid: string) => hub.api(`/memory/${uid}`, { token: who.token });
const search = async (hub: TestHub, who: Agent, query: string, scope = 'project') =>
  (await hub.api(`/memory/search?q=${encodeURIComponent(query)}&scope=${scope}&k=10`, { token: who.token })).body as { hits: Array<{ memory: Memory }> };

describe.skipIf(unavailable !== null)(`memory across hubs joined through Redis${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('finds a memory stored on one hub on the other, same uid, not embedded again; edits and deletes travel back; the project rule holds', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    const embeddedOnB = await embeddedTexts(b);
    const writer = await agent(a, 'writer', 'alpha');
    const reader = await agent(b, 'reader', 'alpha');
    const stranger = await agent(b, 'stranger', 'gamma');

    const port = await store(a, writer, 'The staging database listens on port 5433', { tags: ['db'] });
    const deploys = await store(a, writer, 'Deploys go out through the blue-green pipeline on Fridays', { shared: true });

    const onB = await until('the memory on hub B', async () => {
      const answer = await read(b, reader, port.id);
      return answer.status === 200 && (answer.body as Memory);
    });
    expect(onB).toMatchObject({ id: port.id, project: 'alpha', agent: writer.id, kind: 'fact', text: port.text, tags: ['db'], shared: false, createdAt: port.createdAt });
    await until('the second memory on hub B', async () => (await read(b, reader, deploys.id)).status === 200);
    // B stored them with A's vectors: its encoder never saw their texts.
    expect(embeddedOnB).not.toContain(port.text);
    expect(embeddedOnB).not.toContain(deploys.text);
    expect((await cluster(b)).memory).toMatchObject({ embeddedHere: 0, lastError: null });
    expect((await cluster(b)).memory!.applied).toBeGreaterThanOrEqual(2);

    // Found by search on B (the query is embedded there, the memory is not).
    const found = await search(b, reader, 'which port does the staging database use');
    expect(found.hits[0]!.memory.id).toBe(port.id);
    expect(embeddedOnB).not.toContain(port.text);

    // Another project's agent on B: the private memory does not exist for it; the shared one is found with scope=shared.
    expect((await read(b, stranger, port.id)).status).toBe(404);
    const asStranger = await search(b, stranger, 'staging database port deploys pipeline', 'shared');
    expect(asStranger.hits.map((hit) => hit.memory.id)).not.toContain(port.id);
    expect(asStranger.hits.map((hit) => hit.memory.id)).toContain(deploys.id);
    expect((await search(b, stranger, 'staging database port')).hits).toEqual([]);

    // Edited on B: tags, importance and sharing show on A.
    const patched = await b.api(`/memory/${port.id}`, { method: 'PATCH', token: reader.token, body: { tags: ['db', 'staging'], importance: 0.9, shared: true } });
    expect(patched.status).toBe(200);
    const edited = await until('the edit on hub A', async () => {
      const memory = (await read(a, writer, port.id)).body as Memory;
      return memory.importance === 0.9 && memory;
    });
    expect(edited).toMatchObject({ tags: ['db', 'staging'], importance: 0.9, shared: true });
    // Shared now: the other project's agent on B reads it.
    expect((await read(b, stranger, port.id)).status).toBe(200);

    // Deleted on B: gone on A.
    expect((await b.api(`/memory/${deploys.id}`, { method: 'DELETE', token: reader.token })).status).toBe(204);
    await until('the delete on hub A', async () => (await read(a, writer, deploys.id)).status === 404);
    expect((await search(a, writer, 'blue-green pipeline Fridays')).hits.map((hit) => hit.memory.id)).not.toContain(deploys.id);

    // Decided on A, followed on B: a restatement reinforces the memory, a newer value supersedes it.
    const again = await a.api('/memory/store', { token: writer.token, body: { text: 'The staging database listens on port 5433.', kind: 'fact' } });
    expect(again.body.stored[0]).toMatchObject({ outcome: 'reinforced', memory: { id: port.id, reinforcements: 1 } });
    await until('the reinforcement on hub B', async () => ((await read(b, reader, port.id)).body as Memory).reinforcements === 1);
    const moved = await a.api('/memory/store', { token: writer.token, body: { text: 'The staging database listens on port 6543', kind: 'fact' } });
    expect(moved.body.stored[0]).toMatchObject({ outcome: 'supersedes', memory: { supersedes: port.id } });
    const newer = moved.body.stored[0].memory as Memory;
    const history = await until('the supersession on hub B', async () => {
      const memory = (await read(b, reader, port.id)).body as Memory;
      return memory.supersededBy === newer.id && memory;
    });
    expect(history.supersededBy).toBe(newer.id);
    expect((await search(b, reader, 'which port does the staging database use')).hits[0]!.memory.id).toBe(newer.id);

    // Applying the same changes again (as a hub reading the stream twice would) changes nothing.
    const raw = createClient({ url: server.url }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    await raw.connect();
    onTestFinished(() => raw.close());
    const entries = (await raw.xRange('devenviro:memory-changes', '-', '+')) ?? [];
    expect(entries.length).toBeGreaterThanOrEqual(6);
    const changes = entries.map(({ message }) => {
      const change = JSON.parse(message.change!.toString()) as ReplicatedChange;
      const vector = message.vector as Buffer | undefined;
      return { ...change, vector: vector && new Float32Array(new Uint8Array(vector).buffer) };
    });
    const storeB = b.app.hub().memory.openedStore()!;
    const before = storeB.size();
    expect(await storeB.replica().apply(changes, null)).toEqual({ applied: 0, embedded: 0 });
    expect(storeB.size()).toBe(before);
    expect(storeB.get(port.id)).toMatchObject({ tags: ['db', 'staging'], shared: true, reinforcements: 1, supersededBy: newer.id });
    await until('nothing left to send', async () => (await cluster(a)).memory?.waiting === 0 && (await cluster(b)).memory?.waiting === 0);
  });

  it('keeps memories stored while Redis is away and sends them once it is back', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    const writer = await agent(a, 'writer', 'alpha');
    const reader = await agent(b, 'reader', 'alpha');
    const first = await store(a, writer, 'The build cache lives in /var/cache/builds');
    await until('the first memory on hub B', async () => (await read(b, reader, first.id)).status === 200);

    await server.kill9();
    await until('hub A notices', async () => !(await cluster(a)).connected);
    const offline = await store(a, writer, 'Release branches are cut every second Monday');
    expect((await read(a, writer, offline.id)).status).toBe(200);
    expect((await cluster(a)).memory!.waiting).toBeGreaterThanOrEqual(1);

    await server.restart();
    const arrived = await until('the memory stored meanwhile on hub B', async () => {
      const answer = await read(b, reader, offline.id);
      return answer.status === 200 && (answer.body as Memory);
    });
    expect(arrived).toMatchObject({ id: offline.id, text: offline.text, project: 'alpha' });
    expect((await search(b, reader, 'when are release branches cut')).hits[0]!.memory.id).toBe(offline.id);
    await until('hub A sent everything', async () => (await cluster(a)).memory?.waiting === 0);
  });

  it('gives a hub that joins later every memory the cluster has, and shares the memories it brings', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const writer = await agent(a, 'writer', 'alpha');
    const early = await store(a, writer, 'Feature flags are read from flags.yaml at start');
    const removed = await store(a, writer, 'The old metrics endpoint is /stats');
    expect((await a.api(`/memory/${removed.id}`, { method: 'DELETE', token: writer.token })).status).toBe(204);
    await until('hub A sent everything', async () => (await cluster(a)).memory?.waiting === 0);

    // A hub that ran on its own first, with a memory of its own, then joins.
    const alone = await startHub();
    const local = await agent(alone, 'local', 'alpha');
    const brought = await store(alone, local, 'Nightly backups go to the NAS at 02:00');
    const dataDir = alone.dataDir;
    await alone.app.stop();
    const c = await startHub({
      dataDir,
      configure: (config) => {
        config.cluster.redis = server.url;
        config.cluster.hubName = 'c';
      },
    });
    const reader = await agent(c, 'reader', 'alpha');
    const joined = await until('the early memory on hub C', async () => {
      const answer = await read(c, reader, early.id);
      return answer.status === 200 && (answer.body as Memory);
    });
    expect(joined.text).toBe(early.text);
    expect((await read(c, reader, removed.id)).status).toBe(404);
    // The counter moves once the whole resync is over (deletes and C's own memories too), not at the first page.
    const resynced = await until('hub C\'s full resync over', async () => (await cluster(c)).memory?.fullResyncs === 1 && (await cluster(c)).memory);
    expect(resynced).toMatchObject({ fullResyncs: 1, embeddedHere: 0 });
    // What C brought reaches A.
    await until('the memory hub C brought, on hub A', async () => (await read(a, writer, brought.id)).status === 200);
  });

  it('has a hub on another embedding model embed what arrives once, itself, and find it', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const modelDir = writeTinySentenceTransformer(path.join(tempDir(), 'tiny-st'));
    const c = await startHub({
      configure: (config) => {
        config.cluster.redis = server.url;
        config.cluster.hubName = 'c';
        config.memory.modelDir = modelDir;
      },
    });
    // C switches to its own model in the background at start; memories arriving after that are of another model.
    await until('hub C on its own model', async () => {
      const model = (await c.api('/memory/model', { token: c.app.cockpitToken })).body;
      return model.switching === null && model.active.dir === modelDir && model;
    }, 60_000);
    const writer = await agent(a, 'writer', 'alpha');
    const reader = await agent(c, 'reader', 'alpha');
    const memory = await store(a, writer, 'the cats ran to the dog');
    await until('the memory on hub C', async () => (await read(c, reader, memory.id)).status === 200);
    expect((await cluster(c)).memory).toMatchObject({ embeddedHere: 1 });
    const found = await search(c, reader, 'the cats ran to the dog');
    expect(found.hits[0]!.memory.id).toBe(memory.id);
  });
});
