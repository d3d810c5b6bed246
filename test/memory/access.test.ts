/**
 * The project rule of the memory engine, over real HTTP and the agents' realtime socket: an agent reads, stores,
 * changes and deletes its own project's memories and reads other projects' shared ones; the cockpit reaches all.
 */
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../src/shared/agent-protocol';
import { openSocket, startHub, type TestHub } from '../hub/harness';
import { call, connect, text } from '../mcp/mcp-client';

interface Agent {
  id: string;
  token: string;
}

async function agent(hub: TestHub, name: string, project: string): Promise<Agent> {
  const { agent: info, token } = await hub.register(name, { project });
  return { id: info.id, token };
}

/** Two projects, an agent in each, and blog's memories: one shared, one not. */
async function twoProjects() {
  const hub = await startHub();
  const shop = await agent(hub, 'builder', 'shop');
  const blog = await agent(hub, 'writer', 'blog');
  const store = async (who: Agent, text: string, shared = false): Promise<string> => {
    const { status, body } = await hub.api('/memory/store', { token: who.token, body: { text, kind: 'fact', shared } });
    expect(status).toBe(201);
    return body.stored[0].memory.id as string;
  };
  const shopMemory = await store(shop, 'Shop deployments happen on Tuesdays');
  const blogShared = await store(blog, 'Blog deployments happen on Thursdays', true);
  const blogPrivate = await store(blog, 'Blog deployments need a cache purge of the CDN');
  const cockpit = hub.app.cockpitToken;
  return { hub, shop, blog, shopMemory, blogShared, blogPrivate, cockpit };
}

const texts = (body: { hits: Array<{ memory: { text: string } }> }) => body.hits.map((hit) => hit.memory.text).sort();

