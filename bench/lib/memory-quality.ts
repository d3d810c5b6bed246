/**
 * Retrieval quality on the labelled set (test/memory/fixtures/retrieval-quality.json): loads the notes among
 * generated distractors into a real memory store, asks every question and scores the hits per half (tune/report)
 * and kind (paraphrase, identifier, none). Shared by the `memory-quality` bench suite and its floor test.
 */
import { readFileSync } from 'node:fs';
import type { MemoryKind, MemorySearchResult } from '../../src/shared/memory-protocol';
import type { MemoryStore } from '../../src/main/memory/store';
import { MemorySearchQuery } from '../../src/shared/memory-protocol';
import { mulberry32 } from '../../test/support/seeded-random';

export interface QualityNote {
  key: string;
  project: string;
  kind: MemoryKind;
  text: string;
}
export type QuestionKind = 'paraphrase' | 'identifier' | 'none';
export type Half = 'tune' | 'report';
export interface QualityQuestion {
  project: string;
  kind: QuestionKind;
  q: string;
  /** The note that answers it; null: nothing stored answers it. */
  expect: string | null;
  half: Half;
  /**
   * Written after the split, unanswerable questions all: true, to the tune half (to calibrate the weak flag on);
   * 'report-2', to the report half later still (a larger no-answer sample, written before it was measured); 'tune-2',
   * to the tune half after the weak flag's answer-type rule was chosen (questions asking for a kind of answer, some
   * answered, to check that rule on questions it was not chosen on).
   */
  added?: true | 'report-2' | 'tune-2';
}
export interface QualitySet {
  notes: QualityNote[];
  questions: QualityQuestion[];
}

export function loadQualitySet(): QualitySet {
  const file = new URL('../../test/memory/fixtures/retrieval-quality.json', import.meta.url);
  return JSON.parse(readFileSync(file, 'utf8')) as QualitySet;
}

/** Per project: what its distractors talk about, and the shapes of its identifiers. */
const PROJECT_VOCABULARY: Record<string, { ticket: string; error: (n: number) => string; dirs: string[]; areas: string[]; constants: string[] }> = {
  ledger: {
    ticket: 'LED',
    error: (n) => `LEDG-E${String(n).padStart(4, '0')}`,
    dirs: ['src/billing', 'src/lib', 'src/invoices', 'src/webhooks', 'db/migrations', 'src/tax'],
    areas: ['invoice export', 'payment intents', 'credit notes', 'usage metering', 'coupon engine', 'tax service', 'subscription sync', 'payout report', 'admin console', 'receipt mailer'],
    constants: ['INVOICE_BATCH_SIZE', 'PAYOUT_DELAY_DAYS', 'METER_FLUSH_MS', 'RECEIPT_RETRY_LIMIT', 'CREDIT_NOTE_PREFIX'],
  },
  atlas: {
    ticket: 'ATL',
    error: (n) => `ATL-ERR-${String(n).padStart(4, '0')}`,
    dirs: ['app/services/offline', 'app/navigation', 'app/components', 'app/screens', 'app/hooks', 'android/app/src'],
    areas: ['map screen', 'route editor', 'search sheet', 'settings screen', 'onboarding carousel', 'photo picker', 'tile downloader', 'profile page', 'share sheet', 'compass overlay'],
    constants: ['MAX_ZOOM_LEVEL', 'TILE_PREFETCH_RADIUS', 'ROUTE_SNAP_METERS', 'SYNC_INTERVAL_MS', 'PHOTO_MAX_EDGE'],
  },
  harbor: {
    ticket: 'OPS',
    error: (n) => `HRB-A${String(n).padStart(3, '0')}`,
    dirs: ['deploy/helm/api', 'deploy/helm/worker', '.github/workflows', 'terraform/modules', 'deploy/kustomize', 'scripts/ops'],
    areas: ['ingress controller', 'node group', 'metrics stack', 'queue workers', 'bastion host', 'artifact registry', 'DNS zone', 'load balancer', 'cron jobs', 'VPN gateway'],
    constants: ['HPA_MAX_REPLICAS', 'DRAIN_TIMEOUT_SECONDS', 'LOG_SAMPLE_RATE', 'BACKUP_WINDOW', 'ALERT_COOLDOWN'],
  },
  quill: {
    ticket: 'QL',
    error: (n) => `QUILL_E_${['RENDER', 'ASSET', 'THEME', 'ROUTE', 'PLUGIN', 'LOCALE', 'IMAGE', 'CACHE'][n % 8]}${n > 7 ? `_${n}` : ''}`,
    dirs: ['src/check', 'src/plugins', 'src/render', 'packages/theme-default/layouts/partials', 'src/cli', 'src/config'],
    areas: ['page renderer', 'asset pipeline', 'dev server', 'plugin loader', 'search indexer', 'image optimiser', 'theme switcher', 'CLI prompts', 'i18n router', 'RSS feed'],
    constants: ['RENDER_CONCURRENCY', 'IMAGE_WIDTHS', 'DEV_PORT_RANGE', 'CACHE_VERSION', 'MAX_INCLUDE_DEPTH'],
  },
};
const FILE_STEMS = ['handlers', 'utils', 'index', 'client', 'queue', 'format', 'retry', 'schema', 'mapper', 'limits', 'events', 'cache', 'types', 'helpers', 'values-prod', 'values-staging', 'ci', 'release', 'links', 'sidebar', 'header', 'footer'];
const EXTENSIONS = ['ts', 'tsx', 'yaml', 'yml', 'sql', 'json'];
const PEOPLE = ['Ravi', 'Chen', 'Ines', 'Jonas', 'Maya', 'Kofi', 'Elif', 'Bruno', 'Sofia', 'Arjun', 'Nadia', 'Pavel'];
const CHANGES = ['bumped the dependency', 'renamed a helper', 'tightened input validation', 'added a missing test', 'removed dead code', 'fixed a typo in a log line', 'split a long function', 'added a metric', 'made a timeout configurable', 'cleaned up imports', 'updated the snapshot', 'added a retry'];
const SYMPTOMS = ['slow response under load', 'a flaky test on CI', 'a wrong label in the UI', 'a warning in the console', 'a spike in retries', 'an empty state that never shows', 'a stale value after refresh', 'a missing translation', 'a layout shift on first paint', 'duplicate entries in a list'];

