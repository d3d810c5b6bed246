/**
 * The shape of a text: format (Markdown, chat transcript, JSON-lines transcript, plain), code fences, speaker
 * turns, multi-line error blocks, sections (headings, or exchanges that start at a user turn), and the units
 * the chunker works on: sentences, whole code blocks and whole traces.
 */
import { findErrorBlocks, stripGutters, type ErrorBlock } from './errors';
import { splitSentences } from './sentences';
import { LineIndex, approxTokens, countWords, firstWords, isSmallTalk, truncate } from './text';
import type { DocumentFormat } from './types';

export type Role = 'user' | 'assistant' | 'system' | 'tool' | 'other';

export interface Fence {
  /** 0-based lines of the opening and closing markers (endLine is the last content line when unclosed). */
  startLine: number;
  endLine: number;
  closed: boolean;
  /** Lower-cased language from the info string ('' when none). */
  lang: string;
  info: string;
  /** A file path named by the info string (```ts title=src/a.ts, ```src/a.ts). */
  path?: string;
}

export interface Turn {
  index: number;
  speaker: string;
  role: Role;
  startLine: number;
  endLine: number;
  /** Characters of the speaker marker on the first line ("User: "). */
  prefixLength: number;
  timestamp?: string;
}

export interface Section {
  index: number;
  heading: string | null;
  level: number;
  /** Index of the enclosing section (Markdown nesting), or null under the document. */
  parent: number | null;
  headingPath: string[];
  startLine: number;
  endLine: number;
  headingLine: number | null;
  /** First and last turn in the section (transcripts). */
  turns: [number, number] | null;
  units: number[];
}

export type UnitKind = 'sentence' | 'code' | 'trace';

export interface Unit {
  index: number;
  kind: UnitKind;
  text: string;
  /** Offsets into ParsedDocument.text. */
  start: number;
  end: number;
  /** 0-based lines of the working text. */
  startLine: number;
  endLine: number;
  section: number;
  turn: number | null;
  /** Units of the same paragraph share a number. */
  paragraph: number;
  tokens: number;
  /** What is sent to the encoder for this unit, or null when it carries no words. */
  embedText: string | null;
  fence?: Fence;
  error?: ErrorBlock;
  listItem: boolean;
}

export interface Heading {
  level: number;
  text: string;
  line: number;
}

export interface ParsedDocument {
  format: DocumentFormat;
  /** The working text: the input with normalised line ends (JSON-lines rendered as "role: content"). */
  text: string;
  lines: string[];
  index: LineIndex;
  fences: Fence[];
  /** Fence index per line, -1 outside fences. */
  fenceAt: Int32Array;
  turns: Turn[];
  /** Turn index per line, -1 outside turns. */
  turnAt: Int32Array;
  headings: Heading[];
  sections: Section[];
  units: Unit[];
  /** Multi-line error blocks in prose and in text-like fences (only the former are units). */
  errorBlocks: ErrorBlock[];
  title: string;
}

export interface ParseOptions {
  format?: DocumentFormat;
  title?: string;
  maxEmbedWords: number;
  /** Transcripts without user turns are grouped into sections of about this many tokens. */
  sectionTokens: number;
}

/** Fence languages whose content is terminal output or plain text (errors and commands are looked for in them). */
export const TEXT_FENCE_LANGS = new Set(['', 'text', 'txt', 'plain', 'plaintext', 'log', 'logs', 'output', 'out', 'console', 'terminal', 'shell-session', 'shellsession', 'stderr', 'stdout', 'sh', 'bash', 'shell', 'zsh', 'fish', 'powershell', 'ps1', 'pwsh', 'cmd', 'bat', 'python-traceback', 'pytb', 'traceback', 'diff']);

const MAX_SENTENCE_WORDS = 60;

const KNOWN_SPEAKERS =
  'user|human|assistant|ai|system|agent|tool|tool[ _-]?result|function|bot|model|claude(?:[ -]code)?|chatgpt|gpt-?[\\d.o]*|gemini|copilot|codex|cursor|aider|you|me';
