/**
 * What a memory names, found by pure text code: file paths, symbols, error codes, URLs, people, tickets and commits.
 * Two memories naming the same one are linked (links.ts). Each kind is matched strictly: a link between two memories
 * must mean something, so an ordinary word is never an entity.
 */
import type { MemoryEntity, MemoryEntityKind } from '../../../shared/memory-graph-protocol';
import { BACKTICKED, BARE_FILE, CALL_IN_PROSE, MEMBER_IN_PROSE, PATH, URL, looksLikePath, symbolOf } from '../../extract/patterns';

/** Entities kept per memory: a long passage names many things, and a link per name would drown the graph. */
const MAX_ENTITIES = 24;
/** Characters of a memory searched for entities: a long one's first entities are enough, and the scan stays short. */
const SCANNED_CHARACTERS = 20_000;

/** Error codes: errno names (ECONNREFUSED), compiler and linter codes (TS2345, E0502, CS0103), HTTP statuses said so. */
const ERRNO = /\bE(?:CONN(?:REFUSED|RESET|ABORTED)|ADDRINUSE|ADDRNOTAVAIL|NOENT|ACCES|PERM|EXIST|NOTDIR|ISDIR|MFILE|NFILE|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|NOTFOUND|AI_AGAIN|NOMEM|NOSPC|BUSY|INVAL|NOTEMPTY|LOOP|ROFS|XDEV|2BIG|AGAIN)\b/g;
const COMPILER_CODE = /\b(?:TS|CS|E|C|W|SC|PY|ERR_)[0-9]{3,5}\b|\bERR_[A-Z][A-Z0-9_]{3,}\b/g;
const HTTP_STATUS = /\b(?:HTTP|status(?: code)?)\s*([45][0-9]{2})\b/gi;
/** Tickets: JIRA-style keys (PAY-1234) and issue references (#482, GH-12). */
const TICKET = /\b([A-Z][A-Z0-9]{1,9}-[0-9]{1,6})\b/g;
const ISSUE = /(?<![\w&#/])#([0-9]{2,6})\b/g;
/** Commits: 7 to 40 hex digits with at least one letter and one digit, not a word or a number. */
const HEX = /\b([0-9a-f]{7,40})\b/g;
/** People: @handles and e-mail addresses. */
const HANDLE = /(?<![\w.@/])@([A-Za-z][\w-]{1,38})\b(?![./]\w)/g;
const EMAIL = /\b([\w.+-]+@[\w-]+(?:\.[\w-]+)+)\b/g;
/** Symbols: camelCase, PascalCase with two humps, snake_case and CONSTANT_CASE names in prose. */
const NAMED_SYMBOL = /(?<![\w$./\\@-])((?:[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+)|(?:[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)|(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+)|(?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+))(?![\w$-]|\.\w)/g;
/** Ticket-shaped tokens that are not tickets. */
const NOT_TICKETS = /^(?:UTF|ISO|SHA|MD|AES|RSA|HTTP|TLS|SSL|X|H|IPV|ES|ECMA|RFC|CVE-?)-?\d/;

export function extractEntities(whole: string): MemoryEntity[] {
  const text = whole.length > SCANNED_CHARACTERS ? whole.slice(0, SCANNED_CHARACTERS) : whole;
  const found = new Map<string, MemoryEntity>();
  const add = (kind: MemoryEntityKind, value: string) => {
    if (found.size >= MAX_ENTITIES || value.length < 2 || value.length > 300) return;
    const key = `${kind}\u0000${value}`;
    if (!found.has(key)) found.set(key, { kind, value });
  };
  // Each pattern runs only on a text holding a character it cannot match without: most memories name no URL,
  // e-mail or call, and a pattern that fails tries again at every word (a third of the graph's time per memory).
  const has = (needle: string) => text.includes(needle);
  const digits = /\d/.test(text);
  const urls: string[] = [];
  if (has('://')) for (const [url] of text.matchAll(URL)) {
    urls.push(url);
    add('url', normaliseUrl(url));
  }
  // Paths and names inside URLs are the URL's, not entities of their own.
  const rest = urls.reduce((remaining, url) => remaining.split(url).join(' '), text);

  if (has('/') || has('\\')) {
    for (const match of rest.matchAll(PATH)) {
      const path = match[1]!;
      if (looksLikePath(path)) add('path', normalisePath(path));
    }
  }
  if (/\.[a-z]/.test(rest)) for (const match of rest.matchAll(BARE_FILE)) add('path', normalisePath(match[1]!));
  if (has('E')) for (const [code] of rest.matchAll(ERRNO)) add('error', code);
  if (digits || has('ERR_')) for (const [code] of rest.matchAll(COMPILER_CODE)) add('error', code);
  if (digits) {
    for (const match of rest.matchAll(HTTP_STATUS)) add('error', `HTTP ${match[1]}`);
    if (has('-')) for (const match of rest.matchAll(TICKET)) if (!NOT_TICKETS.test(match[1]!)) add('ticket', match[1]!.toUpperCase());
    if (has('#')) for (const match of rest.matchAll(ISSUE)) add('ticket', `#${match[1]}`);
    for (const match of rest.matchAll(HEX)) {
      const hex = match[1]!;
      if (/[a-f]/.test(hex) && /[0-9]/.test(hex) && !/^[0-9]+[a-f]?$/.test(hex)) add('commit', hex);
    }
  }
  const emails = new Set<string>();
  if (has('@')) {
    for (const match of rest.matchAll(EMAIL)) {
      emails.add(match[1]!);
      add('person', match[1]!.toLowerCase());
    }
    for (const match of rest.matchAll(HANDLE)) {
      if (![...emails].some((email) => email.includes(`@${match[1]}`))) add('person', `@${match[1]!.toLowerCase()}`);
    }
  }

  const symbol = (raw: string) => {
    const found = symbolOf(raw.trim());
    if (found) add('symbol', found.name.replace(/\(\)$/, ''));
  };
  if (has('`')) {
    for (const match of rest.matchAll(BACKTICKED)) {
      const inner = match[1]!.trim();
      // A backticked path or command is not a symbol; a backticked identifier is.
      if (!/[\s/]/.test(inner)) symbol(inner);
    }
  }
  if (has('()')) for (const match of rest.matchAll(CALL_IN_PROSE)) symbol(`${match[1]}()`);
  for (const match of rest.matchAll(MEMBER_IN_PROSE)) symbol(`${match[1]}.${match[2]}`);
  for (const match of rest.matchAll(NAMED_SYMBOL)) {
    const name = match[1]!;
    // CONSTANT_CASE error names are errors (ERR_…), taken above; hex-looking names are commits.
    if (/^ERR_/.test(name) || /^[0-9a-f]+$/.test(name)) continue;
    symbol(name);
  }
  return [...found.values()];
}

function normaliseUrl(url: string): string {
  return url.replace(/#.*$/, '').replace(/\/$/, '');
}

function normalisePath(path: string): string {
  return path.replace(/^\.\//, '').replace(/:\d+(?::\d+)?$/, '').replace(/\/$/, '');
}
