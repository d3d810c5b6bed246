/**
 * Update detection without an LLM: how a new memory relates to an existing one that is close to it (same project,
 * similar vector). An update says the same thing about the same subject with another value — a number, version,
 * date, name, path or identifier replaced, or the statement negated — and supersedes the old memory; a restatement
 * says the same thing again and reinforces it; anything else is a memory of its own. Pure functions over the texts
 * and their cosine similarity, so the rule can be tested and measured on its own (test/memory/supersession*.test.ts).
 */

/** What a text holds for the comparison; computed once per text. */
export interface NoteFacts {
  /** Value-bearing tokens: numbers, versions, dates, paths, URLs, identifiers, names, well-known tool names. */
  anchors: Set<string>;
  /** The other content words (stop words, negations and update cues left out), lightly stemmed. */
  context: Set<string>;
  /** Says "not", "never", "no longer", "disable", "avoid"… */
  negated: boolean;
  /** Says "now", "instead", "moved to", "switched"…: the speaker marks it as a change. */
  changeCue: boolean;
}

export type NoteRelation =
  | { relation: 'update'; because: 'value' | 'negation' }
  | { relation: 'restatement' }
  | { relation: 'unrelated' };

export interface SupersessionThresholds {
  /** Cosine similarity from which a near copy with the same values reinforces (memory.dedupeSimilarity). */
  reinforce: number;
  /** Cosine similarity from which a changed value or a negation makes an update. */
  update: number;
  /** Share of context words (Jaccard) an update keeps: the same subject, said with another value. */
  updateContext: number;
  /** Cosine similarity from which a rewording that keeps every value and shares its subject words is a restatement. */
  restate: number;
  /** Share of context words (Jaccard) a rewording must keep to count as a restatement below `reinforce`. */
  restateContext: number;
}

/**
 * Tuned on the tuning half of test/memory/fixtures/supersession.json only (the report half is measured by
 * test/memory/supersession-quality.test.ts; figures in docs/benchmarks.md).
 */
export const DEFAULT_SUPERSESSION: Omit<SupersessionThresholds, 'reinforce'> = { update: 0.65, updateContext: 0, restate: 0.75, restateContext: 0.3 };

const STOP_WORDS = new Set(
  ('a an and are as at be been by can could did do does for from had has have how i if in into is it its me my of on or our ' +
    'should so that the their them then there these they this to up us was we were what when where which who why will with ' +
    'would you your all any each every also just only very must may might shall its than too via per both either ' +
    'currently always still our ours there here over under above below after before between about against during')
    .split(' ')
    .filter(Boolean),
);
/** Negations, and verbs that state the opposite of their positive twin (enable/disable). */
const NEGATIONS = new Set(
  ("not no never don't doesn't didn't isn't aren't wasn't weren't won't shouldn't mustn't can't cannot nor none nobody " +
    "dont doesnt isnt arent wont shouldnt mustnt cant disable disabled disables disallow disallowed forbid forbidden avoid " +
    'stop stopped without')
    .split(' '),
);
/** Positive twins of the negating verbs: left out of the context, so "enable" vs "disable" is a negation, not a new subject. */
const POSITIVES = new Set('enable enabled enables allow allowed allows permit permitted'.split(' '));
/** Words by which a writer marks a change; they never make a subject of their own. */
const CHANGE_CUES = new Set(
  ('now instead anymore longer moved move moves switched switch switches changed change changes updated update bumped bump ' +
    'raised raise lowered lower increased increase decreased decrease reduced replaced replace new newer latest going forward ' +
    'from onwards since rescheduled postponed migrated')
    .split(' '),
);
/**
 * Well-known tools, libraries and services written in lower case: a swap of one for another is a changed value
 * ("use yarn" -> "use pnpm"), not a new subject. Capitalised names are recognised by their case.
 */
