/** A typed helper to call a contract call by name. */
import type { CallName, CallParams, CallResult } from '../../../shared/contract';
import type { Transport } from './types';

/** Calls a contract call by name with optional params, typed (the contract's rest-tuple signature made plain). */
export function invoke<K extends CallName>(transport: Transport, name: K, params?: CallParams<K>): Promise<CallResult<K>> {
  return (transport.call as (name: K, params?: CallParams<K>) => Promise<CallResult<K>>)(name, params);
}
