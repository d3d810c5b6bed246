/**
 * Updates and contradictions over a real hub (real encoder, SQLite and FAISS): a newer value of a stored fact
 * supersedes it and search returns the current one; restatements reinforce; history on request; over HTTP and MCP.
 * Also: cockpit searches are not uses.
 */
import { describe, expect, it } from 'vitest';
import { call, connect } from '../mcp/mcp-client';
import { cockpitCall, startHub, until } from '../hub/harness';
import { mulberry32 } from '../support/seeded-random';

interface Stored {
  outcome: string;
  similarity?: number;
  superseded?: { id: string; text: string; because: string };
  memory: { id: string; text: string; supersedes: string | null; supersededBy: string | null; accessCount: number };
}

async function setup() {
  const hub = await startHub();
  const { agent, token } = await hub.register('builder', { project: 'shop' });
  const store = async (text: string, kind = 'fact', who = token): Promise<Stored> => {
    const { status, body } = await hub.api('/memory/store', { token: who, body: { text, kind } });
    expect(status, JSON.stringify(body)).toBe(201);
    return body.stored[0] as Stored;
  };
  const search = async (q: string, extra = '', who = token) => {
    const { status, body } = await hub.api(`/memory/search?q=${encodeURIComponent(q)}${extra}`, { token: who });
    expect(status, JSON.stringify(body)).toBe(200);
    return body.hits as Array<{ memory: Stored['memory'] }>;
  };
  return { hub, agent, token, store, search };
}

describe('supersession over HTTP', () => {
  it('a newer version supersedes the old one; search returns the current one, history on request', async () => {
    const { hub, token, store, search } = await setup();
    const old = await store('Use Node 18 for the build.', 'decision');
    expect(old.outcome).toBe('created');
    const updated = await store('Use Node 22 for the build.', 'decision');
    expect(updated).toMatchObject({
      outcome: 'supersedes',
      superseded: { id: old.memory.id, text: 'Use Node 18 for the build.', because: 'value' },
      memory: { text: 'Use Node 22 for the build.', supersedes: old.memory.id, supersededBy: null },
    });
    expect(updated.memory.id).not.toBe(old.memory.id);

    // The old one stays, as history.
    const history = await hub.api(`/memory/${old.memory.id}`, { token });
    expect(history.body).toMatchObject({ text: 'Use Node 18 for the build.', supersededBy: updated.memory.id, supersedes: null });

    const current = await search('which node version does the build use');
    expect(current.map((hit) => hit.memory.text)).toEqual(['Use Node 22 for the build.']);
    const all = await search('which node version does the build use', '&includeHistory=true');
    expect(all.map((hit) => hit.memory.text).sort()).toEqual(['Use Node 18 for the build.', 'Use Node 22 for the build.']);
    expect(all.find((hit) => hit.memory.id === old.memory.id)!.memory.supersededBy).toBe(updated.memory.id);

    // Said again, the current value reinforces; the old value said again is a newer update of its own.
    const restated = await store('The build should use Node 22.', 'decision');
    expect(restated).toMatchObject({ outcome: 'reinforced', memory: { id: updated.memory.id } });
    const back = await store('Use Node 18 for the build.', 'decision');
    expect(back).toMatchObject({ outcome: 'supersedes', superseded: { id: updated.memory.id } });
    expect((await search('node version for the build')).map((hit) => hit.memory.id)).toEqual([back.memory.id]);
  });

  it('a changed number, a negation; unrelated notes stay apart; deleting the update restores the old value', async () => {
    const { hub, token, store, search } = await setup();
    const limit = await store('Rate limit is 100 requests per minute.');
    const raised = await store('Rate limit is 1000 requests per minute.');
    expect(raised).toMatchObject({ outcome: 'supersedes', superseded: { id: limit.memory.id } });

    const flags = await store('Use feature flags for risky changes.', 'decision');
    const negated = await store('Do not use feature flags for risky changes.', 'decision');
    expect(negated).toMatchObject({ outcome: 'supersedes', superseded: { id: flags.memory.id, because: 'negation' } });

    // Near in words, another subject: separate memories, both current.
    const staging = await store('The staging database runs on port 5433.');
    const production = await store('The production database runs on port 5432.');
    expect(production.outcome).toBe('created');
    expect((await hub.api(`/memory/${staging.memory.id}`, { token })).body.supersededBy).toBeNull();
    expect((await store('Login locks an account after 5 failed attempts.')).outcome).toBe('created');

    expect((await search('rate limit per minute', '&k=3')).map((hit) => hit.memory.text)).not.toContain('Rate limit is 100 requests per minute.');
    expect((await hub.api(`/memory/${raised.memory.id}`, { method: 'DELETE', token })).status).toBe(204);
    expect((await hub.api(`/memory/${limit.memory.id}`, { token })).body.supersededBy).toBeNull();
    expect((await search('rate limit per minute', '&k=1')).map((hit) => hit.memory.text)).toEqual(['Rate limit is 100 requests per minute.']);
  });

  it('supersedes only within the project: another project\'s newer value is its own memory', async () => {
    const { hub, store } = await setup();
    const blog = await hub.register('writer', { project: 'blog' });
    const shop = await store('Production deploys happen on Fridays.');
    const other = await store('Production deploys happen on Wednesdays.', 'fact', blog.token);
    expect(other.outcome).toBe('created');
    expect((await hub.api(`/memory/${shop.memory.id}`, { token: hub.app.cockpitToken })).body.supersededBy).toBeNull();
  });

  it('notes that differ only in a number or a date are updates, not reinforcements (130 of them)', async () => {
    const { hub } = await setup();
    const pairs = numberAndDateUpdates(130);
    // Each pair in a project of its own (the cockpit names any), so only the pair's two notes meet.
    const storeAll = async (texts: string[]) => {
      const { status, body } = await hub.api('/memory/store', {
        token: hub.app.cockpitToken,
        body: { memories: texts.map((text, i) => ({ text, kind: 'fact', project: `p${i}` })) },
      });
      expect(status).toBe(201);
      return body.stored as Stored[];
    };
    const olds = await storeAll(pairs.map((pair) => pair.old));
    expect(olds.every((stored) => stored.outcome === 'created')).toBe(true);
    const news = await storeAll(pairs.map((pair) => pair.new));
    const missed = news.map((stored, i) => ({ ...pairs[i]!, outcome: stored.outcome })).filter((pair) => pair.outcome !== 'supersedes');
    expect(missed).toEqual([]);
  });
});

