/**
 * The cockpit's calls, each delegating to the service that owns the answer. The person at the cockpit is the
 * overseer: it sees every agent, inbox and memory, and sends as the overseer identity.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MESSAGE_PREVIEW_BYTES, type ConnectInfo, type HubStatus, type MessagePreview } from '../../shared/contract';
import type { MetricsSnapshot } from '../../shared/monitor-protocol';
import { DEFAULT_HUB_URL } from '../../shared/hub-location';
import type { Hub } from '../hub';
import { NO_CLUSTER } from '../cluster';
import { findAppRoot } from '../config/paths';
import { HubError, notFound } from '../errors';
import { searchContext } from '../memory/access';
import { previewMessage } from '../messaging/frames';
import type { StoredMessage } from '../messaging/store';
import type { Metrics } from '../monitor/metrics';
import { taskBoardOf } from '../tasks/board';
import type { CallHandlers } from './dispatch';

/** The person at the cockpit, as the task and workflow services know callers. */
const COCKPIT = { kind: 'cockpit' } as const;

export interface HandlerDeps {
  status(): HubStatus;
  /** The running hub's services; throws while the hub is not started. */
  hub(): Hub;
  metrics(): { latest: MetricsSnapshot | null; history: MetricsSnapshot[]; histograms: Metrics } | null;
  /** Restores the hub's data in place from a snapshot (stops and restarts the hub); reports through events. */
  restoreHub(snapshotId: string): Promise<void>;
}

