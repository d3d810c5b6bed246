/**
 * The hub's HTTP API as the client calls it: one request with a token, the errors a refused call becomes
 * (HubClientError, ReservationConflictError), and the codes the hub answers with, by HTTP status.
 */
import { API_PREFIX, ERROR_CODES } from '../shared/agent-protocol';
import type { ReservationConflict, ReservationConflictBody } from '../shared/reservation-protocol';
import { TASK_ERROR_CODES } from '../shared/task-protocol';
import { WORKFLOW_ERROR_CODES } from '../shared/workflow-run-protocol';

/**
 * A call the hub refused (status and code from its `{ error, code }` answer), or one that never reached it
 * (status 0: `unreachable`, `timeout`, `closed`).
 */
export class HubClientError extends Error {
  override name = 'HubClientError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown; body?: unknown },
  ) {
    super(message, options);
    this.body = options?.body;
  }

  /** The hub's whole answer to a refused call (`{ error, code, ... }`), for codes that say more (a reservation conflict). */
  readonly body: unknown;
}

/** The code of a refused reservation: the 409 body names the leases in the way. */
const RESERVATION_CONFLICT: ReservationConflictBody['code'] = 'reservation_conflict';

/**
 * A reservation the hub refused because other agents hold some of the paths (409): nothing was reserved.
 * `conflicts` names each lease in the way: its holder, the patterns that collide, when it ends.
 */
export class ReservationConflictError extends HubClientError {
  override name = 'ReservationConflictError';
  readonly conflicts: ReservationConflict[];
  constructor(message: string, body: Partial<ReservationConflictBody>) {
    super(409, RESERVATION_CONFLICT, message, { body });
    this.conflicts = Array.isArray(body.conflicts) ? body.conflicts : [];
  }
}

/** HTTP statuses of the codes the hub sends in socket error frames (which carry no status). */
export const STATUS_OF_CODE: Record<string, number | undefined> = Object.fromEntries(
  Object.entries({ ...ERROR_CODES, ...TASK_ERROR_CODES, ...WORKFLOW_ERROR_CODES }).map(([code, { status }]) => [code, status]),
);

type QueryValue = string | number | undefined;

/** The hub's HTTP API with one token (or none). */
export class HubHttp {
  constructor(
    private readonly baseUrl: () => string,
    private readonly token?: string,
  ) {}

  get url(): string {
    return this.baseUrl();
  }

  async request<T>(
    method: string,
    route: string,
    options: { body?: unknown; query?: Record<string, QueryValue>; token?: string; timeoutMs?: number } = {},
  ): Promise<T> {
    const base = this.baseUrl();
    const target = new URL(`${base}${API_PREFIX}${route}`);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) target.searchParams.set(key, String(value));
    const token = options.token ?? this.token;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(target, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') {
        throw new HubClientError(0, 'timeout', `the hub at ${base} did not answer ${method} ${route} within ${options.timeoutMs} ms`, { cause: error });
      }
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new HubClientError(0, 'unreachable', `cannot reach the hub at ${base} (${reason}): is it running? Point to it with --url or DEVENVIRO_URL`, {
        cause: error,
      });
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!response.ok) {
      const body = (parsed ?? {}) as { error?: unknown; code?: unknown };
      const message = typeof body.error === 'string' ? body.error : text.trim() || `${response.status} ${response.statusText}`;
      const code = typeof body.code === 'string' ? body.code : codeOfStatus(response.status);
      if (code === RESERVATION_CONFLICT) throw new ReservationConflictError(message, (parsed ?? {}) as Partial<ReservationConflictBody>);
      throw new HubClientError(response.status, code, message, { body: parsed });
    }
    if (parsed === undefined && text) throw new HubClientError(response.status, 'invalid_response', `the hub answered ${method} ${route} with something that is not JSON`);
    return parsed as T;
  }
}

/** A path of the reservation protocol (declared with the API prefix) as HubHttp.request takes it. */
export function apiRoute(fullPath: string): string {
  return fullPath.startsWith(API_PREFIX) ? fullPath.slice(API_PREFIX.length) : fullPath;
}

export function codeOfStatus(status: number): string {
  return Object.entries(STATUS_OF_CODE).find(([, s]) => s === status)?.[0] ?? `http_${status}`;
}