describe('supersession over MCP', () => {
  it('memory_store answers supersedes; memory_search returns the current memory, history on request', async () => {
    const hub = await startHub();
    const agent = await hub.register('mcp-agent', { project: 'alpha' });
    const { client } = await connect(hub, agent.token);
    const first = await call(client, 'memory_store', { text: 'The request timeout is 30 seconds.', kind: 'fact' });
    const second = await call(client, 'memory_store', { text: 'The request timeout is 45 seconds.', kind: 'fact' });
    const oldId = (first.structuredContent as { stored: Stored[] }).stored[0]!.memory.id;
    expect((second.structuredContent as { stored: Stored[] }).stored[0]).toMatchObject({ outcome: 'supersedes', superseded: { id: oldId } });
    const found = await call(client, 'memory_search', { query: 'how long before a request times out', k: 5 });
    expect((found.structuredContent as { hits: Array<{ memory: Stored['memory'] }> }).hits.map((hit) => hit.memory.text)).toEqual(['The request timeout is 45 seconds.']);
    const history = await call(client, 'memory_search', { query: 'how long before a request times out', k: 5, includeHistory: true });
    const hits = (history.structuredContent as { hits: Array<{ memory: Stored['memory'] }> }).hits;
    expect(hits.find((hit) => hit.memory.id === oldId)?.memory.supersededBy).toBe((second.structuredContent as { stored: Stored[] }).stored[0]!.memory.id);
    await client.close();
  });
});

