/** The A2A tests' SDK client (presenting an agent's token on every call) and a text message to send with it. */
import { Role, type SendMessageRequest } from '@a2a-js/sdk';
import { ClientFactory, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client';
import type { TestHub } from '../hub/harness';

/** An SDK client that presents the agent's token on every call (the card itself is public). */
export async function a2aClient(hub: TestHub, token: string): Promise<Client> {
  const withToken: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  return new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: withToken })] }).createFromUrl(hub.url);
}

/** A v1.0 SendMessage of one text part; `metadata.to` names the target agent. */
export function textMessage(text: string, metadata: Record<string, unknown> = {}, taskId = ''): SendMessageRequest {
  return {
    tenant: '',
    message: {
      messageId: crypto.randomUUID(),
      contextId: '',
      taskId,
      role: Role.ROLE_USER,
      parts: [{ content: { $case: 'text', value: text }, mediaType: 'text/plain', filename: '', metadata: {} }],
      metadata,
      extensions: [],
      referenceTaskIds: [],
    },
    configuration: undefined,
    metadata: {},
  };
}
