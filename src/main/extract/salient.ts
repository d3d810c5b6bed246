/**
 * Salient items without an LLM: decisions, tasks, errors (whole traces), commands, code blocks, file paths, URLs,
 * code symbols and emphasised notes, found with patterns and heuristics, then merged (same kind and normalised
 * text → one item with a count) and scored.
 */
import { isDecision, isDecisionHeading } from './decisions';
import { matchSingleLineError, type ErrorBlock } from './errors';
import { keptUrls } from './links';
import {
  URL,
  PATH,
  BARE_FILE,
  LINE_AFTER,
  LINE_BEFORE,
  BACKTICKED,
  CALL_IN_PROSE,
  MEMBER_IN_PROSE,
  FILE_EXTENSIONS,
  NOT_SYMBOLS,
  CLI_START,
  SHELL_LANGS,
  PROMPT,
  PROMPT_PREFIX,
  CI_STEP,
  COMMAND_SHAPE,
  RUN_BEFORE,
  COMMAND_AFTER,
  NOT_PROGRAMS,
  TOOL_CALL,
  PROSE_COMMAND,
  DEFINITIONS,
  symbolOf,
  hostOf,
  looksLikePath,
  guessLanguage,
  normalizeCommand,
  normalizeCode,
} from './patterns';
import { TEXT_FENCE_LANGS, stripInlineMarkdown, type Fence, type ParsedDocument, type Unit } from './structure';
import { clamp01, normalizeForDedupe, truncate } from './text';
import type { SalientKind } from './types';

export interface SalientItem {
  kind: SalientKind;
  text: string;
  /** Offset into the working text where it was found. */
  start: number;
  /** 0-based lines of the working text. */
  startLine: number;
  endLine: number;
  tags: string[];
  metadata: Record<string, unknown>;
  /** Importance before emphasis, repetition and recency. */
  base: number;
  dedupeKey: string;
  /** The unit whose text this item is exactly (its sentence vector can be reused), if any. */
  unit: number | null;
  turn: number | null;
}

export interface MergedItem extends SalientItem {
  count: number;
  importance: number;
  /** All places it was found (first one first). */
  occurrences: Array<{ startLine: number; endLine: number }>;
  /** Offset of the latest occurrence (recency). */
  lastStart: number;
}

const BASE = {
  trace: 0.82,
  error: 0.72,
  exitCode: 0.62,
  decision: 0.8,
  task: 0.66,
  taskDone: 0.3,
  note: 0.55,
  fact: 0.48,
  path: 0.36,
  url: 0.32,
  symbol: 0.3,
  code: 0.5,
  command: 0.46,
};

// --- decisions (decisions.ts) ---------------------------------------------------------------------------

/** A section that holds the decision ("## Decision"); "## Decision: use X" is itself the decision. */
const DECISION_HEADING = /^(?:decisions?|decision outcome|resolution|outcome|chosen option|conclusions?|verdict)\s*$/i;

// --- tasks ----------------------------------------------------------------------------------------------------

