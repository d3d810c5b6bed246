/**
 * The kind of answer a question asks for (answer-type.ts), and the weak flag it tightens: a first hit that lacks the
 * kind asked for ("who ..." and no person in it) must stand far out of the crowd to be trusted. Pure text checks, then
 * a real store (SQLite, FAISS, the built-in ONNX encoder).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder } from '../../src/main/embedding';
import { holdsAnswerType, lacksWantedType, wantedAnswerType } from '../../src/main/memory/answer-type';
import { crowdRelevance, isWeak, WEAK_LEAD, WEAK_LEAD_WITHOUT_ANSWER } from '../../src/main/memory/ranking';
import { MemoryStore } from '../../src/main/memory/store';
import { MemorySearchQuery } from '../../src/shared/memory-protocol';

describe('the kind of answer a question asks for', () => {
  it('reads it from the question', () => {
    expect(wantedAnswerType('who signs off on buying reserved capacity on AWS?')).toBe('person');
    expect(wantedAnswerType('which team owns the message broker?')).toBe('person');
    expect(wantedAnswerType('when does the next beta reach testers?')).toBe('time');
    expect(wantedAnswerType('in which timezone are billing periods cut?')).toBe('time');
    expect(wantedAnswerType('which Node version does the build need?')).toBe('version');
    expect(wantedAnswerType('how many times is a declined card retried?')).toBe('quantity');
    expect(wantedAnswerType("what's the maximum number of seats a plan allows?")).toBe('quantity');
    expect(wantedAnswerType('where is the infrastructure state file kept?')).toBe('place');
    expect(wantedAnswerType('how do I run the end-to-end tests on a simulator?')).toBe('command');
    expect(wantedAnswerType('what error do I get when the front matter is invalid?')).toBe('error');
    expect(wantedAnswerType('which fraud screening service checks card payments?')).toBe('name');
    // No kind: yes/no, why, how to; and "when" inside a question is a condition, not a time asked for.
    expect(wantedAnswerType('do we cache walking directions for offline use?')).toBeNull();
    expect(wantedAnswerType('why did we switch crash reporting vendors?')).toBeNull();
    expect(wantedAnswerType('what happens to a subscription when the card keeps getting declined?')).toBeNull();
    expect(wantedAnswerType('9f3c2ab71e')).toBeNull();
  });

  it('finds a span of that kind in a text, loosely', () => {
    expect(holdsAnswerType('Olga Petrenko owns the ledger database.', 'person')).toBe(true);
    expect(holdsAnswerType('Schema changes are reviewed; Olga reviews them.', 'person')).toBe(true);
    expect(holdsAnswerType('Design questions go to Hana Kobayashi.', 'person')).toBe(true);
    expect(holdsAnswerType('Ping @ravi before merging.', 'person')).toBe(true);
    expect(holdsAnswerType('Questions go to billing-ops@example.com.', 'person')).toBe(true);
    // Capitalised words that are not people: a sentence's first word, a tool, a month.
    expect(holdsAnswerType('Staging uses the Stripe test account.', 'person')).toBe(false);
    expect(holdsAnswerType('Dunning schedule: we retry failed card payments on days 1, 3, 7 and 14.', 'person')).toBe(false);
    expect(holdsAnswerType('The EU VAT OSS filing for Q3 is due on 31 October.', 'time')).toBe(true);
    expect(holdsAnswerType('Staging is reset every Monday at 03:00 UTC.', 'time')).toBe(true);
    expect(holdsAnswerType('Backups run every six hours.', 'time')).toBe(true);
    expect(holdsAnswerType('Every schema change is reviewed before it is merged.', 'time')).toBe(false);
    expect(holdsAnswerType('Refunds over 500 EUR need a second approver.', 'quantity')).toBe(true);
    expect(holdsAnswerType('Refunds need a second approver.', 'quantity')).toBe(false);
    expect(holdsAnswerType('Terraform state lives in the S3 bucket harbor-tfstate.', 'place')).toBe(true);
    expect(holdsAnswerType('Run the suite: make test-db && npm test', 'command')).toBe(true);
    expect(holdsAnswerType('Tests run on every pull request.', 'command')).toBe(false);
    expect(holdsAnswerType('Error LEDG-E1043 means the key was reused.', 'error')).toBe(true);
    expect(holdsAnswerType('Tax rates come from the TaxJar API.', 'name')).toBe(true);
    expect(holdsAnswerType('Failed card payments are retried on days 1, 3 and 7.', 'name')).toBe(false);
    expect(lacksWantedType(null, 'anything')).toBe(false);
    expect(lacksWantedType('person', 'The billing tables are backed up every six hours.')).toBe(true);
  });

  it('only stricter: a hit lacking the kind needs WEAK_LEAD_WITHOUT_ANSWER, one holding it WEAK_LEAD', () => {
    const scores = (fused: number) => ({ vectorRank: 1, vectorSimilarity: fused, keywordRank: null, keywordScore: 0, exact: false, fused, importance: 0.5, recency: 1, final: fused });
    const lead = (WEAK_LEAD + WEAK_LEAD_WITHOUT_ANSWER) / 2;
    expect(isWeak(scores(0.5 + lead), 0.5, false, false)).toBe(false);
    expect(isWeak(scores(0.5 + lead), 0.5, false, true)).toBe(true);
    expect(isWeak(scores(0.5 + WEAK_LEAD_WITHOUT_ANSWER + 0.01), 0.5, false, true)).toBe(false);
    expect(isWeak({ ...scores(0.5), exact: true }, 0.5, false, true)).toBe(false);
  });
});

describe('the weak flag by the kind of answer, on a real store', () => {
  const NOTES = [
    'Olga Petrenko reviews every schema change to the billing database before it is merged.',
    'The billing API returns amounts in cents as integers.',
    'Invoices are rendered to PDF by a background job after the period closes.',
    'The staging database is reset from a sanitised snapshot every night.',
    'Webhook handlers must be idempotent: Stripe retries deliveries for three days.',
    'Coupons apply to the first invoice only unless marked recurring.',
    'Tax rates are cached for a day per postal code.',
    'Failed card payments are retried on days 1, 3 and 7.',
    'The admin console needs single sign-on through the company identity provider.',
    'Usage records are aggregated hourly by a cron job.',
    'Refunds above the approval limit need a second approver.',
    'Exchange rates come from the central bank feed every business day.',
    'Database migrations must be reversible and are named by timestamp.',
    'The billing database runs PostgreSQL 16 with two read replicas.',
    'Queries on the billing database that run longer than 30 seconds are cancelled.',
    'Indexes on the invoices table are created concurrently to avoid locking it.',
    'The billing tables are backed up every six hours.',
  ];
  let dataDir: string;
  let encoder: OnnxSentenceEncoder;
  let store: MemoryStore;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'answer-type-'));
    encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(path.resolve('resources')));
    store = await MemoryStore.open({ dataDir, encoder, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    await store.store(NOTES.map((text) => ({ text, kind: 'fact' as const, tags: [], metadata: {}, shared: false })), { project: 'ledger', agent: null });
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    await encoder?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const ask = async (q: string) => {
    const { hits } = await store.search(MemorySearchQuery.parse({ q, k: 10, project: 'ledger', scope: 'project' }), { project: 'ledger', agent: null });
    const first = hits[0]!;
    return { first, lead: first.scores.fused - crowdRelevance(hits.map((hit) => hit.scores)) };
  };

  it('a "who" question whose first hit names nobody is weak, though it stands out as much as a right answer', async () => {
    const { first, lead } = await ask('who approves a change to the billing tables?');
    expect(first.memory.text).toBe('The billing tables are backed up every six hours.');
    // Without the kind of answer, its lead alone would pass it as a good match.
    expect(lead).toBeGreaterThanOrEqual(WEAK_LEAD);
    expect(isWeak(first.scores, first.scores.fused - lead, false, false)).toBe(false);
    expect(lead).toBeLessThan(WEAK_LEAD_WITHOUT_ANSWER);
    expect(first.weak).toBe(true);
  });

  it('a "who" question whose first hit names the person is not weak at a like lead', async () => {
    const { first, lead } = await ask('who vets alterations to the billing schema?');
    expect(first.memory.text).toMatch(/^Olga Petrenko reviews/);
    expect(lead).toBeGreaterThanOrEqual(WEAK_LEAD);
    expect(lead).toBeLessThan(WEAK_LEAD_WITHOUT_ANSWER);
    expect(first.weak).toBe(false);
  });
});
