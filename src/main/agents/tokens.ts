/** Agent tokens: how a new one is made, and the hash the registry keeps instead of the token. */
import { createHash, randomBytes } from 'node:crypto';

const TOKEN_PREFIX = 'dvx_';

/** 256 random bits; the prefix makes a leaked token easy to recognise (and to scan for) in logs and repos. */
export function newAgentToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * Tokens are stored as SHA-256 digests. A fast hash is enough here: tokens are random 256-bit values, not
 * passwords, so there is nothing for a slow hash to protect against.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
