/** Numbers, durations, sizes, rates and agents as people read them. */
import type { AgentInfo, Recipient } from '../../shared/agent-protocol';

/** 93784000 ms -> "1d 2h 3m 4s": the largest units only, so a glance is enough. */
export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const parts: Array<[number, string]> = [
    [Math.floor(seconds / 86400), 'd'],
    [Math.floor((seconds % 86400) / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'm'],
    [seconds % 60, 's'],
  ];
  const firstNonZero = parts.findIndex(([value]) => value > 0);
  if (firstNonZero === -1) return '0s';
  return parts
    .slice(firstNonZero, firstNonZero + 3)
    .map(([value, unit]) => `${value}${unit}`)
    .join(' ');
}

const DASH = '—';

/** Two or three significant digits: 0.042 -> "0.042", 1.234 -> "1.2", 34.5 -> "35". */
function compact(value: number): string {
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  if (abs < 0.1) return value.toFixed(3).replace(/0+$/, '').replace(/\.$/, '');
  if (abs < 10) return value.toFixed(1).replace(/\.0$/, '');
  return Math.round(value).toString();
}

/** Milliseconds in the unit a person reads best: "420 µs", "1.2 ms", "34 ms", "1.5 s", "2 min". */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  if (ms === 0) return '0';
  if (ms < 1) {
    const micros = ms * 1000;
    return micros < 1 ? '<1 µs' : `${Math.round(micros)} µs`;
  }
  if (ms < 1000) return `${compact(ms)} ms`;
  if (ms < 60_000) return `${compact(ms / 1000)} s`;
  return `${compact(ms / 60_000)} min`;
}

const BYTE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 35651584 -> "34 MB" (binary multiples, the way tools show memory). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return DASH;
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : compact(value)} ${BYTE_UNITS[unit]}`;
}

/** 1234 -> "1.2k", 2500000 -> "2.5M"; small numbers stay exact. */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  const abs = Math.abs(value);
  if (abs < 1000) return Number.isInteger(value) ? value.toString() : compact(value);
  if (abs < 1_000_000) return `${compact(value / 1000)}k`;
  if (abs < 1_000_000_000) return `${compact(value / 1_000_000)}M`;
  return `${compact(value / 1_000_000_000)}G`;
}

/** A rate per second: "1.5k/s", "12/s", "0.4/s", "0/s". */
export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return DASH;
  if (perSecond > 0 && perSecond < 0.05) return '<0.1/s';
  return `${formatCount(perSecond < 1000 ? Math.round(perSecond * 10) / 10 : perSecond)}/s`;
}

export function formatPercent(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return `${value.toFixed(digits)}%`;
}

/** "now", "3 s ago", "5 min ago", "2 h ago", "4 d ago". */
export function formatAgo(iso: string | null | undefined, now: number): string {
  if (!iso) return 'never';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return DASH;
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 1) return 'now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** How long until `iso`, as "12 m 5 s" / "1 h 20 m"; "ended" once it is past. */
export function formatTimeLeft(iso: string, now: number): string {
  const seconds = Math.floor((Date.parse(iso) - now) / 1000);
  if (seconds <= 0) return 'ended';
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} m ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} m`;
}

const pad = (value: number, width = 2) => value.toString().padStart(width, '0');

/** Local wall-clock time, "14:03:22". */
export function formatClock(at: string | number): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return DASH;
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Local wall-clock time with milliseconds, "14:03:22.481", for a busy stream. */
export function formatClockPrecise(at: string | number): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return DASH;
  return `${formatClock(at)}.${pad(date.getMilliseconds(), 3)}`;
}

/** "2026-11-25 14:03". */
export function formatDateTime(at: string | number): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return DASH;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${formatClock(at).slice(0, 5)}`;
}

/** A score with enough digits to compare neighbours: 0.016393 -> "0.0164". */
export function formatScore(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** The tail of a ULID is what differs between neighbours; the head is the timestamp. */
export function shortId(id: string): string {
  return id.length > 10 ? `…${id.slice(-6)}` : id;
}

/** Whom a message goes to, as a person reads it: an agent's name, `#topic`, or everyone. */
export function recipientLabel(to: Recipient, lookup: (id: string) => AgentInfo | undefined): string {
  if (to.type === 'broadcast') return 'everyone';
  if (to.type === 'topic') return `#${to.name}`;
  return lookup(to.id)?.name ?? shortId(to.id);
}

/** A message body as one line of text, for lists. */
export function bodyPreview(body: unknown, max = 240): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const line = (text ?? '').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** A message body in full, JSON pretty-printed. */
export function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  try {
    return JSON.stringify(body, null, 2);
  } catch {
    return String(body);
  }
}