const KNOWN_ROLE = new RegExp(
  `^(\\s*(?:\\*\\*|__)?(?:\\[([^\\]\\n]{1,40})\\]\\s*)?(${KNOWN_SPEAKERS})(?:\\s*\\([^)\\n]{0,40}\\))?\\s*(?:\\*\\*|__)?\\s*:\\s*(?:\\*\\*|__)?\\s?)`,
  'i',
);
const ROLE_HEADING = new RegExp(`^\\s{0,3}#{1,6}\\s+(?:\\*\\*)?(${KNOWN_SPEAKERS})(?:\\*\\*)?\\s*:?\\s*$`, 'i');
const TIMESTAMPED = /^(\s*\[([^\]\n]*\d[^\]\n]*)\]\s*(?:<([^>\n]{1,32})>|([\w@.-][\w .@-]{0,31}?):)\s)/;
const GENERIC = /^(\s*(?:\*\*)?([A-Z][A-Za-z0-9_.-]{1,24})(?:\*\*)?\s*:\s)/;
const CLAUDE_ASSISTANT = /^(\s*(?:⏺|●)\s*)/;
const CLAUDE_USER = /^(\s*>\s)/;
const NOT_SPEAKERS = new Set(
  (
    'note notes error errors warning warnings todo fixme decision decisions status step steps example examples output input result results ' +
    'summary question answer reason usage tip tips important update fix cause solution context problem goal title date time author subject ' +
    'from to re cc bcc action actions owner priority type description expected actual severity environment version info debug warn trace ' +
    'fatal critical caveat issue bug ps nb http https done next why how what when where pros cons option options consequences outcome commit ' +
    'branch file files path line command response request body header host port url name email phone tags labels resolution conclusion ' +
    'verdict follow-up followup risk risks assumption assumptions alternatives rationale see also caution danger hint attention remember ' +
    'accepted proposed deprecated superseded fixed added changed removed security performance test tests failed passed total duration ' +
    'location source target default value key id uuid level mode state'
  ).split(' '),
);
const LOG_LEVELS = /^(?:trace|debug|info|notice|warn|warning|error|err|fatal|critical|crit|severe|alert|emerg)$/i;