export function createCallHandlers(deps: HandlerDeps): CallHandlers {
  return {
    'hub.status': () => deps.status(),
    'cluster.state': () => deps.hub().cluster?.state() ?? NO_CLUSTER,

    'agents.list': () => {
      const { registry } = deps.hub();
      return registry.all().map((agent) => registry.info(agent));
    },

    'agents.detail': async ({ id }) => {
      const { registry, messaging, memory } = deps.hub();
      const agent = registry.get(id);
      const memories = await memory.store().then(
        (service) => service.recent({ agent: id, limit: 20 }),
        () => [],
      );
      const since = registry.statusSince(agent);
      return {
        agent: registry.info(agent),
        topics: messaging.store.topicsOf(id),
        messages: messaging.store.recent(50, { agent: id }).map(preview),
        memories,
        statusSince: since === null ? null : new Date(since).toISOString(),
        oldestUnreadAt: agent.inboxDepth > 0 ? (messaging.store.inbox(id, 0, 1)[0]?.createdAt ?? null) : null,
      };
    },

    'agents.revoke': ({ id }) => {
      const { registry } = deps.hub();
      if (registry.get(id).id === registry.ensureOverseer().id) throw new HubError('invalid_request', 'the overseer identity cannot be revoked');
      return registry.info(registry.revoke(id));
    },

    'agents.connectInfo': () => connectInfo(deps.status()),

    'mcp.sessions': () => deps.hub().mcp.list(),

    'a2a.tasks': () => deps.hub().a2a.store.cockpitList(),

    'messages.list': async ({ limit, agent, topic, thread, text, before }) => {
      const { messaging } = deps.hub();
      if (text) {
        await messaging.catchUpSearch();
        const hits = messaging.store.search(text, limit);
        const found = hits
          .map((hit) => hit.message as StoredMessage)
          .filter((m) => (!topic || (m.to.type === 'topic' && m.to.name === topic)) && (!thread || m.threadId === thread))
          .filter((m) => !agent || m.from === agent || (m.to.type === 'agent' && m.to.id === agent))
          .filter((m) => !before || m.id < before);
        return withDelivery(messaging.store, found);
      }
      return withDelivery(messaging.store, messaging.store.recent(limit, { agent, topic, thread, before }));
    },

    'messages.thread': ({ threadId }) => {
      const { store } = deps.hub().messaging;
      return withDelivery(store, store.thread(threadId), { receipts: true });
    },

    'messages.body': async ({ id }) => {
      const message = deps.hub().messaging.store.get(id);
      if (!message) throw new HubError('not_found', `no message ${id}`);
      const { external } = message;
      if (!external) return { json: JSON.stringify(message.body) };
      // Read off the event loop and never parsed: the hub only hands the bytes over.
      return { json: external.file === undefined ? external.json().toString('utf8') : await readFile(external.file, 'utf8') };
    },

    'messages.send': ({ to, body, subject, threadId, replyTo, importance }) => {
      const { registry, messaging } = deps.hub();
      return messaging.send(registry.ensureOverseer(), { to, body, subject, threadId, replyTo, importance, ackRequired: false });
    },

    'memory.search': async (query) => {
      const service = await deps.hub().memory.store();
      // As the cockpit searches over HTTP: a person looking, not a use (it does not change future ranking).
      return service.search(query, searchContext({ kind: 'cockpit' }, query));
    },

    'memory.overview': async () => (await deps.hub().memory.store()).overview(),

    'memory.store': async ({ memories }) => (await deps.hub().memory.store()).store(memories, { project: 'default', agent: null }),

    'memory.extract': (input) => deps.hub().memory.extract(input, { project: input.project ?? 'default', agent: null }),

    'memory.update': async ({ id, update }) => (await deps.hub().memory.store()).update(id, update),
    'memory.delete': async ({ id }) => {
      (await deps.hub().memory.store()).delete(id);
      return { deleted: id };
    },
    'memory.topics': async ({ project, limit }) => (await deps.hub().memory.graph()).topicList(project, limit),
    'memory.topicMemories': async ({ topicId, limit, offset }) => {
      const found = (await deps.hub().memory.graph()).topicMemories(topicId, limit, offset);
      if (!found) throw notFound(`there is no topic with id ${topicId}`);
      return found.memories;
    },
    'memory.neighbourhood': async ({ id, ...options }) => {
      const { memory } = deps.hub();
      (await memory.store()).get(id);
      return (await memory.graph()).neighbourhood(id, options, () => true);
    },
    'memory.model': async () => {
      const { memory } = deps.hub();
      await memory.store();
      return memory.model();
    },

    'memory.switchModel': ({ dir }) => deps.hub().memory.switchModel(dir),

    'backup.overview': () => deps.hub().backup.overview(),
    'backup.saveSettings': (settings) => deps.hub().backup.saveSettings(settings),
    'backup.preview': (request) => deps.hub().backup.preview(request),
    'backup.run': () => ({ runId: deps.hub().backup.runNow().runId }),
    'backup.snapshots': () => deps.hub().backup.snapshots(),
    'backup.verify': ({ id }) => deps.hub().backup.verify(id),
    'backup.repair': ({ id }) => deps.hub().backup.repair(id),
    'backup.restore': ({ id, request }) => deps.hub().backup.restore(id, request),
    'backup.restoreHub': ({ id }) => {
      // Answered first: the restore stops and restarts the hub, taking this very connection with it.
      setTimeout(() => void deps.restoreHub(id), 50);
      return { accepted: true as const };
    },

    'reservations.list': (query) => deps.hub().reservations.list(query),

    'reservations.release': async ({ id }) => (await deps.hub().reservations.release({ kind: 'cockpit' }, { ids: [id] })).released[0]!,

    'tasks.list': (query) => taskBoardOf(deps.hub()).list(query ?? { limit: 200 }),
    'tasks.waiting': (query) => taskBoardOf(deps.hub()).waiting(query ?? { limit: 200 }),
    'tasks.counts': () => taskBoardOf(deps.hub()).counts(),
    'tasks.cancel': ({ id, reason }) => deps.hub().tasks.cancel({ kind: 'cockpit' }, id, reason),

    'metrics.snapshot': () => deps.metrics()?.latest ?? null,

    'metrics.history': () => deps.metrics()?.history ?? [],

    'metrics.histogram': ({ op }) => deps.metrics()?.histograms.buckets(op) ?? [],

    'advice.list': () => deps.hub().advisor.report(),
    'advice.fix': ({ id }) => deps.hub().advisor.fix(id),
    'profiles.start': ({ kind, seconds }) => deps.hub().profiler.start(kind, seconds),
    'profiles.list': () => deps.hub().profiler.list(),
    'profiles.read': async ({ id }) => ({ text: await readFile(deps.hub().profiler.download(id).file, 'utf8') }),

    'workflows.list': (query) => deps.hub().workflows.list(COCKPIT, { ...query, limit: query?.limit ?? 100 }),
    'workflows.get': ({ id }) => deps.hub().workflows.get(COCKPIT, id),
    'workflows.start': ({ definition }) => deps.hub().workflows.start(COCKPIT, definition),
    'workflows.cancel': ({ id, reason }) => deps.hub().workflows.cancel(COCKPIT, id, reason),
    'workflows.approve': ({ id, stepId, decision }) => deps.hub().workflows.approve(COCKPIT, id, stepId, decision),
    'workflows.retry': ({ id, stepId }) => deps.hub().workflows.retry(COCKPIT, id, stepId),

    'attention.list': (query) => deps.hub().attention.list(query ?? {}),
    'attention.act': ({ id, text }) => deps.hub().attention.act(id, text),
  };
}

/**
 * Lists and threads carry a large body as its first characters and its size (the body download has the rest): the
 * cockpit never makes the hub parse and re-serialise a multi-megabyte body, which would hold up every agent.
 */
function preview(message: StoredMessage) {
  return previewMessage(message, MESSAGE_PREVIEW_BYTES);
}

/**
 * Previews with their delivery state (inboxes reached, acknowledgements), in one query for the whole page; with
 * `receipts`, who each recipient is and when it acknowledged (a thread's messages, up to 100 recipients each).
 */
function withDelivery(store: Hub['messaging']['store'], messages: StoredMessage[], { receipts = false } = {}): MessagePreview[] {
  const bySeq = store.receiptsOf(messages.map((m) => m.seq));
  return messages.map((m) => {
    const list = bySeq.get(m.seq) ?? [];
    const delivery = { recipients: list.length, acked: list.filter((r) => r.ackedAt !== null).length };
    return receipts ? { ...preview(m), delivery, receipts: list.slice(0, 100) } : { ...preview(m), delivery };
  });
}

function connectInfo(status: HubStatus): ConnectInfo {
  return {
    hubUrl: status.apiUrl ?? DEFAULT_HUB_URL,
    dataDir: status.dataDir,
    devenviroArgv: ['node', path.join(findAppRoot(), 'bin', 'devenviro.mjs'), '--data-dir', status.dataDir],
    pathSeparator: path.sep,
  };
}
