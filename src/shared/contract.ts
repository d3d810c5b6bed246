/**
 * The cockpit contract: every call the cockpit can make to the hub and every event the hub pushes to it, declared
 * once. Main registers handlers keyed by this map, the preload forwards it without knowing its entries, and the
 * renderer's transports (Electron IPC and the browser WebSocket) are typed by it, so no channel name is typed twice.
 *
 * Call parameters carry a zod schema because they cross a trust boundary and are validated in main; results and
 * event payloads are produced by main itself, so they are carried as types only.
 */
import { z } from 'zod';

function call<P extends z.ZodType>(params: P) {
  return { returns: <R>() => ({ params, result: undefined as unknown as R }) };
}
function event<Payload>() {
  return { payload: undefined as unknown as Payload };
}

const NoParams = z.object({}).strict().optional();

export type ServiceState = 'starting' | 'up' | 'degraded' | 'down';

export interface ServiceStatus {
  name: string;
  state: ServiceState;
  /** What the service is doing or why it is not up, in words a person can act on. */
  detail: string;
  /** 0..1 while long work (building the encoder, say) is under way. */
  progress?: number;
}

export interface HubStatus {
  product: string;
  version: string;
  runtime: 'electron' | 'headless';
  pid: number;
  nodeVersion: string;
  startedAt: string;
  uptimeMs: number;
  dataDir: string;
  /** Where agents and the browser cockpit reach the hub (loopback by default). */
  apiUrl: string | null;
  services: ServiceStatus[];
}

export const calls = {
  'hub.status': call(NoParams).returns<HubStatus>(),
} as const;

export const events = {
  /** Pushed whenever a service changes state and once a second otherwise, so uptime is live. */
  'hub.status': event<HubStatus>(),
} as const;

export type CallName = keyof typeof calls;
export type CallParams<K extends CallName> = z.input<(typeof calls)[K]['params']>;
export type CallResult<K extends CallName> = (typeof calls)[K]['result'];
export type EventName = keyof typeof events;
export type EventPayload<K extends EventName> = (typeof events)[K]['payload'];

export function isCallName(name: unknown): name is CallName {
  return typeof name === 'string' && Object.hasOwn(calls, name);
}
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.hasOwn(events, name);
}

/** What the renderer sees, whichever transport carries it. */
export interface CockpitApi {
  call<K extends CallName>(name: K, ...params: CallParams<K> extends undefined ? [] | [CallParams<K>] : [CallParams<K>]): Promise<CallResult<K>>;
  on<K extends EventName>(name: K, listener: (payload: EventPayload<K>) => void): () => void;
}

/** A failed call, as it travels back to the renderer: a stable code and a sentence. */
export interface CallFailure {
  code: 'unknown_call' | 'invalid_params' | 'failed' | 'unauthorized';
  message: string;
}
