/** Text for people: tables, messages, times, sizes and counts as the commands print them. */
import type { Message } from '../../shared/agent-protocol';

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd()).join('\n');
}

export function formatMessage(message: Message, names: Map<string, string>): string {
  const to =
    message.to.type === 'agent' ? (names.get(message.to.id) ?? message.to.id) : message.to.type === 'topic' ? `#${message.to.name}` : 'everyone';
  const flags = [message.importance !== 'normal' ? message.importance : '', message.ackRequired ? 'ack required' : ''].filter(Boolean);
  const head = `${message.id}  ${shortTime(message.createdAt)}  ${names.get(message.from) ?? message.from} → ${to}${flags.length ? `  [${flags.join(', ')}]` : ''}`;
  const lines = [head];
  if (message.subject) lines.push(`  Subject: ${message.subject}`);
  if (message.threadId !== message.id) lines.push(`  Thread: ${message.threadId}${message.replyTo ? `, reply to ${message.replyTo}` : ''}`);
  const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body, null, 2);
  lines.push(...body.split('\n').map((line) => `  ${line}`));
  return lines.join('\n');
}

export function shortTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace('T', ' ').slice(0, 19);
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function ago(ms: number): string {
  return `${span(ms)} ago`;
}

export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86_400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