const TODO_MARKER = /\b(TODO|FIXME|XXX|HACK)\b(?:\s*\([^)]*\))?\s*[:\-—]?\s*(.*)$/;
/** Lower-case markers count only with a colon or dash after them ("todo: x", not "a todo list"). */
const TODO_MARKER_LOWER = /\b(todo|Todo|fixme|Fixme)\b\s*[:\-—]\s*(.*)$/;
const CHECKBOX = /^\s*(?:[-*+]|\d{1,3}[.)])\s+\[([ xX])\]\s+(.*)$/;
const TASK_PATTERNS: RegExp[] = [
  /\b(?:we|you|someone|somebody)\s+(?:still\s+|also\s+|really\s+|will\s+|'ll\s+)?(?:need|needs|have|has)\s+to\b/i,
  /\b(?:still|also)\s+needs?\s+to\b/i,
  /\baction items?\b\s*[:\-—]?/i,
  /^\s*(?:\*\*)?(?:follow[- ]?up|next steps?|to do|open question)(?:\*\*)?\s*[:\-—]/i,
  /\b(?:remember to|don't forget to|do not forget to|make sure (?:we|to|you))\b/i,
  /\b(?:should|must|needs? to)\s+be\s+(?:fixed|added|updated|implemented|removed|addressed|handled|documented|tested|refactored|investigated)\b/i,
  /\b(?:is|are)\s+(?:still\s+)?(?:pending|blocked|outstanding|not (?:yet )?(?:done|implemented|fixed))\b/i,
];
const TASK_SCREEN = /need|have to|has to|action item|follow|next step|to do|open question|remember|forget|make sure|should|must|pending|blocked|outstanding|not (?:yet )?(?:done|implemented|fixed)/i;
const TASK_HEADING = /^(?:todos?|to do|tasks?|action items?|next steps?|follow[- ]?ups?|open (?:questions|issues|items)|backlog|remaining work)\s*:?\s*$/i;

// --- notes and facts ------------------------------------------------------------------------------------------

const NOTE_PREFIX = /^\s*(?:[-*+]\s+)?(?:>\s*)?(?:\*\*|__)?\[?!?(note|nb|n\.b\.|important|warning|caution|caveat|gotcha|heads[- ]up|tip|reminder|attention|danger|pitfall)\]?(?:\*\*|__)?\s*[:!—–-]/i;
const RULE = /^\s*(?:[-*+]\s+)?(?:\*\*)?(?:(?:also|and|but|so|please|remember)[,:]?\s+)?(?:never|always|do not|don't|make sure|be careful|avoid|beware|you must|we must)\b/i;
const EMPHASIS_STRONG = /\b(?:IMPORTANT|CRITICAL|URGENT|BLOCKER|MUST|NEVER|ALWAYS|ASAP|WARNING)\b/;
const EMPHASIS_WEAK = /\b(?:must|never|always|critical|crucial|essential|required|mandatory|do not|don't|make sure|important|careful|breaking)\b/i;
const FACT_PATTERNS = /\b(?:defaults? to|is set to|are set to|listens on|runs on|is configured|is stored in|are stored in|lives in|live in|is located|is defined in|are defined in|depends on|requires|is written in|is implemented in|uses|is called|is named|points to|is limited to|takes about|is pinned to|version)\b/i;
const SPECIFIC = /\d|`|[A-Z][a-z]+[A-Z]|\w\.\w|\/\w|--?\w/;

export interface SalientOptions {
  /** Transcripts weigh later items more. */
  recency: boolean;
}

/** Finds every salient item (before merging). */
export function findSalientItems(doc: ParsedDocument): SalientItem[] {
  const finder = new Finder(doc);
  finder.run();
  return finder.items;
}

class Finder {
  readonly items: SalientItem[] = [];
  private knownPrograms: Set<string> | undefined;

  constructor(private readonly doc: ParsedDocument) {}

  run(): void {
    const { doc } = this;
    for (const block of doc.errorBlocks) this.addErrorBlock(block);
    const decisionSections = new Set<number>();
    const taskSections = new Set<number>();
    for (const section of doc.sections) {
      if (section.heading === null) continue;
      const heading = section.heading.replace(/^\W+/, '');
      if (DECISION_HEADING.test(heading)) decisionSections.add(section.index);
      else if (TASK_HEADING.test(heading)) taskSections.add(section.index);
      else if (section.headingLine !== null) this.headingItem(section.heading, section.headingLine);
    }
    // The first paragraph of each decision section, by section.
    const decisionParagraphs = new Map<number, { paragraph: number; units: Unit[] }>();
    for (const unit of doc.units) {
      if (unit.kind === 'code') this.codeUnit(unit);
      if (unit.kind !== 'sentence') continue;
      if (decisionSections.has(unit.section)) {
        const first = decisionParagraphs.get(unit.section) ?? { paragraph: unit.paragraph, units: [] };
        decisionParagraphs.set(unit.section, first);
        if (first.paragraph === unit.paragraph) {
          first.units.push(unit);
          this.entities(unit);
          continue;
        }
      }
      const carried = this.sentence(unit, taskSections.has(unit.section));
      this.entities(unit, carried);
      this.commandsInSentence(unit);
    }
    for (const { units } of decisionParagraphs.values()) this.adrDecision(units);
  }

  private push(item: Omit<SalientItem, 'dedupeKey'> & { dedupeKey?: string }): void {
    const text = item.text.trim();
    if (text === '') return;
    this.items.push({ ...item, text, dedupeKey: item.dedupeKey ?? `${item.kind}:${normalizeForDedupe(text)}` });
  }

  private turnOf(line: number): number | null {
    const t = this.doc.turnAt[line] ?? -1;
    return t >= 0 ? t : null;
  }

  private speakerTags(line: number): string[] {
    const t = this.turnOf(line);
    return t === null ? [] : [`speaker:${this.doc.turns[t]!.speaker.toLowerCase()}`];
  }

  // --- errors ---

  private addErrorBlock(block: ErrorBlock): void {
    const { doc } = this;
    const text = doc.lines.slice(block.startLine, block.endLine + 1).join('\n').replace(/^\s*\n/, '').trimEnd();
    const start = doc.index.starts[block.startLine]!;
    const metadata: Record<string, unknown> = {
      errorType: block.errorType,
      message: block.message,
      language: block.language,
      frames: block.frames,
      ...(block.path ? { path: block.path } : {}),
      ...(block.line ? { line: block.line } : {}),
      ...(block.column ? { column: block.column } : {}),
      ...(block.function ? { function: block.function } : {}),
      ...(block.test ? { test: block.test } : {}),
    };
    const key = [block.errorType, block.message, block.path, block.test].map((p) => (p ?? '').toString()).join('|');
    this.push({
      kind: 'error',
      text,
      start,
      startLine: block.startLine,
      endLine: block.endLine,
      tags: ['error', block.frames > 0 ? 'stack-trace' : 'error-output', ...(block.language !== 'unknown' ? [block.language] : []), ...(block.test ? ['test-failure'] : []), ...this.speakerTags(block.startLine)],
      metadata,
      base: BASE.trace,
      dedupeKey: `error:${normalizeErrorKey(key)}`,
      unit: null,
      turn: this.turnOf(block.startLine),
    });
  }

  // --- sentences: errors, decisions, tasks, notes, facts ---

  /** Finds the sentence's own item, if any; true when one was kept (it then carries the sentence's links). */
  private sentence(unit: Unit, inTaskSection: boolean): boolean {
    const raw = unit.text;
    const text = stripInlineMarkdown(raw);
    const common = { start: unit.start, startLine: unit.startLine, endLine: unit.endLine, unit: unit.index, turn: unit.turn };
    const speaker = this.speakerTags(unit.startLine);

    const checkbox = CHECKBOX.exec(raw);
    if (checkbox) {
      const done = checkbox[1] !== ' ';
      this.push({ ...common, kind: 'task', text: raw, tags: ['task', 'checkbox', ...(done ? ['done'] : []), ...speaker], metadata: { done, marker: 'checkbox' }, base: done ? BASE.taskDone : BASE.task, dedupeKey: `task:${normalizeForDedupe(checkbox[2]!)}` });
      return true;
    }
    const todo = /todo|fixme|xxx|hack/i.test(raw) ? TODO_MARKER.exec(raw) ?? TODO_MARKER_LOWER.exec(raw) : null;
    if (todo && todo[2]!.trim() !== '') {
      const marker = todo[1]!.toUpperCase();
      this.push({ ...common, kind: 'task', text: raw, tags: ['task', marker.toLowerCase(), ...speaker], metadata: { marker, done: false }, base: marker === 'FIXME' ? BASE.task + 0.04 : BASE.task, dedupeKey: `task:${normalizeForDedupe(todo[2]!)}` });
      return true;
    }
    const error = matchSingleLineError(raw);
    if (error && !this.carriedByBlock(error)) {
      const base = error.exitCode !== undefined && error.errorType === 'exit code' ? BASE.exitCode : BASE.error * error.strength + (1 - error.strength) * 0.4;
      const { strength: _strength, ...fields } = error;
      this.push({
        ...common,
        kind: 'error',
        text: raw,
        tags: ['error', ...(error.test ? ['test-failure'] : []), ...(error.exitCode !== undefined ? ['exit-code'] : []), ...(error.code?.startsWith('TS') ? ['typescript'] : []), ...speaker],
        metadata: { ...fields },
        base,
        dedupeKey: `error:${normalizeErrorKey(`${error.errorType}|${error.message}|${error.path ?? ''}|${error.test ?? ''}`)}`,
      });
      return true;
    }
    const question = /\?\s*["')\]]*$/.test(text);
    if (isDecision(text)) {
      this.push({ ...common, kind: 'decision', text: raw, tags: ['decision', ...speaker], metadata: {}, base: BASE.decision });
      return true;
    }
    if ((inTaskSection && unit.listItem && !question) || (!question && TASK_SCREEN.test(text) && TASK_PATTERNS.some((p) => p.test(text)))) {
      this.push({ ...common, kind: 'task', text: raw, tags: ['task', ...(inTaskSection ? ['action-item'] : []), ...speaker], metadata: { done: false }, base: BASE.task - 0.04 });
      return true;
    }
    const note = NOTE_PREFIX.exec(text);
    if (note || (!question && (RULE.test(text) || EMPHASIS_STRONG.test(raw)) && text.split(/\s+/).length >= 4)) {
      const label = note?.[1]?.toLowerCase().replace(/\W/g, '') ?? (RULE.test(text) ? 'rule' : 'important');
      this.push({ ...common, kind: 'note', text: raw, tags: ['note', label, ...speaker], metadata: { label }, base: label === 'warning' || label === 'caution' || label === 'danger' || label === 'rule' ? BASE.note + 0.05 : BASE.note });
      return true;
    }
    if (!question && FACT_PATTERNS.test(text) && SPECIFIC.test(raw) && text.split(/\s+/).length >= 4) {
      this.push({ ...common, kind: 'fact', text: raw, tags: ['fact', ...speaker], metadata: {}, base: BASE.fact });
      return true;
    }
    return false;
  }

  /** A one-line error that repeats a multi-line one (pytest's "FAILED test - ValueError: …" summary) adds nothing. */
  private carriedByBlock(error: { message: string; test?: string }): boolean {
    return this.doc.errorBlocks.some(
      (block) =>
        (block.test !== undefined && error.test !== undefined && (error.test === block.test || error.test.endsWith(`::${block.test}`))) ||
        (block.message !== null && block.message.length >= 12 && error.message.includes(block.message)),
    );
  }

  /** A Markdown heading that states a decision or a task ("## Decision: use SQLite", "### TODO: retries"). */
  private headingItem(heading: string, line: number): void {
    const start = this.doc.index.starts[line]!;
    const common = { start, startLine: line, endLine: line, unit: null, turn: this.turnOf(line), metadata: { heading: true } };
    if (isDecisionHeading(heading)) {
      this.push({ ...common, kind: 'decision', text: heading, tags: ['decision', 'heading'], base: BASE.decision });
    } else if (TODO_MARKER.test(heading)) {
      this.push({ ...common, kind: 'task', text: heading, tags: ['task', 'heading'], base: BASE.task });
    }
  }

  /** The first paragraph of an ADR-style "Decision" section is the decision. */
  private adrDecision(all: Unit[]): void {
    // Several decisions stated in one paragraph ("We chose Redis… We will not use memcached…") are kept one by one;
    // what is left (an imperative "Use FAISS…", its conditions) is the record's decision.
    const own = all.filter((u) => isDecision(stripInlineMarkdown(u.text)));
    if (own.length >= 2) {
      for (const unit of own) this.push({ kind: 'decision', text: unit.text, start: unit.start, startLine: unit.startLine, endLine: unit.endLine, tags: ['decision', 'adr', ...this.speakerTags(unit.startLine)], metadata: { heading: this.doc.sections[unit.section]!.heading }, base: BASE.decision + 0.04, unit: unit.index, turn: unit.turn });
    }
    const units = own.length >= 2 ? all.filter((u) => !own.includes(u)) : all;
    if (units.length === 0) return;
    const first = units[0]!;
    const last = units[units.length - 1]!;
    const text = this.doc.text.slice(first.start, last.end);
    const section = this.doc.sections[first.section]!;
    const parentHeading = section.parent !== null ? this.doc.sections[section.parent]!.heading : this.doc.title;
    this.push({
      kind: 'decision',
      text,
      start: first.start,
      startLine: first.startLine,
      endLine: last.endLine,
      tags: ['decision', 'adr', ...this.speakerTags(first.startLine)],
      metadata: { heading: section.heading, ...(parentHeading ? { record: parentHeading } : {}) },
      base: BASE.decision + 0.04,
      unit: units.length === 1 ? first.index : null,
      turn: first.turn,
    });
  }

  // --- entities: paths, URLs, symbols ---

  private entities(unit: Unit, carried = false): void {
    const raw = unit.text;
    const hasUrl = raw.includes('://');
    const hasPath = raw.includes('/') || raw.includes('\\');
    const hasCode = raw.includes('`');
    const hasCall = raw.includes('()');
    const hasMember = /\.[a-z_$]/.test(raw);
    if (!hasUrl && !hasPath && !hasCode && !hasCall && !hasMember) return;
    let context: string | undefined;
    const speaker = this.speakerTags(unit.startLine);
    const common = { start: unit.start, startLine: unit.startLine, endLine: unit.endLine, unit: null, turn: unit.turn };
    const describe = (entity: string) => {
      context ??= truncate(stripInlineMarkdown(raw), 240);
      return context === entity ? entity : `${entity} — ${context}`;
    };

    let masked = raw;
    if (hasUrl) {
      for (const match of raw.matchAll(URL)) masked = masked.slice(0, match.index) + ' '.repeat(match[0].length) + masked.slice(match.index + match[0].length);
      // A link the sentence's own item (a decision, a task, an error, a note) already carries stays in it.
      for (const { url } of carried ? [] : keptUrls(raw)) {
        const host = hostOf(url);
        if (host === null) continue;
        this.push({ ...common, kind: 'fact', text: describe(url), tags: ['fact', 'url', ...speaker], metadata: { url, host }, base: BASE.url, dedupeKey: `url:${url.replace(/[/#]+$/, '').toLowerCase()}` });
      }
    }
    if (hasPath) {
      for (const match of masked.matchAll(PATH)) {
        const path = match[1]!;
        if (!looksLikePath(path)) continue;
        const after = masked.slice(match.index + match[0].length);
        const before = masked.slice(0, match.index);
        const line = Number(match[2] ?? match[4] ?? match[6] ?? LINE_AFTER.exec(after)?.[1] ?? LINE_BEFORE.exec(before)?.[1] ?? NaN);
        const column = Number(match[3] ?? match[7] ?? NaN);
        const lineEnd = Number(match[5] ?? NaN);
        const display = Number.isFinite(line) ? `${path}:${line}` : path;
        const extension = /\.([A-Za-z][\w-]{0,7})$/.exec(path)?.[1]?.toLowerCase();
        this.push({
          ...common,
          kind: 'fact',
          text: describe(display),
          tags: ['fact', 'path', ...(extension ? [`ext:${extension}`] : []), ...speaker],
          metadata: {
            path,
            ...(Number.isFinite(line) ? { line } : {}),
            ...(Number.isFinite(column) ? { column } : {}),
            ...(Number.isFinite(lineEnd) ? { lineEnd } : {}),
            ...(extension ? { extension } : {}),
          },
          base: BASE.path,
          dedupeKey: `path:${path.replace(/\\/g, '/').replace(/^\.\//, '').toLowerCase()}`,
        });
      }
    }
    for (const match of masked.includes('.') ? masked.matchAll(BARE_FILE) : []) {
      const name = match[1]!;
      // "Node.js", "Vue.js": product names, not files.
      if (/^[A-Z][\w]*\.js$/.test(name) || /^\d/.test(name)) continue;
      const extension = /\.([A-Za-z][\w-]{0,11})$/.exec(name)?.[1]?.toLowerCase();
      this.push({
        ...common,
        kind: 'fact',
        text: describe(name),
        tags: ['fact', 'path', ...(extension ? [`ext:${extension}`] : []), ...speaker],
        metadata: { path: name, ...(extension ? { extension } : {}) },
        base: BASE.path,
        dedupeKey: `path:${name.toLowerCase()}`,
      });
    }
    const symbols = new Map<string, string>();
    for (const match of hasCode ? raw.matchAll(BACKTICKED) : []) {
      const content = match[1]!.trim();
      const symbol = symbolOf(content);
      if (symbol) symbols.set(symbol.name, symbol.kind);
    }
    const prose = hasCode ? raw.replace(BACKTICKED, (m) => ' '.repeat(m.length)) : raw;
    if (hasCall) {
      for (const match of prose.matchAll(CALL_IN_PROSE)) {
        const name = match[1]!;
        if (!NOT_SYMBOLS.has(name.toLowerCase()) && name.length >= 2) symbols.set(`${name}()`, name.includes('.') ? 'method' : 'function');
      }
    }
    if (hasMember) {
      for (const match of prose.matchAll(MEMBER_IN_PROSE)) {
        if (!FILE_EXTENSIONS.has(match[2]!.toLowerCase())) symbols.set(`${match[1]}.${match[2]}`, 'member');
      }
    }
    for (const [symbol, symbolKind] of symbols) {
      this.push({ ...common, kind: 'fact', text: describe(symbol), tags: ['fact', 'symbol', ...speaker], metadata: { symbol, symbolKind }, base: BASE.symbol, dedupeKey: `symbol:${symbol.replace(/\(.*\)$/, '')}` });
    }
  }

  // --- commands ---

  private commandsInSentence(unit: Unit): void {
    const raw = unit.text;
    const prompt = PROMPT.exec(raw);
    if (prompt && !raw.includes('\n')) {
      this.command(prompt[1]!, unit, 'prompt');
      return;
    }
    const tool = TOOL_CALL.exec(raw);
    if (tool) {
      this.command(tool[1]!.replace(/^["'`]|["'`]$/g, ''), unit, 'tool-call');
      return;
    }
    // A CI log's step header ("Run npm ci", GitHub Actions): a line of its own, not a sentence ("Run git push when…").
    const step = CI_STEP.exec(raw);
    if (step && CLI_START.test(step[1]!.trim()) && !/[.!?:]\s*$/.test(step[1]!) && !raw.includes('\n')) {
      this.command(step[1]!, unit, 'log');
      return;
    }
    const seen = new Set<string>();
    for (const match of raw.includes('`') ? raw.matchAll(BACKTICKED) : []) {
      const content = match[1]!.trim();
      if (this.isInlineCommand(content, raw.slice(Math.max(0, match.index - 30), match.index), raw.slice(match.index + match[0].length))) {
        this.command(content, unit, 'inline');
        seen.add(normalizeCommand(content));
      }
    }
    if (!/\b(?:npm|pnpm|yarn|bun|npx|git)\s/.test(raw)) return;
    const prose = raw.includes('`') ? raw.replace(BACKTICKED, (m) => ' '.repeat(m.length)) : raw;
    for (const match of prose.matchAll(PROSE_COMMAND)) {
      const command = (match[1]! + (match[2] ?? '')).trim();
      if (!seen.has(normalizeCommand(command))) this.command(command, unit, 'prose');
    }
  }

  /**
   * Inline code that is a command: a known CLI with arguments, or a program the document runs in its shell blocks,
   * or a program with arguments that the prose says to run ("run `deploy-kit migrate-config`", "the `x y --z`
   * command").
   */
  private isInlineCommand(content: string, before: string, after: string): boolean {
    if (!/\s/.test(content)) return false;
    if (CLI_START.test(content)) return true;
    const program = COMMAND_SHAPE.exec(content)?.[1];
    if (program === undefined) return false;
    if (this.programs.has(program)) return true;
    return RUN_BEFORE.test(before) || COMMAND_AFTER.test(after);
  }

  /** Programs the document runs in shell blocks and after prompts: inline code starting with one is a command too. */
  private get programs(): Set<string> {
    if (this.knownPrograms) return this.knownPrograms;
    const programs = new Set<string>();
    const add = (line: string) => {
      const program = COMMAND_SHAPE.exec(line.trim())?.[1] ?? /^(?:sudo\s+)?([a-z][\w.-]*)$/.exec(line.trim())?.[1];
      if (program && !NOT_PROGRAMS.has(program)) programs.add(program);
    };
    for (const fence of this.doc.fences) {
      if (!SHELL_LANGS.has(fence.lang)) continue;
      for (let i = fence.startLine + 1; i < (fence.closed ? fence.endLine : fence.endLine + 1); i++) add(this.doc.lines[i]!.replace(PROMPT_PREFIX, ''));
    }
    for (const line of this.doc.lines) if (PROMPT.test(line)) add(PROMPT.exec(line)![1]!);
    this.knownPrograms = programs;
    return programs;
  }

  private command(command: string, at: { start: number; startLine: number; endLine: number; turn: number | null }, via: string, fence?: Fence): void {
    const cleaned = command.trim().replace(/\s+#\s.*$/, '').trim();
    if (cleaned === '' || cleaned.length > 2000) return;
    const program = /^(?:sudo\s+)?([\w./@-]+)/.exec(cleaned)?.[1] ?? '';
    const script = /^(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?([\w:.-]+)/.exec(cleaned)?.[1];
    this.push({
      kind: 'code',
      text: cleaned,
      start: at.start,
      startLine: at.startLine,
      endLine: at.endLine,
      tags: ['command', ...(program ? [`cli:${program.slice(0, 40)}`] : []), ...this.speakerTags(at.startLine)],
      metadata: { command: cleaned, program, language: 'sh', via, ...(script ? { script } : {}), ...(fence?.path ? { path: fence.path } : {}) },
      base: BASE.command,
      dedupeKey: `command:${normalizeCommand(cleaned)}`,
      unit: null,
      turn: at.turn,
    });
  }

  // --- code blocks ---

  private codeUnit(unit: Unit): void {
    const fence = unit.fence!;
    const { lines } = this.doc;
    const contentEnd = fence.closed ? fence.endLine - 1 : fence.endLine;
    const body = lines.slice(fence.startLine + 1, contentEnd + 1);
    const lineAt = (i: number) => ({ start: this.doc.index.starts[fence.startLine + 1 + i]!, startLine: fence.startLine + 1 + i, endLine: fence.startLine + 1 + i, turn: unit.turn });

    // TODO/FIXME comments in code are tasks.
    body.forEach((line, i) => {
      const todo = /(?:\/\/|#|--|\/\*|\*|<!--)\s*(TODO|FIXME|XXX|HACK)\b(?:\s*\([^)]*\))?\s*[:\-—]?\s*(.+?)\s*(?:\*\/|-->)?$/.exec(line);
      if (todo && todo[2]!.trim() !== '') {
        this.push({
          ...lineAt(i),
          kind: 'task',
          text: `${todo[1]}: ${todo[2]!.trim()}`,
          tags: ['task', todo[1]!.toLowerCase(), 'in-code'],
          metadata: { marker: todo[1], done: false, language: fence.lang || null, ...(fence.path ? { path: fence.path } : {}) },
          base: BASE.task,
          dedupeKey: `task:${normalizeForDedupe(todo[2]!)}`,
          unit: null,
        });
      }
    });

    if (SHELL_LANGS.has(fence.lang)) {
      const prompted = body.some((l) => PROMPT.test(l));
      let pending = '';
      body.forEach((line, i) => {
        if (prompted) {
          const match = PROMPT.exec(line);
          if (match) this.command(match[1]!, lineAt(i), 'fence', fence);
          return;
        }
        const trimmed = line.trim();
        if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) return;
        if (trimmed.endsWith('\\')) {
          pending += trimmed.slice(0, -1).trim() + ' ';
          return;
        }
        const command = pending + trimmed;
        pending = '';
        const from = i - (command.split('\\').length - 1);
        if (command !== '') this.command(command, lineAt(Math.max(0, from)), 'fence', fence);
      });
      if (pending.trim() !== '') this.command(pending, lineAt(body.length - 1), 'fence', fence);
      return;
    }
    if (TEXT_FENCE_LANGS.has(fence.lang) && fence.lang !== '') return;
    const content = body.join('\n').replace(/^\s*\n/, '').trimEnd();
    if (content.trim() === '') return;
    // An untagged fence that is mostly an error dump is not code (the error item has it).
    if (fence.lang === '') {
      const errorLines = this.doc.errorBlocks
        .filter((b) => b.startLine > fence.startLine && b.endLine <= fence.endLine)
        .reduce((n, b) => n + b.endLine - b.startLine + 1, 0);
      if (errorLines >= body.length * 0.6) return;
      if (body.every((l) => l.trim() === '' || PROMPT.test(l))) {
        body.forEach((l, i) => {
          const match = PROMPT.exec(l);
          if (match) this.command(match[1]!, lineAt(i), 'fence', fence);
        });
        return;
      }
    }
    const symbols = [...content.matchAll(DEFINITIONS)].map((m) => m.slice(1).find(Boolean)!).filter(Boolean);
    const lineCount = body.length;
    const language = fence.lang || guessLanguage(content);
    this.push({
      kind: 'code',
      text: content,
      start: unit.start,
      startLine: fence.startLine,
      endLine: fence.endLine,
      tags: ['code', ...(language ? [`lang:${language}`] : []), ...this.speakerTags(fence.startLine)],
      metadata: {
        language: language || null,
        lines: lineCount,
        ...(fence.path ? { path: fence.path } : {}),
        ...(symbols.length > 0 ? { symbols: [...new Set(symbols)].slice(0, 50) } : {}),
      },
      base: BASE.code + Math.min(0.1, lineCount / 200) + (symbols.length > 0 ? 0.04 : 0),
      dedupeKey: `code:${normalizeCode(content)}`,
      unit: null,
      turn: unit.turn,
    });
  }
}

function normalizeErrorKey(key: string): string {
  return key
    .toLowerCase()
    .replace(/0x[0-9a-f]+/g, '#')
    .replace(/\d+/g, '#')
    .replace(/\s+/g, ' ')
    .trim();
}

// --- merging and scoring --------------------------------------------------------------------------------------

/**
 * Merges items with the same dedupe key (kind + normalised text) into the first one, counting them, then scores:
 * base + emphasis (IMPORTANT, must, never…) + repetition + recency (later in a transcript = more current).
 */
export function mergeAndScore(items: SalientItem[], textLength: number, options: SalientOptions): { merged: MergedItem[]; duplicates: number } {
  const byKey = new Map<string, MergedItem>();
  let duplicates = 0;
  for (const item of items) {
    const existing = byKey.get(item.dedupeKey);
    if (existing) {
      duplicates++;
      existing.count++;
      existing.occurrences.push({ startLine: item.startLine, endLine: item.endLine });
      existing.base = Math.max(existing.base, item.base);
      for (const tag of item.tags) if (!existing.tags.includes(tag)) existing.tags.push(tag);
      // A path mentioned with several line numbers keeps them all.
      if (typeof item.metadata.line === 'number' && existing.metadata.line !== item.metadata.line) {
        const lines = new Set<number>((existing.metadata.lines as number[] | undefined) ?? (typeof existing.metadata.line === 'number' ? [existing.metadata.line] : []));
        lines.add(item.metadata.line);
        existing.metadata.lines = [...lines];
        if (existing.metadata.line === undefined) existing.metadata.line = item.metadata.line;
      }
      // The most recent mention decides recency.
      existing.lastStart = item.start;
      continue;
    }
    const merged: MergedItem = { ...item, tags: [...item.tags], metadata: { ...item.metadata }, count: 1, importance: 0, occurrences: [{ startLine: item.startLine, endLine: item.endLine }], lastStart: item.start };
    byKey.set(item.dedupeKey, merged);
  }
  const merged = [...byKey.values()];
  for (const item of merged) {
    const sample = item.text.slice(0, 600);
    let emphasis = 0;
    if (EMPHASIS_STRONG.test(sample)) emphasis += 0.1;
    if (EMPHASIS_WEAK.test(sample)) emphasis += 0.05;
    if (/!\s*$/.test(sample) && item.kind !== 'code') emphasis += 0.02;
    const repetition = item.count > 1 ? Math.min(0.15, 0.05 * Math.log2(item.count) + 0.03) : 0;
    const recency = options.recency && textLength > 0 ? 0.08 * (item.lastStart / textLength) : 0;
    item.importance = clamp01(item.base + Math.min(0.15, emphasis) + repetition + recency);
    if (item.count > 1) item.metadata.count = item.count;
  }
  return { merged, duplicates };
}
