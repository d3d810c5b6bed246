/** GET /api/v1/metrics: the hub's numbers in Prometheus text format (cockpit token, as a Bearer credential). */
import { API_PREFIX } from '../../shared/agent-protocol';
import type { ApiContext } from '../api/server';
import { secretsEqual } from '../api/security';
import { unauthorized } from '../errors';
import type { LiveFeed } from '../cockpit/live-feed';
import type { Metrics } from './metrics';

export function registerMetricsRoutes({ http }: ApiContext, metrics: Metrics, feed: () => LiveFeed | undefined, cockpitToken: string): void {
  http.get(`${API_PREFIX}/metrics`, async (request, reply) => {
    const header = request.headers.authorization;
    if (!secretsEqual(header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined, cockpitToken)) {
      throw unauthorized('metrics need the cockpit token: Authorization: Bearer <token from cockpit-token>');
    }
    const snapshot = feed()?.latest();
    if (!snapshot) return reply.code(503).send({ error: 'the first metrics are gathered a second after start', code: 'not_ready' });
    return reply.type('text/plain; version=0.0.4').send(metrics.prometheus(snapshot));
  });
}
