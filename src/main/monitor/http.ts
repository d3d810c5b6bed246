/** GET /api/v1/metrics: the hub's numbers in Prometheus text format (cockpit token, as a Bearer credential). */
import { API_PREFIX } from '../../shared/agent-protocol';
import { requireCockpit } from '../api/auth';
import type { ApiContext } from '../api/server';
import type { LiveFeed } from '../cockpit/live-feed';
import type { Metrics } from './metrics';

export function registerMetricsRoutes({ http }: ApiContext, metrics: Metrics, feed: () => LiveFeed | undefined, cockpitToken: string): void {
  http.get(`${API_PREFIX}/metrics`, async (request, reply) => {
    // Only the cockpit's token counts here (an agent's is a 401 too): the route does not know the agents.
    requireCockpit(request, cockpitToken, 'read the metrics');
    const snapshot = feed()?.latest();
    if (!snapshot) return reply.code(503).send({ error: 'the first metrics are gathered a second after start', code: 'not_ready' });
    return reply.type('text/plain; version=0.0.4').send(metrics.prometheus(snapshot));
  });
}
