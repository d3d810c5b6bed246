/** One handler per cockpit contract call, and the dispatch that validates a call's parameters and runs it. */
import { calls, isCallName, type CallFailure, type CallName, type CallResult, type ParsedCallParams } from '../../shared/contract';
import type { IpcReply } from '../../shared/ipc';

/** One handler per contract call; the compiler refuses a map that misses a call or returns the wrong shape. */
export type CallHandlers = {
  [K in CallName]: (params: ParsedCallParams<K>) => CallResult<K> | Promise<CallResult<K>>;
};

/**
 * Runs one call from any transport: checks that the name is in the contract and the parameters match its schema,
 * then runs the handler. Failures come back as values with a code, never as exceptions across the bridge.
 */
export async function dispatchCall(handlers: CallHandlers, name: unknown, params: unknown): Promise<IpcReply<unknown>> {
  if (!isCallName(name)) {
    return failure('unknown_call', `there is no call named ${JSON.stringify(name)}`);
  }
  const parsed = calls[name].params.safeParse(params);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'params'}: ${issue.message}`);
    return failure('invalid_params', `${name}: ${problems.join('; ')}`);
  }
  try {
    const handler = handlers[name] as (params: unknown) => unknown;
    return { ok: true, result: await handler(parsed.data) };
  } catch (error) {
    return failure('failed', `${name}: ${(error as Error).message}`);
  }
}

function failure(code: CallFailure['code'], message: string): IpcReply<never> {
  return { ok: false, error: { code, message } };
}
