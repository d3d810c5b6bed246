/** The memory engine over HTTP. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startHub, type TestHub } from '../hub/harness';

const retrieval = JSON.parse(readFileSync(new URL('./fixtures/retrieval.json', import.meta.url), 'utf8')) as {
  memories: Array<{ key: string; kind: string; text: string }>;
  queries: Array<{ q: string; expect: string }>;
};

async function agent(hub: TestHub, name: string, project = 'shop') {
  const { agent: info, token } = await hub.register(name, { project });
  return { id: info.id, token };
}

describe('memory engine over HTTP', () => {
  it('stores a memory, and reinforces a near-identical one instead of duplicating it', async () => {
    const hub = await startHub();
    const a = await agent(hub, 'a');
    const first = await hub.api('/memory/store', { token: a.token, body: { text: 'The staging database runs on port 5433.', kind: 'fact', tags: ['db'] } });
    expect(first.status).toBe(201);
    expect(first.body.stored[0]).toMatchObject({ outcome: 'created', memory: { project: 'shop', agent: a.id, kind: 'fact', tags: ['db'], importance: 0.5 } });

    const same = await hub.api('/memory/store', { token: a.token, body: { text: 'the staging database  runs on port 5433.', kind: 'fact', tags: ['staging'] } });
    expect(same.body.stored[0]).toMatchObject({ outcome: 'reinforced', similarity: 1, memory: { id: first.body.stored[0].memory.id, reinforcements: 1 } });
    expect(same.body.stored[0].memory.tags).toEqual(['db', 'staging']);
    expect(same.body.stored[0].memory.importance).toBeGreaterThan(0.5);

    const punctuated = await hub.api('/memory/store', { token: a.token, body: { text: 'The staging database runs on port 5433!', kind: 'fact' } });
    expect(punctuated.body.stored[0]).toMatchObject({ outcome: 'reinforced', similarity: 1 });
    // A near-identical wording (cosine 0.97 with USE-lite) is folded in by vector similarity.
    const near = await hub.api('/memory/store', { token: a.token, body: { text: 'The staging databases run on port 5433.', kind: 'fact' } });
    expect(near.body.stored[0].outcome).toBe('reinforced');
    expect(near.body.stored[0].similarity).toBeGreaterThan(0.95);
    expect(near.body.stored[0].similarity).toBeLessThan(1);
    // A different fact with similar words stays apart.
    const different = await hub.api('/memory/store', { token: a.token, body: { text: 'The production database runs on port 5432.', kind: 'fact' } });
    expect(different.body.stored[0].outcome).toBe('created');

    // The same words in another project are a memory of their own (stored by the cockpit: an agent writes only its own project).
    const other = await hub.api('/memory/store', { token: hub.app.cockpitToken, body: { text: 'The staging database runs on port 5433.', kind: 'fact', project: 'other' } });
    expect(other.body.stored[0].outcome).toBe('created');
    const stats = await hub.api('/memory/stats', { token: a.token });
    expect(stats.body.total).toBe(3);
    expect(stats.body.index).toMatchObject({ size: 3, dimension: 512 });
  });

  it('stores a batch with parents, and fails a bad batch alone', async () => {
    const hub = await startHub();
    const a = await agent(hub, 'a');
    const batch = await hub.api('/memory/store', {
      token: a.token,
      body: {
        memories: [
          { text: 'Release checklist for version 2.0', kind: 'document' },
          { text: 'Run the migration script before switching traffic', kind: 'task', parent: 0 },
          { text: 'Announce the release in the #launch channel', kind: 'task', parent: 0 },
        ],
      },
    });
    expect(batch.status).toBe(201);
    const [doc, t1, t2] = batch.body.stored.map((s: { memory: { id: string; parentId: string | null } }) => s.memory);
    expect(doc.parentId).toBeNull();
    expect(t1.parentId).toBe(doc.id);
    expect(t2.parentId).toBe(doc.id);

    const [bad, good] = await Promise.all([
      hub.api('/memory/store', { token: a.token, body: { memories: [{ text: 'orphan', parent: 3 }] } }),
      hub.api('/memory/store', { token: a.token, body: { text: 'A healthy memory stored in the same group' } }),
    ]);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/parent/);
    expect(good.status).toBe(201);
    expect((await hub.api('/memory/store', { token: a.token, body: { text: '' } })).status).toBe(400);
    expect((await hub.api('/memory/store', { body: { text: 'anonymous' } })).status).toBe(401);
  });

  it('finds the right memory in the top 5 for at least 90% of the labelled queries', async () => {
    const hub = await startHub();
    const a = await agent(hub, 'librarian');
    const stored = await hub.api('/memory/store', {
      token: a.token,
      body: { memories: retrieval.memories.map(({ text, kind }) => ({ text, kind })) },
    });
    expect(stored.body.stored.every((s: { outcome: string }) => s.outcome === 'created')).toBe(true);
    const idOf = new Map(retrieval.memories.map((m, i) => [m.key, stored.body.stored[i].memory.id as string]));
    const misses: string[] = [];
    let top1 = 0;
    for (const { q, expect: key } of retrieval.queries) {
      const result = await hub.api(`/memory/search?q=${encodeURIComponent(q)}&k=5`, { token: a.token });
      const ids = result.body.hits.map((hit: { memory: { id: string } }) => hit.memory.id);
      if (ids[0] === idOf.get(key)) top1++;
      if (!ids.includes(idOf.get(key))) misses.push(`${q} -> expected ${key}`);
    }
    const hitRate = 1 - misses.length / retrieval.queries.length;
    console.log(`retrieval: top-5 ${(hitRate * 100).toFixed(1)}%, top-1 ${((top1 / retrieval.queries.length) * 100).toFixed(1)}%; misses: ${misses.join(' | ') || 'none'}`);
    expect(hitRate).toBeGreaterThanOrEqual(0.9);
  });

  it('explains each hit, filters by kind, tags and time, and counts each hit as a use', async () => {
    const hub = await startHub();
    const a = await agent(hub, 'a');
    await hub.api('/memory/store', {
      token: a.token,
      body: {
        memories: [
          { text: 'The checkout page crashes when the cart is empty', kind: 'error', tags: ['checkout'] },
          { text: 'We decided the checkout uses Stripe Elements', kind: 'decision', tags: ['checkout', 'payments'] },
          { text: 'Lunch is at noon on Fridays', kind: 'note' },
        ],
      },
    });
    const all = await hub.api('/memory/search?q=checkout', { token: a.token });
    expect(all.body.hits.length).toBeGreaterThanOrEqual(2);
    const top = all.body.hits[0];
    expect(top.scores).toEqual({
      vectorRank: expect.any(Number),
      vectorSimilarity: expect.any(Number),
      keywordRank: expect.any(Number),
      keywordScore: expect.any(Number),
      exact: false,
      fused: expect.any(Number),
      importance: expect.any(Number),
      recency: expect.any(Number),
      final: expect.any(Number),
    });
    expect(top.weak).toEqual(expect.any(Boolean));
    const finals = all.body.hits.map((hit: { scores: { final: number } }) => hit.scores.final);
    expect([...finals].sort((x, y) => y - x)).toEqual(finals);
    expect(all.body.model).toBe('use-lite-512-int8');

    const errors = await hub.api('/memory/search?q=checkout&kind=error', { token: a.token });
    expect(errors.body.hits.map((hit: { memory: { kind: string } }) => hit.memory.kind)).toEqual(['error']);
    const tagged = await hub.api('/memory/search?q=checkout&tags=payments', { token: a.token });
    expect(tagged.body.hits.map((hit: { memory: { kind: string } }) => hit.memory.kind)).toEqual(['decision']);
    const future = await hub.api(`/memory/search?q=checkout&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, { token: a.token });
    expect(future.body.hits).toEqual([]);

    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await hub.api(`/memory/${top.memory.id}`, { token: a.token });
    expect(again.body.accessCount).toBeGreaterThanOrEqual(1);
    expect(again.body.lastAccessedAt).not.toBeNull();
    expect((await hub.api('/memory/search?q=x&kind=gossip', { token: a.token })).status).toBe(400);
  });

  it('searches this project by default, other projects\' shared memories with scope=shared, and everything with scope=all (the cockpit)', async () => {
    const hub = await startHub();
    const shop = await agent(hub, 'a', 'shop');
    const blog = await agent(hub, 'b', 'blog');
    await hub.api('/memory/store', { token: shop.token, body: { text: 'Shop deployments happen on Tuesdays', kind: 'fact' } });
    await hub.api('/memory/store', { token: blog.token, body: { text: 'Blog deployments happen on Thursdays', kind: 'fact', shared: true } });
    await hub.api('/memory/store', { token: blog.token, body: { text: 'Blog deployments need a cache purge', kind: 'fact' } });
    const texts = (r: { body: { hits: Array<{ memory: { text: string } }> } }) => r.body.hits.map((hit) => hit.memory.text).sort();
    expect(texts(await hub.api('/memory/search?q=deployments', { token: shop.token }))).toEqual(['Shop deployments happen on Tuesdays']);
    expect(texts(await hub.api('/memory/search?q=deployments&scope=shared', { token: shop.token }))).toEqual([
      'Blog deployments happen on Thursdays',
      'Shop deployments happen on Tuesdays',
    ]);
    expect(texts(await hub.api('/memory/search?q=deployments&scope=all', { token: hub.app.cockpitToken }))).toHaveLength(3);
    expect((await hub.api('/memory/search?q=deployments&scope=all', { token: shop.token })).status).toBe(403);
  });

  it('ranks a memory used recently above an equally relevant one unused for months', async () => {
    const hub = await startHub();
    const a = await agent(hub, 'a');
    const stored = await hub.api('/memory/store', {
      token: a.token,
      body: { memories: [{ text: 'Rotate the signing key every 90 days', kind: 'fact' }, { text: 'Rotate the signing key every ninety days (policy)', kind: 'note', importance: 0.5 }] },
    });
    const [oldId] = stored.body.stored.map((s: { memory: { id: string } }) => s.memory.id);
    const service = await hub.app.hub().memory.store();
    const longAgo = new Date(Date.now() - 200 * 86_400_000).toISOString();
    service.db.prepare('UPDATE memories SET created_at = ?, last_accessed_at = ? WHERE uid = ?').run(longAgo, longAgo, oldId);
    const result = await hub.api('/memory/search?q=rotate%20signing%20key', { token: a.token });
    const old = result.body.hits.find((hit: { memory: { id: string } }) => hit.memory.id === oldId);
    expect(old.scores.recency).toBeLessThan(0.05 + 0.02);
    expect(result.body.hits[0].memory.id).not.toBe(oldId);
  });

  it('deletes a memory and keeps it out of every search, and shares one on request', async () => {
    const hub = await startHub();
    const a = await agent(hub, 'a');
    const { body } = await hub.api('/memory/store', { token: a.token, body: { text: 'Temporary note about the incident bridge', kind: 'note' } });
    const id = body.stored[0].memory.id;
    expect((await hub.api(`/memory/${id}`, { method: 'PATCH', token: a.token, body: { shared: true } })).body.shared).toBe(true);
    expect((await hub.api(`/memory/${id}`, { method: 'DELETE', token: a.token })).status).toBe(204);
    expect((await hub.api(`/memory/${id}`, { token: a.token })).status).toBe(404);
    expect((await hub.api('/memory/search?q=incident%20bridge', { token: a.token })).body.hits).toEqual([]);
  });

  it('changes tags and importance on request, filters by the new tags, and refuses an empty or unknown change', async () => {
    const hub = await startHub();
    const a = await agent(hub, 'a');
    const { body } = await hub.api('/memory/store', { token: a.token, body: { text: 'The staging database lives on db-stage-2', kind: 'fact', tags: ['infra'] } });
    const id = body.stored[0].memory.id;
    const changed = await hub.api(`/memory/${id}`, { method: 'PATCH', token: a.token, body: { tags: ['staging', 'db', 'staging'], importance: 0.9 } });
    expect(changed.status).toBe(200);
    expect(changed.body.tags).toEqual(['staging', 'db']);
    expect(changed.body.importance).toBe(0.9);
    expect(changed.body.shared).toBe(false);
    const byNewTag = await hub.api('/memory/search?q=staging%20database&tags=staging', { token: a.token });
    expect(byNewTag.body.hits.map((hit: { memory: { id: string } }) => hit.memory.id)).toEqual([id]);
    expect((await hub.api('/memory/search?q=staging%20database&tags=infra', { token: a.token })).body.hits).toEqual([]);
    expect((await hub.api(`/memory/${id}`, { method: 'PATCH', token: a.token, body: {} })).status).toBe(400);
    expect((await hub.api(`/memory/${id}`, { method: 'PATCH', token: a.token, body: { text: 'rewritten' } })).status).toBe(400);
    expect((await hub.api(`/memory/${id}`, { method: 'PATCH', token: a.token, body: { importance: 2 } })).status).toBe(400);
  });

  it('keeps memories and their index across a restart', async () => {
    const hub = await startHub();
    const a = await agent(hub, 'a');
    await hub.api('/memory/store', { token: a.token, body: { text: 'The mobile app uses React Native 0.76', kind: 'fact' } });
    await hub.restart();
    const result = await hub.api('/memory/search?q=which%20React%20Native%20version', { token: a.token });
    expect(result.body.hits[0].memory.text).toBe('The mobile app uses React Native 0.76');
    expect(result.body.hits[0].scores.vectorRank).toBe(1);
  });
});
