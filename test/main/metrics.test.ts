/** The hub's metrics: sends and deliveries measured, and served to Prometheus with the cockpit token only. */
import { describe, expect, it } from 'vitest';
import { openSocket, startHub, until } from '../hub/harness';

describe('metrics', () => {
  it('measures sends and deliveries, and serves them to Prometheus with the cockpit token only', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const receiver = await openSocket(hub.url, b.agent.id, b.token);
    for (let i = 0; i < 20; i++) await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: `m${i}` } });
    await until(() => receiver.messages().length === 20, 5000, 'deliveries');
    await hub.api('/memory/search?q=anything', { token: a.token });

    // The first snapshot is taken a second after start.
    let text = '';
    await until(() => {
      void fetch(`${hub.url}/api/v1/metrics`, { headers: { authorization: `Bearer ${hub.app.cockpitToken}` } })
        .then((response) => (response.status === 200 ? response.text() : ''))
        .then((body) => (text = body));
      return text.includes('devenviro_events_total');
    }, 5000, 'the first metrics');
    expect(text).toMatch(/^# TYPE devenviro_operation_latency_seconds summary$/m);
    expect(text).toMatch(/^devenviro_events_total\{event="messagesSent"\} 20$/m);
    expect(text).toMatch(/^devenviro_events_total\{event="messagesDelivered"\} 20$/m);
    expect(text).toMatch(/^devenviro_operation_latency_seconds_count\{operation="deliver"\} 20$/m);
    expect(text).toMatch(/^devenviro_operation_latency_seconds_count\{operation="search"\} 1$/m);
    // The overseer identity is the person at the cockpit, not an agent.
    expect(text).toMatch(/^devenviro_agents\{state="registered"\} 2$/m);
    const p99 = Number(/devenviro_operation_latency_seconds\{operation="send",quantile="0.99"\} (\S+)/.exec(text)![1]);
    expect(p99).toBeGreaterThan(0);
    expect(p99).toBeLessThan(5);

    expect((await fetch(`${hub.url}/api/v1/metrics`)).status).toBe(401);
    expect((await fetch(`${hub.url}/api/v1/metrics`, { headers: { authorization: `Bearer ${a.token}` } })).status).toBe(401);

    const snapshot = await hub.app.handlers['metrics.snapshot']({});
    expect(snapshot?.totals.messagesSent).toBe(20);
    const histogram = await hub.app.handlers['metrics.histogram']({ op: 'deliver' });
    expect(histogram.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(20);
    expect(histogram.at(-1)!.upToMs).toBeNull();
    receiver.ws.close();
  });
});