export const TOOL_NAMES = new Set(
  ('npm pnpm yarn bun node nodejs deno webpack vite esbuild rollup parcel turbopack jest vitest mocha jasmine ava tap playwright ' +
    'cypress puppeteer selenium docker podman kubernetes k8s helm terraform ansible pulumi postgres postgresql mysql mariadb ' +
    'sqlite redis valkey memcached mongodb mongo dynamodb cassandra kafka rabbitmq nats nginx caddy haproxy traefik apache eslint ' +
    'prettier biome tslint babel swc tsc bcrypt argon2 scrypt pbkdf2 react preact vue svelte angular solid electron tauri ' +
    'git github gitlab bitbucket jenkins circleci travis s3 r2 gcs datadog sentry grafana prometheus loki kibana elasticsearch ' +
    'opensearch faiss hnswlib onnx pytorch tensorflow pip poetry uv pipenv conda cargo rustup gradle maven sbt make cmake ' +
    'bazel nx lerna turborepo express fastify koa hapi nestjs django flask fastapi rails laravel spring zod yup joi ' +
    'pino winston bunyan axios undici got ws graphql grpc rest json yaml toml protobuf msgpack avro parquet csv ' +
    'lodash ramda rxjs moment dayjs luxon tailwind bootstrap sass less chrome chromium firefox safari edge linux macos ' +
    'windows ubuntu debian alpine fedora centos rhel arch nix homebrew brew apt snap flatpak')
    .split(' '),
);
/** Common sentence openers (imperatives, determiners, pronouns): ordinary words even when capitalised. */
const OPENERS = new Set(
  ("use run add keep make set put call write read store send deploy release build test check install prefer please note " +
    "remember always do let ship start move switch pin log cache mock commit merge push pull open close create delete remove " +
    "rename upgrade downgrade ensure avoid every each all our the a an we they it this that these those there here one some " +
    "most many no none max min maximum minimum default new old current")
    .split(' '),
);

const TOKEN = /(?:[~./]+)?[\p{L}\p{N}]+(?:(?:[._/:@'’+-]+|:\/\/)[\p{L}\p{N}]+)*%?/gu;

/** The facts of one text. */
export function noteFacts(text: string): NoteFacts {
  // "1,000" is one number; "’" is an apostrophe.
  const plain = isAscii(text) ? text : text.normalize('NFKC').replace(/’/g, "'");
  const normalised = plain.includes(',') ? plain.replace(/(\d),(?=\d{3}\b)/g, '$1') : plain;
  const anchors = new Set<string>();
  const context = new Set<string>();
  let negated = false;
  let changeCue = false;
  for (const match of normalised.matchAll(TOKEN)) {
    const raw = match[0];
    const lower = raw.toLowerCase();
    const sentenceStart = startsSentence(normalised, match.index);
    if (NEGATIONS.has(lower)) {
      negated = true;
      continue;
    }
    if (POSITIVES.has(lower)) continue;
    if (isAnchor(raw, lower, sentenceStart)) {
      anchors.add(lower.replace(/^v(?=\d)/, ''));
      continue;
    }
    if (CHANGE_CUES.has(lower)) {
      changeCue = true;
      continue;
    }
    if (STOP_WORDS.has(lower)) continue;
    context.add(stem(lower));
  }
  // "no longer" is a negation that also marks a change.
  if (negated && /\bno longer\b/i.test(normalised)) changeCue = true;
  return { anchors, context, negated, changeCue };
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 127) return false;
  return true;
}

/** Whether the token at `at` opens a sentence: nothing but spaces before it since the text's start or a . ! ? : ; */
function startsSentence(text: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 10 || text.charCodeAt(i) === 9 || text.charCodeAt(i) === 13)) i--;
  return i < 0 || '.!?:;'.includes(text[i]!);
}

