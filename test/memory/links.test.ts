/**
 * Links between memories over a real hub (real SQLite, ONNX encoder, FAISS): shared entities, derivation (document ->
 * section -> chunk -> item), supersession and near neighbours; the neighbourhood's depth and limit; and the access
 * rule: another project's private memory never appears to an agent, a shared one does, the cockpit sees all.
 */
import { describe, expect, it } from 'vitest';
import type { MemoryLink, MemoryLinks, MemoryNeighbourhood } from '../../src/shared/memory-graph-protocol';
import { cockpitCall, startHub } from '../hub/harness';
import { call, connect, text } from '../mcp/mcp-client';

async function setup() {
  const hub = await startHub();
  const shop = (await hub.register('builder', { project: 'shop' })).token;
  const blog = (await hub.register('writer', { project: 'blog' })).token;
  const store = async (token: string, body: Record<string, unknown>): Promise<string> => {
    const { status, body: answer } = await hub.api('/memory/store', { token, body: { kind: 'fact', ...body } });
    expect(status, JSON.stringify(answer)).toBe(201);
    return answer.stored[0].memory.id as string;
  };
  const links = async (id: string, token: string, query = ''): Promise<{ status: number; body: MemoryLinks }> =>
    hub.api(`/memory/${id}/links${query}`, { token });
  const neighbourhood = async (id: string, token: string, query = ''): Promise<{ status: number; body: MemoryNeighbourhood }> =>
    hub.api(`/memory/${id}/neighbourhood${query}`, { token });
  const idle = async () => (await hub.app.hub().memory.graph()).whenIdle();
  return { hub, shop, blog, store, links, neighbourhood, idle };
}

const pairs = (links: MemoryLink[]) => links.map((link) => `${link.kind}:${link.from}>${link.to}${link.entity ? `:${link.entity.kind}=${link.entity.value}` : ''}`).sort();