/**
 * Distractor notes, reproducible from `seed`: work-log lines full of identifiers shaped like the labelled ones
 * (other commits, tickets, error codes, paths and constants of the same projects), so an identifier must be found
 * among many look-alikes. None contains an identifier of the labelled set.
 */
export function distractorNotes(set: QualitySet, count: number, seed = 7): QualityNote[] {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const labelledText = set.notes.map((note) => note.text.toLowerCase()).join('\n');
  const unused = (make: () => string): string => {
    for (;;) {
      const value = make();
      if (!labelledText.includes(value.toLowerCase())) return value;
    }
  };
  const hash = () => unused(() => Array.from({ length: 10 }, () => '0123456789abcdef'[Math.floor(random() * 16)]).join(''));
  const projects = [...new Set(set.notes.map((note) => note.project))];
  const notes: QualityNote[] = [];
  for (let i = 0; i < count; i++) {
    const project = projects[i % projects.length]!;
    const v = PROJECT_VOCABULARY[project]!;
    const ticket = () => unused(() => `${v.ticket}-${1 + Math.floor(random() * 1999)}`);
    const error = () => unused(() => v.error(Math.floor(random() * 400)));
    const file = () => unused(() => `${pick(v.dirs)}/${pick(FILE_STEMS)}${i % 7}.${pick(EXTENSIONS)}`);
    const area = pick(v.areas);
    const templates: Array<[MemoryKind, () => string]> = [
      ['fact', () => `Merged ${hash()}: ${pick(CHANGES)} in ${file()}.`],
      ['task', () => `${ticket()}: ${pick(SYMPTOMS)} in the ${area}; ${pick(PEOPLE)} is looking at it.`],
      ['error', () => `${error()} logged ${2 + Math.floor(random() * 300)} times yesterday from the ${area}, no customer impact so far.`],
      ['note', () => `Reviewed ${file()}: ${pick(CHANGES)}, no behaviour change.`],
      ['task', () => `${ticket()} closed: ${pick(CHANGES)} in the ${area} (${hash()}).`],
      ['note', () => `Standup ${1 + Math.floor(random() * 28)}/${1 + Math.floor(random() * 12)}: ${pick(PEOPLE)} finished ${ticket()}, next up is the ${area}.`],
      ['fact', () => `${pick(v.constants)} is set to ${1 + Math.floor(random() * 500)} in ${pick(['staging', 'production', 'dev'])} for the ${area}.`],
      ['error', () => `${error()} during the ${area} smoke test after ${hash().slice(0, 7)}; rerun passed.`],
    ];
    const [kind, make] = pick(templates);
    notes.push({ key: `distractor/${i}`, project, kind, text: make() });
  }
  return notes;
}

export interface QuestionOutcome extends QualityQuestion {
  /** 1-based place of the expected note among the hits; null: not among them (or nothing expected). */
  rank: number | null;
  /** The first hit was flagged as a weak match (or there was no hit). */
  weak: boolean;
  top: { key: string; text: string; vectorSimilarity: number | null; keywordScore: number | null; final: number } | null;
  expected: { vectorSimilarity: number | null; vectorRank: number | null; keywordRank: number | null } | null;
}