function isAnchor(raw: string, lower: string, sentenceStart: boolean): boolean {
  // One pass over the characters (this runs for every word of every close memory a store compares).
  let digit = false;
  let punctuation = false;
  let innerHyphen = false;
  let camel = false;
  let upper = 0;
  let lowerCase = 0;
  let ascii = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c > 127) ascii = false;
    else if (c >= 48 && c <= 57) digit = true;
    else if (c >= 65 && c <= 90) {
      upper++;
      if (i > 0 && raw.charCodeAt(i - 1) >= 97 && raw.charCodeAt(i - 1) <= 122) camel = true;
    } else if (c >= 97 && c <= 122) lowerCase++;
    else if (c === 46 || c === 47 || c === 95 || c === 64 || c === 126 || c === 58) punctuation = true; // . / _ @ ~ :
    else if (c === 45 && i > 0 && i < raw.length - 1) innerHyphen = true;
  }
  if (!ascii) {
    digit ||= /\p{N}/u.test(raw);
    camel ||= /\p{Ll}\p{Lu}/u.test(raw);
  }
  if (digit) return true; // numbers, versions, dates, times, sizes
  if (punctuation || innerHyphen) return true; // paths, URLs, file names, identifiers, package names
  if (camel) return true; // camelCase, MySQL
  const firstUpper = ascii ? upper > 0 && raw.charCodeAt(0) >= 65 && raw.charCodeAt(0) <= 90 : /^\p{Lu}/u.test(raw);
  if (raw.length >= 2 && (ascii ? upper > 0 && lowerCase === 0 : raw === raw.toUpperCase() && /\p{Lu}/u.test(raw))) return true; // MAX_WORKERS, UTC, API
  if (TOOL_NAMES.has(lower)) return true;
  if (firstUpper) return !sentenceStart || !(OPENERS.has(lower) || STOP_WORDS.has(lower));
  return false;
}

/** Enough stemming that "uses"/"use" and "caches"/"cached"/"cache" meet; not a real stemmer. */
function stem(word: string): string {
  if (word.length > 5 && word.endsWith('ing')) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith('ed')) return word.slice(0, -1).replace(/e$/, '');
  if (word.length > 4 && word.endsWith('es')) return word.slice(0, -1).replace(/e$/, '');
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1).replace(/e$/, '');
  return word.replace(/e$/, '');
}

/** How `newer` relates to `older`, given the cosine similarity of their vectors. */
export function relateNotes(newer: NoteFacts, older: NoteFacts, similarity: number, thresholds: SupersessionThresholds): NoteRelation {
  const removedAnchors = missingFrom(older.anchors, newer);
  const addedAnchors = missingFrom(newer.anchors, older);
  const removedContext = contextMissingFrom(older, newer);
  const addedContext = contextMissingFrom(newer, older);
  // One subject word swapped for another ("staging" -> "production"): another subject, whatever else changed.
  const otherSubject = removedContext.size > 0 && addedContext.size > 0;
  const valueChanged = removedAnchors.size > 0 && addedAnchors.size > 0;
  const negationFlipped = newer.negated !== older.negated;

  if ((valueChanged || negationFlipped) && similarity >= thresholds.update && !otherSubject && jaccard(older.context, newer.context) >= thresholds.updateContext) {
    return { relation: 'update', because: negationFlipped ? 'negation' : 'value' };
  }
  if (valueChanged || negationFlipped) return { relation: 'unrelated' };
  if (similarity >= thresholds.reinforce) return { relation: 'restatement' };
  // Reworded: every value kept on both sides (none added, none dropped) and enough of the subject's words.
  const sameValues = removedAnchors.size === 0 && addedAnchors.size === 0;
  if (sameValues && similarity >= thresholds.restate && jaccard(older.context, newer.context) >= thresholds.restateContext) return { relation: 'restatement' };
  return { relation: 'unrelated' };
}

/** Anchors of one text the other lacks (a capitalised word the other has in lower case is not lacking). */
function missingFrom(anchors: Set<string>, other: NoteFacts): Set<string> {
  const result = new Set<string>();
  for (const anchor of anchors) if (!other.anchors.has(anchor) && !other.context.has(stem(anchor))) result.add(anchor);
  return result;
}

/** Context words of one text the other lacks (as a context word, or as a capitalised name). */
function contextMissingFrom(facts: NoteFacts, other: NoteFacts): Set<string> {
  const result = new Set<string>();
  for (const word of facts.context) if (!other.context.has(word) && !other.anchors.has(word)) result.add(word);
  for (const word of result) for (const anchor of other.anchors) if (stem(anchor) === word) result.delete(word);
  return result;
}

function jaccard<T>(a: Set<T>, b: Set<T>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let shared = 0;
  for (const item of a) if (b.has(item)) shared++;
  return shared / (a.size + b.size - shared);
}