describe('memory links', () => {
  it('links memories that name the same path, ticket or commit, both ways, with the entity they share', async () => {
    const { shop, store, links, idle } = await setup();
    const helper = await store(shop, { text: 'The retry helper in src/lib/retry.ts caps the backoff at 30 seconds (PAY-1234).' });
    const bug = await store(shop, { text: 'Bug: ./src/lib/retry.ts ignored the cap for HTTP 429 answers; fixed in 9f3c2ab71e.', kind: 'error' });
    const release = await store(shop, { text: 'Release 2.4 ships commit 9f3c2ab71e and closes PAY-1234.', kind: 'note' });
    const unrelated = await store(shop, { text: 'Invoices are generated on the first working day of the month.' });
    await idle();

    const fromHelper = await links(helper, shop, '?kinds=entity');
    expect(fromHelper.status).toBe(200);
    expect(pairs(fromHelper.body.links)).toEqual(
      [`entity:${helper}>${bug}:path=src/lib/retry.ts`, `entity:${helper}>${release}:ticket=PAY-1234`].sort(),
    );
    expect(fromHelper.body.memories.map((memory) => memory.id).sort()).toEqual([bug, release].sort());
    // Read from the other side, the same link.
    const fromBug = await links(bug, shop, '?kinds=entity');
    expect(pairs(fromBug.body.links)).toEqual([`entity:${bug}>${helper}:path=src/lib/retry.ts`, `entity:${bug}>${release}:commit=9f3c2ab71e`].sort());
    expect((await links(unrelated, shop, '?kinds=entity')).body.links).toEqual([]);
    expect((await links(helper, shop, '?kinds=entity,nonsense')).status).toBe(400);
  });

  it('links what derives from what (document -> section -> chunk -> item), newer values to older ones, and near neighbours', async () => {
    const { hub, shop, store, links, idle } = await setup();
    const { body } = await hub.api('/memory/store', {
      token: shop,
      body: {
        memories: [
          { text: 'Payments runbook', kind: 'document' },
          { text: 'Refunds', kind: 'section', parent: 0 },
          { text: 'Refunds go through the Stripe refunds API; the support team never edits payment rows by hand.', kind: 'chunk', parent: 1 },
          { text: 'Refunds go through the Stripe refunds API.', kind: 'decision', parent: 2 },
        ],
      },
    });
    const [documentId, section, chunk, item] = body.stored.map((stored: { memory: { id: string } }) => stored.memory.id) as [string, string, string, string];
    const old = await store(shop, { text: 'Use Node 18 for the build.', kind: 'decision' });
    const current = await store(shop, { text: 'Use Node 22 for the build.', kind: 'decision' });
    const webhook = await store(shop, { text: 'Stripe webhooks are verified with the signing secret before a payment is marked paid.' });
    const retries = await store(shop, { text: 'Stripe retries webhooks for three days, so the payment webhook handler must be idempotent.' });
    await idle();

    expect(pairs((await links(section, shop, '?kinds=derived')).body.links)).toEqual([`derived:${chunk}>${section}`, `derived:${section}>${documentId}`].sort());
    expect(pairs((await links(item, shop, '?kinds=derived')).body.links)).toEqual([`derived:${item}>${chunk}`]);
    // From the newer to the older, whichever side is asked.
    expect(pairs((await links(old, shop, '?kinds=supersedes')).body.links)).toEqual([`supersedes:${current}>${old}`]);
    expect(pairs((await links(current, shop, '?kinds=supersedes')).body.links)).toEqual([`supersedes:${current}>${old}`]);
    // Near neighbours: weight is the cosine similarity, and only current memories are neighbours.
    const similar = (await links(webhook, shop, '?kinds=similar')).body.links;
    const toRetries = similar.find((link) => link.to === retries);
    expect(toRetries, JSON.stringify(similar)).toBeDefined();
    expect(toRetries!.weight).toBeGreaterThanOrEqual(0.6);
    expect(toRetries!.weight).toBeLessThanOrEqual(1);
    expect(similar.every((link) => link.from === webhook && link.to !== old)).toBe(true);
    // All kinds by default.
    const all = (await links(current, shop)).body.links;
    expect(new Set(all.map((link) => link.kind))).toContain('supersedes');
  });

  it('gives the neighbourhood to the depth asked, up to the limit, with topics', async () => {
    const { shop, store, neighbourhood, idle } = await setup();
    // A chain through three different entities: a - b - c - d.
    const a = await store(shop, { text: 'Cart totals are computed in src/cart/totals.ts.' });
    const b = await store(shop, { text: 'src/cart/totals.ts rounds with roundHalfEven from src/money/round.ts.' });
    const c = await store(shop, { text: 'src/money/round.ts was rewritten for SHOP-77.' });
    const d = await store(shop, { text: 'SHOP-77 was reported by @dana after a refund was off by a cent.' });
    await idle();

    const one = await neighbourhood(a, shop, '?depth=1&kinds=entity');
    expect(one.status).toBe(200);
    expect(one.body.center).toBe(a);
    expect(one.body.memories.map((memory) => memory.id)).toEqual([a, b]);
    expect(one.body.truncated).toBe(false);
    const two = await neighbourhood(a, shop, '?depth=2&kinds=entity');
    expect(two.body.memories.map((memory) => memory.id)).toEqual([a, b, c]);
    expect(pairs(two.body.links)).toEqual(
      [`entity:${a}>${b}:path=src/cart/totals.ts`, `entity:${b}>${c}:path=src/money/round.ts`].sort(),
    );
    const three = await neighbourhood(a, shop, '?depth=3&kinds=entity');
    expect(three.body.memories.map((memory) => memory.id)).toEqual([a, b, c, d]);
    // The limit counts the centre.
    const limited = await neighbourhood(a, shop, '?depth=3&kinds=entity&limit=2');
    expect(limited.body.memories.map((memory) => memory.id)).toEqual([a, b]);
    expect(limited.body.truncated).toBe(true);
    // Each memory's topic, and those topics.
    for (const memory of three.body.memories) expect(three.body.topics.map((topic) => topic.id)).toContain(three.body.topicOf[memory.id]);
    expect((await neighbourhood(a, shop, '?depth=4')).status).toBe(400);
  });

  it("never shows an agent another project's private memory; shared ones yes; the cockpit sees all", async () => {
    const { hub, shop, blog, store, links, neighbourhood, idle } = await setup();
    const mine = await store(shop, { text: 'The flaky test is in src/lib/retry.ts, see SHOP-12.' });
    const secret = await store(blog, { text: 'Blog copied src/lib/retry.ts from the shop (SHOP-12), keep it private.' });
    const open = await store(blog, { text: 'The blog reuses src/lib/retry.ts from the shop repository.', shared: true });
    await idle();

    const seen = await links(mine, shop);
    const ids = [...seen.body.links.flatMap((link) => [link.from, link.to]), ...seen.body.memories.map((memory) => memory.id)];
    expect(ids).not.toContain(secret);
    expect(ids).toContain(open);
    for (const depth of [1, 2, 3]) {
      const around = await neighbourhood(mine, shop, `?depth=${depth}`);
      expect(around.body.memories.map((memory) => memory.id)).not.toContain(secret);
      expect(JSON.stringify(around.body)).not.toContain(secret);
    }
    // Another project's topic is not shown with its shared memory: its label and examples come from private ones too.
    const around = await neighbourhood(mine, shop);
    expect(Object.keys(around.body.topicOf)).toEqual([mine]);
    expect(around.body.topics.every((topic) => topic.project === 'shop')).toBe(true);
    const shared = await hub.api(`/memory/search?q=${encodeURIComponent('blog reuses the retry helper')}&scope=shared&k=5`, { token: shop });
    const sharedHit = shared.body.hits.find((hit: { memory: { id: string } }) => hit.memory.id === open);
    expect(sharedHit.topic).toBeNull();
    expect(shared.body.hits.find((hit: { memory: { id: string } }) => hit.memory.id === mine).topic).not.toBeNull();
    // The private memory itself: as if it did not exist.
    expect((await links(secret, shop)).status).toBe(404);
    expect((await neighbourhood(secret, shop)).status).toBe(404);
    // The shared one is readable, and from it the private one of its own project stays hidden from the shop agent.
    const fromShared = await neighbourhood(open, shop, '?depth=2');
    expect(fromShared.status).toBe(200);
    expect(fromShared.body.memories.map((memory) => memory.id)).not.toContain(secret);
    // The blog agent sees its own private memory, and the cockpit sees everything.
    expect((await neighbourhood(mine, blog)).status).toBe(404);
    expect((await links(secret, blog)).body.memories.map((memory) => memory.id)).toContain(open);
    const everything = await neighbourhood(mine, hub.app.cockpitToken, '?kinds=entity');
    expect(everything.body.memories.map((memory) => memory.id).sort()).toEqual([mine, secret, open].sort());

    // The cockpit's call and the agents' MCP tool follow the same rule.
    const viaCockpit = await cockpitCall(hub, 'memory.neighbourhood', { id: mine, depth: 1, limit: 50, kinds: 'entity' });
    expect(viaCockpit.memories.map((memory) => memory.id).sort()).toEqual([mine, secret, open].sort());
    const { client } = await connect(hub, shop);
    const result = await call(client, 'memory_links', { id: mine, kinds: ['entity'] });
    expect(result.isError, text(result)).toBeFalsy();
    expect((result.structuredContent as unknown as MemoryNeighbourhood).memories.map((memory) => memory.id).sort()).toEqual([mine, open].sort());
    const hidden = await call(client, 'memory_links', { id: secret });
    expect(hidden.isError).toBe(true);
  });
});

