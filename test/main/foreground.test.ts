// Interactive before bulk on the event loop (api/foreground.ts): bulk work between its slices waits while an HTTP
// request runs, unless that request was demoted (a large extraction's own), and never longer than its bound. A real
// API server on loopback and real requests.
import { afterEach, describe, expect, it } from 'vitest';
import { foreground } from '../../src/main/api/foreground';
import { createApiServer, type ApiServer } from '../../src/main/api/server';
import type { CallHandlers } from '../../src/main/cockpit/dispatch';
import { EventBus } from '../../src/main/cockpit/event-bus';

let api: ApiServer | undefined;

afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** A server with one route that answers when the test lets it, and says when it has started. */
async function slowServer(options: { demote: boolean }) {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => (answer = resolve));
  api = await createApiServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1024 * 1024,
    cockpitToken: 'c'.repeat(43),
    rendererDir: null,
    handlers: {} as CallHandlers,
    events: new EventBus(),
    register: [
      ({ http }) => {
        http.get('/api/v1/test/slow', async (request) => {
          if (options.demote) foreground.demote(request);
          started();
          await answered;
          return { ok: true };
        });
      },
    ],
  });
  return { url: `${api.url}/api/v1/test/slow`, running, answer };
}

describe('interactive requests before bulk work', () => {
  it('gives bulk work its turn only once the running request has answered', async () => {
    const server = await slowServer({ demote: false });
    const order: string[] = [];
    const response = fetch(server.url).then(async (r) => order.push(`answered ${r.status}`));
    await server.running;
    expect(foreground.busy()).toBe(true);
    const bulk = foreground.turn(60_000).then(() => order.push('bulk'));
    // A few turns of the event loop: the bulk work is still waiting.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    order.push('released');
    server.answer();
    await Promise.all([response, bulk]);
    expect(order).toEqual(['released', 'answered 200', 'bulk']);
    expect(foreground.busy()).toBe(false);
  });

  it('does not hold bulk work for a request that is bulk work itself', async () => {
    const server = await slowServer({ demote: true });
    const order: string[] = [];
    const response = fetch(server.url).then(() => order.push('answered'));
    await server.running;
    await foreground.turn(60_000).then(() => order.push('bulk'));
    server.answer();
    await response;
    expect(order).toEqual(['bulk', 'answered']);
  });

  it('waits no longer than its bound under a request that does not end', async () => {
    const server = await slowServer({ demote: false });
    const order: string[] = [];
    const response = fetch(server.url).then(() => order.push('answered'));
    await server.running;
    await foreground.turn(20).then(() => order.push('bulk'));
    server.answer();
    await response;
    expect(order).toEqual(['bulk', 'answered']);
  });
});