const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*([^`]*)$/;
const ATX = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const SETEXT = /^\s{0,3}(=+|-+)\s*$/;

const USER_NAMES = /^(?:user|human|you|me)$/i;
const ASSISTANT_NAMES = /^(?:assistant|ai|agent|bot|model|claude(?:[ -]code)?|chatgpt|gpt-?[\d.o]*|gemini|copilot|codex|cursor|aider)$/i;

function roleOf(speaker: string): Role {
  const name = speaker.trim();
  if (USER_NAMES.test(name)) return 'user';
  if (ASSISTANT_NAMES.test(name)) return 'assistant';
  if (/^system$/i.test(name)) return 'system';
  if (/^(?:tool|tool[ _-]?result|function)$/i.test(name)) return 'tool';
  return 'other';
}

export function parseDocument(input: string, options: ParseOptions): ParsedDocument {
  const normalized = input.replace(/\r\n?/g, '\n');
  const jsonl = options.format === undefined || options.format === 'jsonl' ? renderJsonLines(normalized) : null;
  const text = jsonl?.text ?? normalized;
  const lines = text.split('\n');
  const index = new LineIndex(text, jsonl?.lineMap);
  const { fences, fenceAt } = findFences(lines);

  let format: DocumentFormat;
  let turns: Turn[];
  const headings = findHeadings(lines, fenceAt);
  if (jsonl) {
    format = 'jsonl';
    turns = jsonl.turns;
  } else {
    const detected = findTurns(lines, fenceAt);
    const roleHeadings = detected.filter((t) => t.prefixLength >= lines[t.startLine]!.length).length;
    const contentHeadings = headings.length - roleHeadings;
    const looksLikeTranscript = detected.length >= 2 && !(contentHeadings >= 3 && detected.length < contentHeadings);
    format = options.format ?? (looksLikeTranscript ? 'transcript' : contentHeadings > 0 ? 'markdown' : 'plain');
    turns = format === 'transcript' ? detected : [];
  }
  const turnAt = new Int32Array(lines.length).fill(-1);
  turns.forEach((turn) => turnAt.fill(turn.index, turn.startLine, turn.endLine + 1));

  // Multi-line errors: in prose (these become atomic units) and inside fences of terminal output.
  const scanLines = stripGutters(lines);
  const proseErrors = findErrorBlocks(scanLines, (i) => fenceAt[i]! < 0 && !isRoleHeadingLine(turns, turnAt, lines, i));
  const fenceErrors = fences
    .filter((f) => TEXT_FENCE_LANGS.has(f.lang))
    .flatMap((f) => findErrorBlocks(scanLines, () => true, f.startLine + 1, f.closed ? f.endLine : f.endLine + 1));
  const traceAt = new Int32Array(lines.length).fill(-1);
  proseErrors.forEach((block, i) => traceAt.fill(i, block.startLine, block.endLine + 1));

  const sections =
    format === 'markdown'
      ? markdownSections(lines, headings)
      : format === 'plain'
        ? [plainSection(lines.length)]
        : transcriptSections(lines, turns, options.sectionTokens, index, text);

  const units: Unit[] = [];
  const builder = new UnitBuilder(text, lines, index, fences, fenceAt, proseErrors, traceAt, turns, turnAt, options.maxEmbedWords);
  for (const section of sections) builder.build(section, units);

  const title = documentTitle(options.title, format, headings, units, turns);
  return {
    format,
    text,
    lines,
    index,
    fences,
    fenceAt,
    turns,
    turnAt,
    headings,
    sections,
    units,
    errorBlocks: [...proseErrors, ...fenceErrors].sort((a, b) => a.startLine - b.startLine),
    title,
  };
}

function isRoleHeadingLine(turns: Turn[], turnAt: Int32Array, lines: string[], i: number): boolean {
  const t = turnAt[i]!;
  return t >= 0 && turns[t]!.startLine === i && turns[t]!.prefixLength >= lines[i]!.length;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON-lines transcripts

interface RenderedJsonl {
  text: string;
  lineMap: number[];
  turns: Turn[];
}

/** Renders JSON-lines (or a JSON array) of chat messages as "role: content" text; null if it is not that. */
export function renderJsonLines(text: string): RenderedJsonl | null {
  const trimmed = text.trim();
  const records: Array<{ value: unknown; line: number }> = [];
  if (trimmed.startsWith('[') && trimmed.endsWith(']')) {
    try {
      const array = JSON.parse(trimmed) as unknown;
      if (Array.isArray(array)) array.forEach((value) => records.push({ value, line: 1 }));
    } catch {
      return null;
    }
  } else {
    const lines = text.split('\n');
    let nonEmpty = 0;
    lines.forEach((line, i) => {
      const t = line.trim();
      if (t === '') return;
      nonEmpty++;
      if (!t.startsWith('{') || !t.endsWith('}')) return;
      try {
        records.push({ value: JSON.parse(t) as unknown, line: i + 1 });
      } catch {
        // Not JSON: counted against the format.
      }
    });
    if (records.length < Math.max(2, 0.6 * nonEmpty)) return null;
  }
  const messages = records
    .map(({ value, line }) => ({ message: messageOf(value), line }))
    .filter((m): m is { message: { speaker: string; content: string; timestamp?: string }; line: number } => m.message !== null);
  if (messages.length < Math.max(1, 0.6 * records.length)) return null;

  const out: string[] = [];
  const lineMap: number[] = [];
  const turns: Turn[] = [];
  for (const { message, line } of messages) {
    const prefix = `${message.speaker}: `;
    const contentLines = message.content.split('\n');
    const startLine = out.length;
    contentLines.forEach((l, i) => {
      out.push(i === 0 ? prefix + l : l);
      lineMap.push(line);
    });
    turns.push({
      index: turns.length,
      speaker: message.speaker,
      role: roleOf(message.speaker),
      startLine,
      endLine: out.length - 1,
      prefixLength: prefix.length,
      ...(message.timestamp ? { timestamp: message.timestamp } : {}),
    });
  }
  return { text: out.join('\n'), lineMap, turns };
}

function messageOf(value: unknown): { speaker: string; content: string; timestamp?: string } | null {
  if (typeof value !== 'object' || value === null) return null;
  const o = value as Record<string, unknown>;
  const inner = typeof o.message === 'object' && o.message !== null ? (o.message as Record<string, unknown>) : undefined;
  const author = typeof o.author === 'object' && o.author !== null ? (o.author as Record<string, unknown>) : undefined;
  const speaker = [o.role, inner?.role, author?.role, o.speaker, o.from, o.name, o.type].find((v): v is string => typeof v === 'string' && v.trim() !== '');
  const content = contentText(o.content ?? inner?.content ?? o.text ?? inner?.text ?? o.body ?? o.message);
  if (!speaker || !content || content.trim() === '') return null;
  const timestamp = [o.timestamp, o.time, o.ts, o.created_at, o.createdAt].find((v): v is string => typeof v === 'string');
  return { speaker: speaker.trim(), content: content.trim(), ...(timestamp ? { timestamp } : {}) };
}

function contentText(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => {
        if (typeof part === 'string') return part;
        if (typeof part !== 'object' || part === null) return '';
        const p = part as Record<string, unknown>;
        if (typeof p.text === 'string') return p.text;
        if (p.type === 'tool_use') return `[tool ${String(p.name ?? '')}] ${JSON.stringify(p.input ?? {})}`;
        if (p.type === 'tool_result') return contentText(p.content) ?? '';
        return '';
      })
      .filter((s) => s !== '')
      .join('\n');
  }
  if (typeof content === 'object' && content !== null && typeof (content as { text?: unknown }).text === 'string') {
    return (content as { text: string }).text;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Fences, headings, turns

function findFences(lines: string[]): { fences: Fence[]; fenceAt: Int32Array } {
  const fences: Fence[] = [];
  const fenceAt = new Int32Array(lines.length).fill(-1);
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i]!);
    if (!open) continue;
    const marker = open[2]!;
    const closer = new RegExp(`^\\s*${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`);
    let end = -1;
    for (let j = i + 1; j < lines.length; j++) {
      if (closer.test(lines[j]!)) {
        end = j;
        break;
      }
    }
    let closed = end !== -1;
    if (!closed) {
      // An unclosed fence ends before the next speaker turn, else at the end of the text.
      end = lines.length - 1;
      for (let j = i + 1; j < lines.length; j++) {
        if (KNOWN_ROLE.test(lines[j]!) || CLAUDE_ASSISTANT.test(lines[j]!)) {
          end = j - 1;
          break;
        }
      }
      closed = false;
    }
    const { lang, path } = fenceLanguage(open[3]!, open[4]!);
    const fence: Fence = { startLine: i, endLine: end, closed, lang, info: `${open[3]!} ${open[4]!}`.trim(), ...(path ? { path } : {}) };
    fenceAt.fill(fences.length, i, end + 1);
    fences.push(fence);
    i = end;
  }
  return { fences, fenceAt };
}

const EXTENSION_LANGS: Record<string, string> = {
  ts: 'typescript', tsx: 'tsx', mts: 'typescript', cts: 'typescript', js: 'javascript', jsx: 'jsx', mjs: 'javascript', cjs: 'javascript',
  py: 'python', rs: 'rust', go: 'go', java: 'java', kt: 'kotlin', rb: 'ruby', php: 'php', cs: 'csharp', cpp: 'cpp', cc: 'cpp', c: 'c',
  h: 'c', hpp: 'cpp', swift: 'swift', sh: 'sh', bash: 'bash', zsh: 'zsh', sql: 'sql', json: 'json', yaml: 'yaml', yml: 'yaml',
  toml: 'toml', md: 'markdown', html: 'html', css: 'css', scss: 'scss', vue: 'vue', svelte: 'svelte', xml: 'xml', ps1: 'powershell',
};

function fenceLanguage(first: string, rest: string): { lang: string; path?: string } {
  let lang = first.toLowerCase();
  let path: string | undefined;
  const colon = /^([\w+#-]+):(.+)$/.exec(first);
  if (colon) {
    lang = colon[1]!.toLowerCase();
    path = colon[2]!;
  } else if (/[/\\]|\.\w{1,5}$/.test(first) && !/^[\w+#-]+$/.test(first)) {
    path = first;
    lang = EXTENSION_LANGS[first.split('.').pop()!.toLowerCase()] ?? '';
  }
  const titled = /(?:title|file|filename|path)=["']?([^"'\s]+)/.exec(rest);
  if (titled) path = titled[1]!;
  return path ? { lang, path } : { lang };
}

function findHeadings(lines: string[], fenceAt: Int32Array): Heading[] {
  const headings: Heading[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (fenceAt[i]! >= 0) continue;
    const atx = ATX.exec(lines[i]!);
    if (atx && atx[2] !== '') {
      headings.push({ level: atx[1]!.length, text: stripInlineMarkdown(atx[2]!), line: i });
      continue;
    }
    // Setext: a paragraph line underlined with === or --- (a single-line paragraph, so lists and rules are not taken).
    const next = lines[i + 1];
    if (
      next !== undefined &&
      fenceAt[i + 1]! < 0 &&
      SETEXT.test(next) &&
      lines[i]!.trim() !== '' &&
      (i === 0 || lines[i - 1]!.trim() === '') &&
      !/^\s*(?:[-*+>|]|\d+[.)]|```)/.test(lines[i]!) &&
      next.trim().length >= 3
    ) {
      headings.push({ level: next.trim().startsWith('=') ? 1 : 2, text: stripInlineMarkdown(lines[i]!.trim()), line: i });
      i++;
    }
  }
  return headings;
}