export interface HalfFigures {
  questions: number;
  answerable: number;
  /** Answerable questions (paraphrase + identifier) whose note came first / in the top 5. */
  first: number;
  top5: number;
  paraphrase: { questions: number; first: number; top5: number };
  identifier: { questions: number; first: number; top5: number };
  none: { questions: number; recognised: number };
  /** Of the no-answer questions, those written with the set (in the split as made)... */
  noneOriginal: { questions: number; recognised: number };
  /** ...and those added to the half after the split (`added`). */
  noneAdded: { questions: number; recognised: number };
  /** Answerable questions whose right first hit was flagged weak all the same. */
  falseWeak: number;
}

/**
 * Stores distractors in batches until the store holds `total - labelled` memories (near-identical distractors are
 * folded into one memory, so more are offered than needed), then the labelled notes, each of which must be stored as
 * a memory of its own (not folded into another). Distractors go first: a labelled note stored before them could be
 * superseded by one (a look-alike with other identifiers, see supersession.ts), which would measure supersession,
 * not ranking. Returns labelled key -> memory uid.
 */
export async function loadNotes(store: MemoryStore, labelled: QualityNote[], distractors: QualityNote[], total: number, batch = 256): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const storeGroup = async (notes: QualityNote[]) => {
    const byProject = new Map<string, QualityNote[]>();
    notes.forEach((note) => byProject.set(note.project, [...(byProject.get(note.project) ?? []), note]));
    for (const [project, group] of byProject) {
      const stored = await store.store(
        group.map((note) => ({ text: note.text, kind: note.kind, tags: [], metadata: {}, shared: false })),
        { project, agent: null },
      );
      stored.forEach((result, i) => {
        const note = group[i]!;
        if (!note.key.startsWith('distractor/') && (result.outcome === 'reinforced' || result.memory.text !== note.text)) {
          throw new Error(`the labelled note ${note.key} was folded into another memory`);
        }
        ids.set(note.key, result.memory.id);
      });
    }
  };
  const room = total - labelled.length;
  for (let start = 0; start < distractors.length && store.stats().total < room; start += batch) {
    await storeGroup(distractors.slice(start, Math.min(start + batch, start + room - store.stats().total)));
  }
  await storeGroup(labelled);
  return ids;
}

export async function askAll(store: MemoryStore, set: QualitySet, ids: Map<string, string>, k = 10): Promise<QuestionOutcome[]> {
  const keyOf = new Map([...ids].map(([key, id]) => [id, key]));
  const outcomes: QuestionOutcome[] = [];
  for (const question of set.questions) {
    const query = MemorySearchQuery.parse({ q: question.q, k, project: question.project, scope: 'project' });
    const result: MemorySearchResult = await store.search(query, { project: question.project, agent: null });
    const expectedId = question.expect === null ? undefined : ids.get(question.expect);
    const place = expectedId === undefined ? -1 : result.hits.findIndex((hit) => hit.memory.id === expectedId);
    const first = result.hits[0];
    const expectedHit = place >= 0 ? result.hits[place] : undefined;
    outcomes.push({
      ...question,
      rank: place >= 0 ? place + 1 : null,
      weak: !first || (first as { weak?: boolean }).weak === true,
      top: first
        ? {
            key: keyOf.get(first.memory.id) ?? first.memory.id,
            text: first.memory.text,
            vectorSimilarity: first.scores.vectorSimilarity,
            keywordScore: first.scores.keywordScore,
            final: first.scores.final,
          }
        : null,
      expected: expectedHit
        ? { vectorSimilarity: expectedHit.scores.vectorSimilarity, vectorRank: expectedHit.scores.vectorRank, keywordRank: expectedHit.scores.keywordRank }
        : question.expect === null
          ? null
          : { vectorSimilarity: null, vectorRank: null, keywordRank: null },
    });
  }
  return outcomes;
}

export function figures(outcomes: QuestionOutcome[], half: Half): HalfFigures {
  const mine = outcomes.filter((o) => o.half === half);
  const byKind = (kind: QuestionKind) => mine.filter((o) => o.kind === kind);
  const ranked = (list: QuestionOutcome[]) => ({
    questions: list.length,
    first: list.filter((o) => o.rank === 1).length,
    top5: list.filter((o) => o.rank !== null && o.rank <= 5).length,
  });
  const recognised = (list: QuestionOutcome[]) => ({ questions: list.length, recognised: list.filter((o) => o.weak).length });
  const answerable = mine.filter((o) => o.kind !== 'none');
  const all = ranked(answerable);
  return {
    questions: mine.length,
    answerable: answerable.length,
    first: all.first,
    top5: all.top5,
    paraphrase: ranked(byKind('paraphrase')),
    identifier: ranked(byKind('identifier')),
    none: recognised(byKind('none')),
    noneOriginal: recognised(byKind('none').filter((o) => !o.added)),
    noneAdded: recognised(byKind('none').filter((o) => o.added)),
    falseWeak: answerable.filter((o) => o.rank === 1 && o.weak).length,
  };
}

/** The issue's targets, as fractions of the report half. */
export const QUALITY_TARGETS = { first: 0.75, top5: 0.9, identifierFirst: 0.95, noneRecognised: 0.8 };

export function share(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}
