/** The renderer's Transport interface, its connection states and the error a failed call throws. */
import type { CallFailure, CockpitApi } from '../../../shared/contract';

/** `refused`: the hub said the token is not valid (the page stops retrying: only a new URL helps). */
export type ConnectionState = 'connecting' | 'open' | 'closed' | 'refused';

/** The renderer's one way to the hub; Electron IPC and the browser's WebSocket both implement it. */
export interface Transport extends CockpitApi {
  readonly kind: 'ipc' | 'websocket';
  connection(): ConnectionState;
  onConnection(listener: (state: ConnectionState) => void): () => void;
  /** A message's whole body, as the JSON the hub keeps (lists and threads carry a large one as a preview). */
  messageBody(id: string): Promise<Blob>;
  /** A finished CPU profile or heap snapshot of the hub (advice-protocol.ts), to save as a file. */
  profileFile(id: string): Promise<Blob>;
}

export class CockpitCallError extends Error {
  override name = 'CockpitCallError';
  readonly code: CallFailure['code'] | 'disconnected';
  constructor(failure: { code: CockpitCallError['code']; message: string }) {
    super(failure.message);
    this.code = failure.code;
  }
}