function findTurns(lines: string[], fenceAt: Int32Array): Turn[] {
  interface Marker {
    line: number;
    speaker: string;
    prefixLength: number;
    timestamp?: string;
    generic: boolean;
  }
  const markers: Marker[] = [];
  const claude = lines.some((l, i) => fenceAt[i]! < 0 && CLAUDE_ASSISTANT.test(l));
  for (let i = 0; i < lines.length; i++) {
    if (fenceAt[i]! >= 0) continue;
    const line = lines[i]!;
    const heading = ROLE_HEADING.exec(line);
    if (heading) {
      markers.push({ line: i, speaker: heading[1]!, prefixLength: line.length, generic: false });
      continue;
    }
    const known = KNOWN_ROLE.exec(line);
    if (known) {
      markers.push({ line: i, speaker: known[3]!, prefixLength: known[1]!.length, ...(known[2] ? { timestamp: known[2] } : {}), generic: false });
      continue;
    }
    const stamped = TIMESTAMPED.exec(line);
    if (stamped) {
      const speaker = (stamped[3] ?? stamped[4] ?? '').trim();
      if (speaker !== '' && !LOG_LEVELS.test(speaker)) {
        markers.push({ line: i, speaker, prefixLength: stamped[1]!.length, timestamp: stamped[2]!, generic: false });
        continue;
      }
    }
    if (claude) {
      const assistant = CLAUDE_ASSISTANT.exec(line);
      if (assistant) {
        markers.push({ line: i, speaker: 'assistant', prefixLength: assistant[1]!.length, generic: false });
        continue;
      }
      const user = CLAUDE_USER.exec(line);
      if (user && (i === 0 || !CLAUDE_USER.test(lines[i - 1]!))) {
        markers.push({ line: i, speaker: 'user', prefixLength: user[1]!.length, generic: false });
        continue;
      }
    }
    const generic = GENERIC.exec(line);
    if (generic && !NOT_SPEAKERS.has(generic[2]!.toLowerCase()) && !LOG_LEVELS.test(generic[2]!)) {
      markers.push({ line: i, speaker: generic[2]!, prefixLength: generic[1]!.length, generic: true });
    }
  }
  // Generic "Name:" markers count only when at least two names each speak at least twice.
  const genericCounts = new Map<string, number>();
  for (const m of markers) if (m.generic) genericCounts.set(m.speaker, (genericCounts.get(m.speaker) ?? 0) + 1);
  const recurring = new Set([...genericCounts].filter(([, n]) => n >= 2).map(([name]) => name));
  const kept = markers.filter((m) => !m.generic || recurring.size >= 2 && recurring.has(m.speaker));
  const nonGeneric = kept.filter((m) => !m.generic).length;
  // With clear role markers present, generic names are probably labels inside turns ("Context: …").
  const final = nonGeneric >= 2 ? kept.filter((m) => !m.generic) : kept;
  return final.map((m, i) => ({
    index: i,
    speaker: m.speaker,
    role: roleOf(m.speaker),
    startLine: m.line,
    endLine: (final[i + 1]?.line ?? lines.length) - 1,
    prefixLength: m.prefixLength,
    ...(m.timestamp ? { timestamp: m.timestamp } : {}),
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Sections

function markdownSections(lines: string[], headings: Heading[]): Section[] {
  const sections: Section[] = [];
  const firstHeading = headings[0]?.line ?? lines.length;
  if (lines.slice(0, firstHeading).some((l) => l.trim() !== '')) {
    sections.push({ index: 0, heading: null, level: 0, parent: null, headingPath: [], startLine: 0, endLine: firstHeading - 1, headingLine: null, turns: null, units: [] });
  }
  const stack: Section[] = [];
  headings.forEach((h, i) => {
    const next = headings[i + 1];
    // A setext heading's underline is the line after it.
    const endLine = (next?.line ?? lines.length) - 1;
    while (stack.length > 0 && stack[stack.length - 1]!.level >= h.level) stack.pop();
    const parent = stack[stack.length - 1] ?? null;
    const section: Section = {
      index: sections.length,
      heading: h.text,
      level: h.level,
      parent: parent?.index ?? null,
      headingPath: [...(parent?.headingPath ?? []), h.text],
      startLine: h.line,
      endLine,
      headingLine: h.line,
      turns: null,
      units: [],
    };
    sections.push(section);
    stack.push(section);
  });
  return sections;
}

function plainSection(lineCount: number): Section {
  return { index: 0, heading: null, level: 0, parent: null, headingPath: [], startLine: 0, endLine: lineCount - 1, headingLine: null, turns: null, units: [] };
}

/** Exchanges: a section starts at every user turn (or every ~sectionTokens when nobody is the user). */
function transcriptSections(lines: string[], turns: Turn[], sectionTokens: number, index: LineIndex, text: string): Section[] {
  const sections: Section[] = [];
  const firstTurnLine = turns[0]?.startLine ?? lines.length;
  if (lines.slice(0, firstTurnLine).some((l) => l.trim() !== '')) {
    sections.push({ index: 0, heading: null, level: 1, parent: null, headingPath: [], startLine: 0, endLine: firstTurnLine - 1, headingLine: null, turns: null, units: [] });
  }
  const hasUser = turns.some((t) => t.role === 'user');
  let tokens = 0;
  for (const turn of turns) {
    const turnText = text.slice(index.starts[turn.startLine]! + turn.prefixLength, index.starts[turn.endLine + 1] ?? text.length);
    const turnTokens = approxTokens(turnText);
    const current = sections[sections.length - 1];
    const startNew = current === undefined || current.turns === null || (hasUser ? turn.role === 'user' : tokens + turnTokens > sectionTokens && tokens > 0);
    if (startNew) {
      const firstLine = firstWords(stripInlineMarkdown(turnText.split('\n').find((l) => l.trim() !== '') ?? ''), 14);
      sections.push({
        index: sections.length,
        heading: `${turn.speaker}: ${truncate(firstLine, 100)}`.trim(),
        level: 1,
        parent: null,
        headingPath: [],
        startLine: turn.startLine,
        endLine: turn.endLine,
        headingLine: null,
        turns: [turn.index, turn.index],
        units: [],
      });
      tokens = 0;
    } else {
      current.endLine = turn.endLine;
      current.turns = [current.turns![0], turn.index];
    }
    tokens += turnTokens;
  }
  return sections;
}

// ---------------------------------------------------------------------------------------------------------------
// Units

class UnitBuilder {
  private paragraph = 0;

  constructor(
    private readonly text: string,
    private readonly lines: string[],
    private readonly index: LineIndex,
    private readonly fences: Fence[],
    private readonly fenceAt: Int32Array,
    private readonly errors: ErrorBlock[],
    private readonly traceAt: Int32Array,
    private readonly turns: Turn[],
    private readonly turnAt: Int32Array,
    private readonly maxEmbedWords: number,
  ) {}

  build(section: Section, units: Unit[]): void {
    const { lines } = this;
    let i = section.headingLine === null ? section.startLine : section.headingLine + 1;
    // A setext heading's underline belongs to the heading.
    if (section.headingLine !== null && !ATX.test(lines[section.headingLine]!) && SETEXT.test(lines[i] ?? '')) i++;
    const end = section.endLine;
    while (i <= end) {
      const fence = this.fenceAt[i]!;
      if (fence >= 0) {
        const f = this.fences[fence]!;
        this.push(units, section, 'code', i, Math.min(f.endLine, end), { fence: f });
        i = Math.min(f.endLine, end) + 1;
        this.paragraph++;
        continue;
      }
      const trace = this.traceAt[i]!;
      if (trace >= 0) {
        const block = this.errors[trace]!;
        this.push(units, section, 'trace', i, Math.min(block.endLine, end), { error: block });
        i = Math.min(block.endLine, end) + 1;
        this.paragraph++;
        continue;
      }
      if (lines[i]!.trim() === '' || this.restOfLine(i) === '') {
        this.paragraph++;
        i++;
        continue;
      }
      let j = i;
      while (j + 1 <= end && lines[j + 1]!.trim() !== '' && this.fenceAt[j + 1]! < 0 && this.traceAt[j + 1]! < 0 && !this.turnStartsAt(j + 1)) j++;
      const from = this.index.starts[i]! + this.prefixAt(i);
      const to = this.index.starts[j]! + lines[j]!.length;
      for (const span of splitSentences(this.text.slice(from, to), from)) {
        for (const piece of splitLongSentence(span.text, span.start)) this.pushSentence(units, section, piece.text, piece.start);
      }
      this.paragraph++;
      i = j + 1;
    }
  }

  private turnStartsAt(line: number): boolean {
    const t = this.turnAt[line]!;
    return t >= 0 && this.turns[t]!.startLine === line;
  }

  private prefixAt(line: number): number {
    return this.turnStartsAt(line) ? this.turns[this.turnAt[line]!]!.prefixLength : 0;
  }

  private restOfLine(line: number): string {
    return this.lines[line]!.slice(this.prefixAt(line)).trim();
  }

  private pushSentence(units: Unit[], section: Section, text: string, start: number): void {
    const startLine = this.index.lineOf(start);
    const endLine = this.index.lineOf(start + text.length - 1);
    const unit: Unit = {
      index: units.length,
      kind: 'sentence',
      text,
      start,
      end: start + text.length,
      startLine,
      endLine,
      section: section.index,
      turn: this.turnAt[startLine]! >= 0 ? this.turnAt[startLine]! : null,
      paragraph: this.paragraph,
      tokens: approxTokens(text),
      embedText: sentenceEmbedText(text, this.maxEmbedWords),
      listItem: /^\s*(?:[-*+•]|\d{1,3}[.)])\s/.test(text),
    };
    units.push(unit);
    section.units.push(unit.index);
  }

  private push(units: Unit[], section: Section, kind: UnitKind, startLine: number, endLine: number, extra: Pick<Unit, 'fence' | 'error'>): void {
    const start = this.index.starts[startLine]! + this.prefixAt(startLine);
    const end = this.index.starts[endLine]! + this.lines[endLine]!.length;
    const text = this.text.slice(start, end).replace(/^\s*\n/, '').trimEnd();
    const body = kind === 'code' ? this.lines.slice(startLine + 1, extra.fence!.closed ? endLine : endLine + 1).join('\n') : text;
    const unit: Unit = {
      index: units.length,
      kind,
      text,
      start,
      end,
      startLine,
      endLine,
      section: section.index,
      turn: this.turnAt[startLine]! >= 0 ? this.turnAt[startLine]! : null,
      paragraph: this.paragraph,
      tokens: approxTokens(text),
      embedText: kind === 'code' ? codeEmbedText(body, extra.fence!.lang, this.maxEmbedWords) : traceEmbedText(extra.error!, this.lines, this.maxEmbedWords),
      listItem: false,
      ...extra,
    };
    units.push(unit);
    section.units.push(unit.index);
  }
}

/** Sentences longer than MAX_SENTENCE_WORDS are cut at a clause boundary near the middle (recursively). */
function splitLongSentence(text: string, start: number): Array<{ text: string; start: number }> {
  if (countWords(text) <= MAX_SENTENCE_WORDS) return [{ text, start }];
  const middle = text.length / 2;
  let best = -1;
  let bestDistance = Infinity;
  for (const pattern of [/[;:]\s/g, /,\s/g, /\s[-–—]\s/g, /\s/g]) {
    for (const match of text.matchAll(pattern)) {
      const at = match.index + match[0].length;
      const distance = Math.abs(at - middle);
      if (distance < bestDistance && at > text.length * 0.25 && at < text.length * 0.75) {
        best = at;
        bestDistance = distance;
      }
    }
    if (best !== -1) break;
  }
  if (best === -1) return [{ text, start }];
  const left = text.slice(0, best).trimEnd();
  const rightOffset = best + (text.slice(best).length - text.slice(best).trimStart().length);
  return [...splitLongSentence(left, start), ...splitLongSentence(text.slice(rightOffset), start + rightOffset)];
}

const MARKDOWN_CHARS = /[[*_`\s]{2}|[[*_`]|\s$|^\s/;

export function stripInlineMarkdown(text: string): string {
  if (!MARKDOWN_CHARS.test(text)) return text;
  return text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\*\*|__|`/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function sentenceEmbedText(text: string, maxWords: number): string | null {
  const cleaned = stripInlineMarkdown(
    text
      .replace(/^\s*(?:[-*+•]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?/, '')
      .replace(/^\s*#{1,6}\s+/, '')
      .replace(/^\s*>\s?/, '')
      .replace(/\bhttps?:\/\/\S+/g, ' '),
  );
  if (!/\p{L}{2}/u.test(cleaned)) return null;
  return firstWords(cleaned, maxWords);
}

function codeEmbedText(body: string, lang: string, maxWords: number): string | null {
  const words = body.replace(/[^\p{L}\p{N}_$]+/gu, ' ').trim();
  if (!/\p{L}{2}/u.test(words)) return null;
  return firstWords(`${lang || 'code'} ${words}`, Math.min(32, maxWords));
}

function traceEmbedText(block: ErrorBlock, lines: string[], maxWords: number): string | null {
  const head = [block.errorType, block.message, block.function, block.test].filter(Boolean).join(' ');
  const text = head.trim() !== '' ? head : lines[block.startLine]!;
  if (!/\p{L}{2}/u.test(text)) return null;
  return firstWords(text, Math.min(32, maxWords));
}

function documentTitle(given: string | undefined, format: DocumentFormat, headings: Heading[], units: Unit[], turns: Turn[]): string {
  if (given && given.trim() !== '') return truncate(given.trim(), 200);
  if (format === 'markdown' && headings.length > 0) {
    const top = headings.find((h) => h.level === 1) ?? headings[0]!;
    return truncate(top.text, 200);
  }
  // The first real request (a user's, in a transcript), not a greeting.
  const meaningful = (u: Unit) => u.kind === 'sentence' && countWords(u.text) >= 2 && !isSmallTalk(u.text);
  const userTurns = new Set(turns.filter((t) => t.role === 'user').map((t) => t.index));
  const candidate =
    units.find((u) => u.turn !== null && userTurns.has(u.turn) && meaningful(u)) ?? units.find(meaningful) ?? units.find((u) => u.kind === 'sentence');
  return candidate ? truncate(stripInlineMarkdown(candidate.text.replace(/^\s*(?:[-*+>#]+\s*)/, '')), 100) : 'Untitled';
}