describe('cockpit searches', () => {
  it('do not count as uses (HTTP with the cockpit token, the cockpit socket); an agent\'s search does', async () => {
    const { hub, token, store } = await setup();
    const looked = await store('The staging cache is flushed at midnight.');
    const marker = await store('Invoices are generated on the first day of the month.');
    const cockpit = hub.app.cockpitToken;
    const accessCount = async (id: string) => (await hub.api(`/memory/${id}`, { token: cockpit })).body.accessCount as number;
    const q = encodeURIComponent('when is the staging cache flushed');
    expect((await hub.api(`/memory/search?q=${q}&scope=all&k=1`, { token: cockpit })).body.hits[0].memory.id).toBe(looked.memory.id);
    expect((await cockpitCall(hub, 'memory.search', { q: 'when is the staging cache flushed', scope: 'all', k: 1 })).hits[0]?.memory.id).toBe(looked.memory.id);
    // Uses are written in the background, in batches: an agent's search of the other memory, once written, shows
    // that anything recorded before it was written too.
    await hub.api(`/memory/search?q=${encodeURIComponent('when are invoices generated')}&k=1`, { token });
    let marked = 0;
    await until(() => {
      void accessCount(marker.memory.id).then((count) => (marked = count));
      return marked > 0;
    }, 10_000, "the agent's search recorded");
    expect(await accessCount(looked.memory.id)).toBe(0);

    await hub.api(`/memory/search?q=${q}&k=1`, { token });
    let used = 0;
    await until(() => {
      void accessCount(looked.memory.id).then((count) => (used = count));
      return used > 0;
    }, 10_000, "the agent's second search recorded");
    expect(used).toBe(1);
  });
});


/**
 * Notes that differ only in a number or a date (the failure: 128 of 129 were merged into the first), composed
 * from templates with a seeded generator: each template's value changes, the words stay.
 */
function numberAndDateUpdates(count: number): Array<{ old: string; new: string }> {
  const random = mulberry32(15_001);
  const n = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  const templates: Array<(v: () => string, where: string) => string> = [
    (v, where) => `The ${where} API listens on port ${v()}.`,
    (v) => `The upload limit is ${v()} MB per file.`,
    (v) => `Workers retry a failed job ${v()} times before giving up.`,
    (v) => `The session cookie lasts ${v()} hours.`,
    (v) => `We keep audit logs for ${v()} days.`,
    (v) => `The search endpoint returns at most ${v()} results per page.`,
    (v) => `The connection pool holds ${v()} connections.`,
    (v) => `The build image uses Node ${v()}.`,
    (v) => `Release ${v()} is the last one that supports Windows 10.`,
    (v) => `The nightly backup starts at ${v()}:00 UTC.`,
    (v) => `The code freeze begins on ${v()}.`,
    (v) => `Invoices are generated on day ${v()} of each month.`,
    (v) => `The cache evicts entries after ${v()} seconds.`,
    (v) => `The load test targets ${v()} requests per second.`,
  ];
  const values = [
    () => String(n(2, 60000)),
    () => String(n(1, 500)),
    () => String(n(2, 20)),
    () => String(n(1, 96)),
    () => String(n(7, 400)),
    () => String(n(10, 1000)),
    () => String(n(5, 200)),
    () => String(n(14, 24)),
    () => `${n(1, 9)}.${n(0, 20)}`,
    () => String(n(0, 23)),
    () => `${pick(random, months)} ${n(1, 28)}`,
    () => String(n(1, 28)),
    () => String(n(30, 86400)),
    () => String(n(100, 50000)),
  ];
  const pairs: Array<{ old: string; new: string }> = [];
  while (pairs.length < count) {
    const at = pairs.length % templates.length;
    const first = values[at]!();
    let second = values[at]!();
    while (second === first) second = values[at]!();
    // The same template choices for both: only the value differs.
    const where = pick(random, ['staging', 'production', 'preview']);
    pairs.push({ old: templates[at]!(() => first, where), new: templates[at]!(() => second, where) });
  }
  return pairs;
}

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}