describe('memory access by project', () => {
  it('stores and extracts only into the agent\'s own project', async () => {
    const { hub, shop, cockpit } = await twoProjects();

    const elsewhere = await hub.api('/memory/store', { token: shop.token, body: { text: 'Planted in the blog', project: 'blog' } });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body).toMatchObject({ code: 'forbidden' });
    expect(elsewhere.body.error).toContain('only in its own project (shop)');
    // One memory of a batch naming another project refuses the whole batch.
    const batch = await hub.api('/memory/store', {
      token: shop.token,
      body: { memories: [{ text: 'A fine shop memory about carts' }, { text: 'Planted in the blog too', project: 'blog' }] },
    });
    expect(batch.status).toBe(403);
    const extracted = await hub.api('/memory/extract', { token: shop.token, body: { text: '# Notes\n\nWe decided to planted things in the blog.', project: 'blog' } });
    expect(extracted.status).toBe(403);
    // Nothing of the refused requests was stored, anywhere (search always returns the nearest memories: look at all).
    const everything = await hub.api('/memory/search?q=planted%20carts%20blog&scope=all&k=50', { token: cockpit });
    expect(texts(everything.body)).toEqual(['Blog deployments happen on Thursdays', 'Blog deployments need a cache purge of the CDN', 'Shop deployments happen on Tuesdays']);

    // Naming its own project is fine, and the cockpit stores anywhere.
    expect((await hub.api('/memory/store', { token: shop.token, body: { text: 'Carts expire after a week', project: 'shop' } })).status).toBe(201);
    const byCockpit = await hub.api('/memory/store', { token: cockpit, body: { text: 'The blog is hosted on Netlify', project: 'blog' } });
    expect(byCockpit.status).toBe(201);
    expect(byCockpit.body.stored[0].memory.project).toBe('blog');
  });

  it('does not let an agent hang its memory under another project\'s private memory', async () => {
    const { hub, shop, blogPrivate, blogShared } = await twoProjects();
    const underPrivate = await hub.api('/memory/store', { token: shop.token, body: { text: 'A child in the shop', parent: blogPrivate } });
    expect(underPrivate.status).toBe(400);
    // The same answer as for an id that does not exist.
    expect(underPrivate.body.error).toBe(`memory 0: parent ${blogPrivate} does not exist`);
    // A shared memory it can read may be a parent.
    expect((await hub.api('/memory/store', { token: shop.token, body: { text: 'Follows the blog schedule', parent: blogShared } })).status).toBe(201);
  });

  it('searches its own project, other projects\' shared memories with scope=shared, and nothing else', async () => {
    const { hub, shop, cockpit } = await twoProjects();

    const other = await hub.api('/memory/search?q=deployments&project=blog', { token: shop.token });
    expect(other.status).toBe(403);
    expect(other.body.error).toContain('project=blog is for the cockpit');
    expect((await hub.api('/memory/search?q=deployments&project=blog&scope=shared', { token: shop.token })).status).toBe(403);
    const all = await hub.api('/memory/search?q=deployments&scope=all', { token: shop.token });
    expect(all.status).toBe(403);
    expect(all.body.error).toContain('scope=all is for the cockpit');

    expect(texts((await hub.api('/memory/search?q=deployments&project=shop', { token: shop.token })).body)).toEqual(['Shop deployments happen on Tuesdays']);
    expect(texts((await hub.api('/memory/search?q=deployments&scope=shared', { token: shop.token })).body)).toEqual([
      'Blog deployments happen on Thursdays',
      'Shop deployments happen on Tuesdays',
    ]);
    // The cockpit keeps the whole view.
    expect(texts((await hub.api('/memory/search?q=deployments&project=blog', { token: cockpit })).body)).toHaveLength(2);
    expect(texts((await hub.api('/memory/search?q=deployments&scope=all', { token: cockpit })).body)).toHaveLength(3);
  });

  it('reads another project\'s memory by id only if shared, and never changes or deletes it', async () => {
    const { hub, shop, blog, shopMemory, blogShared, blogPrivate, cockpit } = await twoProjects();

    // Unshared: as if it did not exist, for reading, changing and deleting alike.
    const unknown = await hub.api('/memory/01ARZ3NDEKTSV4RRFFQ69G5FAV', { token: shop.token });
    expect(unknown.status).toBe(404);
    const hidden = await hub.api(`/memory/${blogPrivate}`, { token: shop.token });
    expect(hidden.status).toBe(404);
    expect(hidden.body.error).toBe(`there is no memory with id ${blogPrivate}`);
    expect((await hub.api(`/memory/${blogPrivate}`, { method: 'PATCH', token: shop.token, body: { shared: true } })).status).toBe(404);
    expect((await hub.api(`/memory/${blogPrivate}`, { method: 'DELETE', token: shop.token })).status).toBe(404);

    // Shared: readable, but not the shop's to change.
    expect((await hub.api(`/memory/${blogShared}`, { token: shop.token })).body).toMatchObject({ id: blogShared, project: 'blog', shared: true });
    const unshare = await hub.api(`/memory/${blogShared}`, { method: 'PATCH', token: shop.token, body: { shared: false } });
    expect(unshare.status).toBe(403);
    expect(unshare.body.error).toContain('belongs to project blog');
    expect((await hub.api(`/memory/${blogShared}`, { method: 'DELETE', token: shop.token })).status).toBe(403);

    // Nothing of blog's changed.
    expect((await hub.api(`/memory/${blogShared}`, { token: blog.token })).body.shared).toBe(true);
    expect((await hub.api(`/memory/${blogPrivate}`, { token: blog.token })).body.shared).toBe(false);

    // The shop's own memory is the shop's; blog cannot see it.
    expect((await hub.api(`/memory/${shopMemory}`, { token: blog.token })).status).toBe(404);
    expect((await hub.api(`/memory/${shopMemory}`, { method: 'PATCH', token: shop.token, body: { shared: true } })).body.shared).toBe(true);

    // The cockpit reads, changes and deletes anything.
    expect((await hub.api(`/memory/${blogPrivate}`, { token: cockpit })).status).toBe(200);
    expect((await hub.api(`/memory/${blogPrivate}`, { method: 'PATCH', token: cockpit, body: { shared: true } })).body.shared).toBe(true);
    expect((await hub.api(`/memory/${blogPrivate}`, { method: 'DELETE', token: cockpit })).status).toBe(204);
    expect((await hub.api(`/memory/${blogPrivate}`, { token: blog.token })).status).toBe(404);
  });

  it('holds the same rule over the realtime socket', async () => {
    const { hub, shop } = await twoProjects();
    const socket = await openSocket(hub.url, shop.id, shop.token);
    await socket.next((frame) => frame.type === 'welcome');
    const ask = async (frame: Record<string, unknown>): Promise<ServerFrame> => {
      const ref = String(Math.random());
      socket.send({ ...frame, ref });
      return socket.next((answer) => 'ref' in answer && answer.ref === ref, 20_000);
    };

    for (const refused of [
      { type: 'memory.search', query: { q: 'deployments', project: 'blog' } },
      { type: 'memory.search', query: { q: 'deployments', scope: 'all' } },
      { type: 'memory.store', memories: [{ text: 'Planted over the socket', project: 'blog' }] },
      { type: 'memory.extract', request: { text: 'We decided to plant this over the socket.', project: 'blog' } },
    ]) {
      expect(await ask(refused), JSON.stringify(refused)).toMatchObject({ type: 'error', code: 'forbidden' });
    }

    const shared = await ask({ type: 'memory.search', query: { q: 'deployments', scope: 'shared' } });
    expect(shared.type).toBe('result');
    expect(texts((shared as { result: { hits: Array<{ memory: { text: string } }> } }).result)).toEqual([
      'Blog deployments happen on Thursdays',
      'Shop deployments happen on Tuesdays',
    ]);
    const stored = await ask({ type: 'memory.store', memories: [{ text: 'Stored over the socket in the shop' }] });
    expect(stored).toMatchObject({ type: 'result', result: [{ memory: { project: 'shop' } }] });
    socket.ws.close();
  });

  it('holds the same rule over MCP, for current memories and their history alike', async () => {
    const { hub, shop, blog } = await twoProjects();
    // A blog memory superseded by a newer value: history, still blog's own and private.
    const first = await hub.api('/memory/store', { token: blog.token, body: { text: 'The blog cache keeps pages for 60 seconds.', kind: 'fact' } });
    const second = await hub.api('/memory/store', { token: blog.token, body: { text: 'The blog cache keeps pages for 300 seconds.', kind: 'fact' } });
    expect(second.body.stored[0]).toMatchObject({ outcome: 'supersedes', superseded: { id: first.body.stored[0].memory.id } });

    const { client } = await connect(hub, shop.token);
    const all = await call(client, 'memory_search', { query: 'deployments', scope: 'all' });
    expect(all.isError).toBe(true);
    expect(text(all)).toContain('scope=all is for the cockpit');
    const extracted = await call(client, 'memory_extract', { text: 'We decided to plant this in the blog over MCP.', project: 'blog' });
    expect(extracted.isError).toBe(true);
    expect(text(extracted)).toContain('only in its own project (shop)');

    // scope=shared: the shop's own and blog's shared memory; never blog's private memories, current or history.
    for (const includeHistory of [false, true]) {
      const shared = await call(client, 'memory_search', { query: 'blog cache pages deployments', scope: 'shared', k: 20, includeHistory });
      expect(shared.isError).toBeFalsy();
      expect(texts(shared.structuredContent as { hits: Array<{ memory: { text: string } }> })).toEqual([
        'Blog deployments happen on Thursdays',
        'Shop deployments happen on Tuesdays',
      ]);
    }
    // Nothing was stored in the blog by the refused calls.
    const blogOwn = await hub.api('/memory/search?q=plant%20blog%20MCP&k=20&includeHistory=true', { token: blog.token });
    expect(texts(blogOwn.body)).toEqual([
      'Blog deployments happen on Thursdays',
      'Blog deployments need a cache purge of the CDN',
      'The blog cache keeps pages for 300 seconds.',
      'The blog cache keeps pages for 60 seconds.',
    ]);
    await client.close();
  });
});
