/**
 * The advisor over HTTP: `GET /api/v1/performance/advice` (the cockpit, or an agent: then only its own project's
 * agent advice beside the hub's), `POST …/advice/{id}/fix` (cockpit only), and CPU profiles / heap snapshots
 * (cockpit only): start one, list them, download one. Also times every request, so a stall can name the one
 * that held the event loop.
 */
import { createReadStream } from 'node:fs';
import { ADVICE_PATH, AdviceId, PROFILES_PATH, ProfileRequest } from '../../shared/advice-protocol';
import type { AgentRegistry } from '../agents/registry';
import { authorityOf, requireAuthority, requireCockpit } from '../api/auth';
import type { ApiContext } from '../api/server';
import { parseInput } from '../validation';
import type { Advisor } from './advisor';
import type { Profiler } from './profiler';

export function registerAdvisorRoutes({ http }: ApiContext, deps: { registry: AgentRegistry; advisor: Advisor; profiler: Profiler; cockpitToken: string }): void {
  const { registry, advisor, profiler, cockpitToken } = deps;

  http.addHook('onRequest', async (request) => {
    advisor.measurements.requestStarted(request, `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`);
  });
  http.addHook('onResponse', async (request) => {
    advisor.measurements.requestFinished(request);
  });
  // A request whose client went away gets no response: closed here, so it is not counted as running forever.
  http.addHook('onRequestAbort', async (request) => {
    advisor.measurements.requestFinished(request);
  });

  http.get(ADVICE_PATH, async (request) => {
    const who = requireAuthority(authorityOf(request, registry, cockpitToken));
    return advisor.report(who.kind === 'agent' ? who.agent.project : undefined);
  });

  http.post(`${ADVICE_PATH}/:id/fix`, async (request) => {
    requireCockpit(request, cockpitToken, 'apply a fix', registry);
    const id = parseInput(AdviceId, (request.params as { id: string }).id, 'advice id');
    return advisor.fix(id);
  });

  http.post(PROFILES_PATH, async (request, reply) => {
    requireCockpit(request, cockpitToken, 'profile the hub', registry);
    const { kind, seconds } = parseInput(ProfileRequest, request.body ?? {}, 'profile request');
    return reply.code(202).send(profiler.start(kind, seconds));
  });

  http.get(PROFILES_PATH, async (request) => {
    requireCockpit(request, cockpitToken, 'list profiles', registry);
    return profiler.list();
  });

  http.get(`${PROFILES_PATH}/:id`, async (request, reply) => {
    requireCockpit(request, cockpitToken, 'download a profile', registry);
    const { file, info } = profiler.download((request.params as { id: string }).id);
    reply.type('application/json').header('content-disposition', `attachment; filename="${info.fileName}"`);
    return reply.send(createReadStream(file));
  });
}
