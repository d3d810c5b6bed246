/** The cockpit's CSP and security headers, the loopback Host and Origin checks, constant-time secret comparison. */
import { timingSafeEqual } from 'node:crypto';

/**
 * The cockpit's Content-Security-Policy, for the browser (an HTTP header) and Electron (the same header on file://
 * loads): only the app's own scripts and styles, network only back to the hub, nothing framed, no plugins.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Compares secrets in constant time, so a token cannot be guessed byte by byte from response times. */
export function secretsEqual(given: string | undefined | null, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const LOOPBACK_HOSTNAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTNAMES.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Guards against DNS rebinding: while the hub listens on loopback, a request must name a loopback host, so a web
 * page whose own hostname has been pointed at 127.0.0.1 still cannot talk to the hub.
 */
export function hostHeaderAllowed(hostHeader: string | undefined, listenHost: string): boolean {
  if (!isLoopbackHost(listenHost)) return true;
  if (!hostHeader) return false;
  const hostname = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.split(':')[0]!;
  return isLoopbackHost(hostname);
}

/**
 * A browser always sends Origin on a WebSocket upgrade; only the cockpit's own pages may open the cockpit socket.
 * Programs (the CLI, Electron's main process) send no Origin and are judged by their token alone.
 */
export function cockpitOriginAllowed(origin: string | undefined, port: number): boolean {
  if (origin === undefined) return true;
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' && isLoopbackHost(url.hostname) && Number(url.port) === port;
  } catch {
    return false;
  }
}

/**
 * Agent sockets are for programs, which send no Origin. Any Origin, the cockpit's own included, means a browser
 * page: a page that learned an agent's token must still not act as that agent.
 */
export function agentOriginAllowed(origin: string | undefined): boolean {
  return origin === undefined;
}
