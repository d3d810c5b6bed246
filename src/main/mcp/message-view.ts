/** A message as MCP tools and resources return it: a large body as its first characters, its size and its route. */
import { messageBodyPath, type Message } from '../../shared/agent-protocol';
import { MCP_BODY_PREVIEW_BYTES, type TruncatedBody } from '../../shared/mcp-protocol';
import { previewMessage } from '../messaging/frames';
import { jsonPreviewOf } from '../messaging/json-body';
import type { StoredMessage } from '../messaging/store';

export type McpMessage = Message & { truncated?: TruncatedBody };

/**
 * The cockpit's preview rule (previewMessage: a body kept in a file is read only as far as its first bytes, a long
 * text is cut) at MCP_BODY_PREVIEW_BYTES, and also for a JSON body kept in its row (under messages.bodyFileBytes,
 * 1 MiB by default) whose JSON text is over the limit; `bodyPath` says where the whole body is.
 */
export function mcpMessage(stored: StoredMessage, maxBytes = MCP_BODY_PREVIEW_BYTES): McpMessage {
  const { truncated, ...message } = previewMessage(stored, maxBytes);
  if (truncated) return { ...message, truncated: { bytes: truncated.bytes, bodyPath: messageBodyPath(stored.id) } };
  if (message.contentType !== 'json') return message;
  // Bounded by messages.bodyFileBytes (a larger body is kept in a file, handled above): a few ms at most.
  const json = Buffer.from(JSON.stringify(message.body));
  if (json.length <= maxBytes) return message;
  return { ...message, body: jsonPreviewOf(json, maxBytes), truncated: { bytes: json.length, bodyPath: messageBodyPath(stored.id) } };
}
