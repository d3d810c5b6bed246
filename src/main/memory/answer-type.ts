/**
 * What kind of answer a question asks for, and whether a memory's text holds one: "who ..." wants a person, "when
 * ..." a date or time, "which version" or "how many / how long" a number, "where ..." a path, URL or named place,
 * "what command / how do I run" a command, "what error" an error, "which service / tool / library" a name. A first
 * hit without a span of the wanted kind is seldom the answer however close its subject (ranking.ts uses it for the
 * weak flag). Pure text code, loose on purpose: a span wrongly found only leaves the usual rule in charge, while a
 * span wrongly missed could flag a right answer as weak.
 */
import { TOOL_NAMES } from './supersession';

export type AnswerType = 'person' | 'time' | 'version' | 'quantity' | 'place' | 'command' | 'error' | 'name';

const MONTHS = 'january february march april may june july august september october november december'.split(' ');
const DAYS = 'monday tuesday wednesday thursday friday saturday sunday'.split(' ');

/** Question shapes, tried in this order (the first that matches decides). */
const WANTS: Array<[AnswerType, RegExp[]]> = [
  ['person', [/\bwho(?:m|se|'s)?\b/, /\bwhich (?:team|person|people|engineer|group|owner)\b/]],
  ['version', [/\b(?:which|what) (?:\w+ )?version\b/]],
  // "when" opening the question (or a second one), not "what happens when ...".
  ['time', [/^when\b/, /, (?:and )?when\b/, /\b(?:what|which) (?:date|day|time|timezone|time zone|month|year|weekday|quarter)\b/]],
  [
    'quantity',
    [
      /\bhow (?:many|much|long|large|big|often|soon|fast|slow|tall|high|old|far|small)\b/,
      /\bwhat(?:'s| is)? (?:the )?(?:maximum|minimum|max|min|limit|size|number|percentage|rate|timeout|threshold|count|amount|price|cost)\b/,
    ],
  ],
  ['place', [/^where\b/, /\bwhere (?:is|are|do|does|can|should|did)\b/, /\bwhich (?:region|directory|folder|file|path|url|bucket|repo|repository|channel|server|host)\b/]],
  [
    'command',
    [
      /\b(?:what|which) command\b/,
      /\bhow (?:do|can|should|would) (?:i|we|you) (?:run|start|launch|build|install|deploy|release|publish|replay|trigger|profile|upload|roll back|rollback|reset|open|get a shell)\b/,
    ],
  ],
  ['error', [/\b(?:what|which) (?:error|message|exception|code)\b/]],
  ['name', [/\b(?:which|what) (?:\w+ ){0,2}(?:service|tool|library|package|provider|vendor|database|framework|queue|broker|platform|product|sdk|engine)s?\b/]],
];

/** The kind of answer `question` asks for; null when its shape does not say (yes/no, why, how to ...). */
export function wantedAnswerType(question: string): AnswerType | null {
  const q = question.trim().toLowerCase();
  for (const [type, patterns] of WANTS) if (patterns.some((pattern) => pattern.test(q))) return type;
  return null;
}

const NUMBER_WORDS = /\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|hundred|thousand|million|twice|half|dozen|once)\b/i;
const CALENDAR = new RegExp(
  `\\b(?:${[...MONTHS, ...DAYS].join('|')}|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|weekends?|weekdays?|tomorrow|yesterday|tonight|daily|hourly|weekly|monthly|nightly|quarterly|yearly|annually|midnight|noon)\\b`,
  'i',
);
const CLOCK_OR_DATE = /\b\d{1,2}[:/]\d{2}\b|\b(?:19|20)\d{2}\b|\bQ[1-4]\b|\b(?:UTC|CET|CEST|GMT|PST|PDT|EST|EDT)\b/;
/** "every six hours", "within 3 days", "each release": a "when" may be answered by a period. */
const UNIT = '(?:ms|s|secs?|seconds?|min|mins|minutes?|h|hours?|days?|nights?|weeks?|months?|quarters?|years?|business days?|releases?|sprints?)';
const PERIOD = new RegExp(`\\b(?:every|each)\\s+(?:\\w+\\s+)?${UNIT}\\b|\\b(?:\\d+|one|two|three|four|five|six|seven|ten|twelve)\\s*${UNIT}\\b`, 'i');
const TITLE = "[A-Z][a-zà-ÿ]+(?:['’][A-Z]?[a-zà-ÿ]+)?";
/** A name doing something ("Olga reviews", "Marcus Lee is"): a person, unlike "Cloudflare" in "to Cloudflare". */
const NAME_THEN_VERB = new RegExp(
  `(?<![\\w/.@#-])(${TITLE})(\\s+${TITLE})?\\s+(?:is|was|has|had|will|wrote|runs|ran|keeps|leads|owns|can|should|must|did|does|took|made|knows|[a-z]+ed|[a-z]+[^s\\W]s)\\b`,
  'g',
);
/** "coordinated by Yuki Tanaka", "go to Ken Okafor": a full name after a preposition. */
const BY_FULL_NAME = new RegExp(`\\b(?:by|to|ask|contact|with)\\s+(${TITLE})\\s+${TITLE}\\b`, 'g');
/** @handles, e-mail addresses (one character before the @ is enough: a test, and linear), pronouns, teams. */
const PERSON_WORDS = /(?<![\w.])@[A-Za-z]|[\w.+-]@[\w-]+\.\w|\b(?:he|she|him|her|his|team)\b/i;
/** Title-case words (not tools, months or days), to be checked for opening a sentence. */
const TITLE_WORD = new RegExp(`(?<![\\w/.@#-])${TITLE}(?![\\w/.@-]*[\\w/@-])`, 'g');
const COMMAND = /`[^`]+`|\s--?[a-z][\w-]*|&&|\b(?:npm|pnpm|yarn|npx|git|docker|kubectl|helm|terraform|make|node|stripe|curl|gh)\s+[a-z]/;
const ERROR = /\b[A-Z][A-Z0-9]*[_-][A-Z0-9_-]*\b|\b(?:errors?|exceptions?|fails?|failed|failing|crash(?:ed|es)?|refuses?|rejects?|rejected)\b|"[^"]+"/i;
/** Paths, URLs, host and file names, #channels, hyphenated names (harbor-tfstate). */
const PLACE = /\w\/\w|https?:\/\/|#[a-z][\w-]+|\w\.\w|\b[a-z]+-[a-z]+\b/;
/** camelCase, acronyms (UTC, EKS), inner capitals (MapLibre, TaxJar). */
const CODE_NAME = /\b[a-z]+[A-Z]\w*\b|\b[A-Z]{2,}\b|\b[A-Z]\w*[A-Z]\w*\b/;

function opensSentence(text: string, at: number): boolean {
  const before = text.slice(0, at).trimEnd();
  return before.length === 0 || '.!?"'.includes(before[before.length - 1]!);
}

function ordinaryWord(word: string): boolean {
  const lower = word.toLowerCase();
  return TOOL_NAMES.has(lower) || MONTHS.includes(lower) || DAYS.includes(lower);
}

/** A capitalised word inside a sentence that is not a tool, month or day: a person, product, place or company. */
function holdsName(text: string): boolean {
  for (const match of text.matchAll(TITLE_WORD)) if (!opensSentence(text, match.index) && !ordinaryWord(match[0])) return true;
  return false;
}

function holdsPerson(text: string): boolean {
  if (PERSON_WORDS.test(text)) return true;
  for (const match of text.matchAll(NAME_THEN_VERB)) {
    // A lone capitalised word opening a sentence is as often a noun ("Staging uses ..."): only a full name counts there.
    if (!ordinaryWord(match[1]!) && (match[2] !== undefined || !opensSentence(text, match.index))) return true;
  }
  for (const match of text.matchAll(BY_FULL_NAME)) if (!ordinaryWord(match[1]!)) return true;
  return false;
}

/**
 * Characters of a hit looked at (the encoder, truncating to its token limit, reads no more of a long memory): up to
 * ~0.2 ms per hit on adversarial text, ~1 µs on a note.
 */
const SCANNED_CHARACTERS = 4_000;

/** Whether `text` holds a span of the kind `type` asks for. */
export function holdsAnswerType(whole: string, type: AnswerType): boolean {
  const text = whole.length > SCANNED_CHARACTERS ? whole.slice(0, SCANNED_CHARACTERS) : whole;
  switch (type) {
    case 'person':
      return holdsPerson(text);
    case 'time':
      return CALENDAR.test(text) || CLOCK_OR_DATE.test(text) || PERIOD.test(text);
    case 'version':
    case 'quantity':
      return /\d/.test(text) || NUMBER_WORDS.test(text);
    case 'place':
      return PLACE.test(text) || holdsName(text);
    case 'command':
      return COMMAND.test(text);
    case 'error':
      return ERROR.test(text);
    case 'name':
      return holdsName(text) || CODE_NAME.test(text) || (text.toLowerCase().match(/[a-z0-9]+/g) ?? []).some((word) => TOOL_NAMES.has(word));
  }
}

/** The question asks for a kind of answer that `text` does not hold. */
export function lacksWantedType(question: AnswerType | null, text: string): boolean {
  return question !== null && !holdsAnswerType(text, question);
}
