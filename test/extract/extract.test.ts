// Memory extraction: sentence splitting, document structure (headings, transcripts, JSON-lines), salient items with
// their metadata, importance ordering, semantic chunking with the real encoder, hierarchy, dedupe and stable keys.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxSentenceEncoder, ensureDefaultEncoder } from '../../src/main/embedding';
import { extractMemories, splitSentences, type ExtractOptions, type ExtractResult, type MemoryDraft } from '../../src/main/extract';

let encoder: OnnxSentenceEncoder;
let embed: ExtractOptions['embed'];

beforeAll(async () => {
  encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(path.resolve('resources')));
  embed = (texts) => encoder.embed(texts);
});

afterAll(async () => {
  await encoder?.close();
});

const extract = (text: string, options: Partial<ExtractOptions> = {}): Promise<ExtractResult> => extractMemories(text, { embed, ...options });
const ofKind = (result: ExtractResult, kind: MemoryDraft['kind']) => result.drafts.filter((d) => d.kind === kind);
const sentences = (text: string) => splitSentences(text).map((s) => s.text);

describe('splitSentences', () => {
  it('does not split at abbreviations, initials, decimals or versions', () => {
    expect(sentences('Dr. Smith met Mr. J. Jones at 3.30 p.m. on Friday. They shipped v1.2.3 of the app, e.g. the new cockpit.')).toEqual([
      'Dr. Smith met Mr. J. Jones at 3.30 p.m. on Friday.',
      'They shipped v1.2.3 of the app, e.g. the new cockpit.',
    ]);
    expect(sentences('Pi is approx. 3.14159 and e is about 2.718. Both are irrational, i.e. not fractions. See Fig. 3 for details.')).toEqual([
      'Pi is approx. 3.14159 and e is about 2.718.',
      'Both are irrational, i.e. not fractions.',
      'See Fig. 3 for details.',
    ]);
  });

  it('keeps file paths, URLs and inline code intact, and ends sentences after them', () => {
    expect(sentences('Edit src/main/app.ts. Then run ./scripts/build.py:12 again. Docs are at https://example.com/a.b?c=d. Use `foo. Bar()` carefully. Done.')).toEqual([
      'Edit src/main/app.ts.',
      'Then run ./scripts/build.py:12 again.',
      'Docs are at https://example.com/a.b?c=d.',
      'Use `foo. Bar()` carefully.',
      'Done.',
    ]);
    expect(sentences('The file C:\\Users\\dev\\app\\main.py fails. Open node_modules/.bin/tsx next.')).toEqual([
      'The file C:\\Users\\dev\\app\\main.py fails.',
      'Open node_modules/.bin/tsx next.',
    ]);
  });

  it('handles questions, exclamations, ellipses, quotes and lower-case continuations', () => {
    expect(sentences('Does it work? Yes! Wait... Then it crashed. He said "stop." Then left. It was 5 p.m. and late.')).toEqual([
      'Does it work?',
      'Yes!',
      'Wait...',
      'Then it crashed.',
      'He said "stop."',
      'Then left.',
      'It was 5 p.m. and late.',
    ]);
  });

  it('splits list items, log lines and headings on their own lines, but joins hard-wrapped prose', () => {
    const text = [
      'The encoder is fast because',
      'it batches texts of similar length. Steps:',
      '- install the dependencies',
      '- run the tests',
      '1. build',
      '2. ship',
      '2024-05-01 10:00:00 INFO server started',
      '2024-05-01 10:00:01 WARN slow query',
    ].join('\n');
    expect(sentences(text)).toEqual([
      'The encoder is fast because\nit batches texts of similar length.',
      'Steps:',
      '- install the dependencies',
      '- run the tests',
      '1. build',
      '2. ship',
      '2024-05-01 10:00:00 INFO server started',
      '2024-05-01 10:00:01 WARN slow query',
    ]);
  });

  it('reports offsets that slice back to each sentence', () => {
    const text = '  First one. Second one?\n\nThird: with `code.` inside! Fourth at src/a.ts:3.';
    const spans = splitSentences(text, 100);
    expect(spans).toHaveLength(4);
    for (const span of spans) expect(text.slice(span.start - 100, span.end - 100)).toBe(span.text);
  });
});

describe('document structure', () => {
  it('turns Markdown headings into nested sections under one document', async () => {
    const text = [
      '# Cockpit Guide',
      '',
      'The cockpit is a local control room for coding agents.',
      '',
      '## Install',
      '',
      'Run the installer once. It builds the native modules.',
      '',
      '### Linux',
      '',
      'On Linux you need a C++ compiler and Python 3 for the native build.',
      '',
      '## Usage',
      '',
      'Start the hub and open the printed URL in a browser.',
    ].join('\n');
    const result = await extract(text);
    const [document] = ofKind(result, 'document');
    expect(document!.metadata.format).toBe('markdown');
    expect(document!.metadata.title).toBe('Cockpit Guide');
    expect(document!.text).toContain('Install');
    const sections = ofKind(result, 'section');
    const byHeading = new Map(sections.map((s) => [s.metadata.heading, s]));
    expect([...byHeading.keys()]).toEqual(['Cockpit Guide', 'Install', 'Linux', 'Usage']);
    expect(byHeading.get('Cockpit Guide')!.parentKey).toBe(document!.key);
    expect(byHeading.get('Install')!.parentKey).toBe(byHeading.get('Cockpit Guide')!.key);
    expect(byHeading.get('Linux')!.parentKey).toBe(byHeading.get('Install')!.key);
    expect(byHeading.get('Linux')!.metadata).toMatchObject({ lineStart: 9, lineEnd: 12, headingPath: ['Cockpit Guide', 'Install', 'Linux'] });
    const linuxChunks = ofKind(result, 'chunk').filter((c) => c.parentKey === byHeading.get('Linux')!.key);
    expect(linuxChunks).toHaveLength(1);
    expect(linuxChunks[0]!.text).toBe('On Linux you need a C++ compiler and Python 3 for the native build.');
    expect(linuxChunks[0]!.metadata).toMatchObject({ lineStart: 11, lineEnd: 11, heading: 'Linux' });
  });

  it('recognises chat transcripts: turns, speakers and exchanges that start at each user turn', async () => {
    const text = [
      'User: The backup job fails every night on the shared drive.',
      'Assistant: I checked the scheduler logs.',
      'The job starts at 02:00 and the drive is mounted read-only until 02:30.',
      'User: Can we move the job?',
      'Assistant: Yes, I moved it to 03:00 in the config.',
    ].join('\n');
    const result = await extract(text);
    const [document] = ofKind(result, 'document');
    expect(document!.metadata).toMatchObject({ format: 'transcript', turns: 4, speakers: ['User', 'Assistant'] });
    const sections = ofKind(result, 'section');
    expect(sections.map((s) => s.metadata.heading)).toEqual([
      'User: The backup job fails every night on the shared drive.',
      'User: Can we move the job?',
    ]);
    expect(sections[0]!.metadata).toMatchObject({ turnStart: 0, turnEnd: 1, speakers: ['User', 'Assistant'], lineStart: 1, lineEnd: 3 });
    const chunks = ofKind(result, 'chunk');
    expect(chunks[0]!.text.startsWith('User: The backup job fails')).toBe(true);
    expect(chunks[0]!.metadata.speakers).toEqual(['User', 'Assistant']);
  });

  it('reads other transcript shapes: [timestamp] name:, JSON-lines of {role, content}, Markdown role headings', async () => {
    const irc = await extract('[10:01] alice: the deploy is stuck\n[10:02] bob: restarting the runner now\n[10:05] alice: it works again, thanks\n');
    expect(ofKind(irc, 'document')[0]!.metadata).toMatchObject({ format: 'transcript', turns: 3, speakers: ['alice', 'bob'] });

    const jsonl = [
      JSON.stringify({ role: 'user', content: 'Why does the search return stale results?' }),
      JSON.stringify({ role: 'assistant', content: [{ type: 'text', text: 'The index is rebuilt only at startup.\nTODO: rebuild the index after every migration.' }] }),
      JSON.stringify({ role: 'user', content: 'We decided to rebuild it in the background.' }),
    ].join('\n');
    const result = await extract(jsonl);
    expect(ofKind(result, 'document')[0]!.metadata).toMatchObject({ format: 'jsonl', turns: 3, speakers: ['user', 'assistant'] });
    const [task] = ofKind(result, 'task');
    // Line numbers point at the JSON-lines record the item came from.
    expect(task!.metadata).toMatchObject({ lineStart: 2, speaker: 'assistant' });
    expect(ofKind(result, 'decision')[0]!.metadata.lineStart).toBe(3);

    const headed = await extract('## User\nHow do I rotate the agent token?\n\n## Assistant\nCall the rotate endpoint; the old token stops working at once.\n');
    expect(ofKind(headed, 'document')[0]!.metadata).toMatchObject({ format: 'transcript', turns: 2 });
  });

  it('keeps code fences whole as code items, with language, path and defined symbols', async () => {
    const text = [
      'Here is the helper:',
      '',
      '```ts title=src/main/memory/lock.ts',
      'export async function withLock(project: string, run: () => Promise<void>): Promise<void> {',
      '  const release = await acquire(project);',
      '',
      '  try {',
      '    await run();',
      '  } finally {',
      '    release();',
      '  }',
      '}',
      '```',
      '',
      'It serialises writers per project.',
    ].join('\n');
    const result = await extract(text);
    const code = ofKind(result, 'code').filter((d) => d.tags.includes('code'));
    expect(code).toHaveLength(1);
    expect(code[0]!.text.split('\n')).toHaveLength(9);
    expect(code[0]!.text).toContain('\n\n  try {');
    expect(code[0]!.metadata).toMatchObject({ language: 'ts', path: 'src/main/memory/lock.ts', symbols: ['withLock'], lineStart: 3, lineEnd: 13 });
  });
});

describe('salient items', () => {
  it('finds file paths with line numbers (POSIX, relative and Windows) and not fractions or and/or', async () => {
    const result = await extract(
      'The crash is in src/main/app.ts:42 when the config is missing. The script ./scripts/build.py line 12 and C:\\Users\\dev\\app\\main.py also read it. ' +
        'About 1/2 of the runs fail, and/or time out after 10/20 retries.',
    );
    const paths = ofKind(result, 'fact').filter((d) => d.tags.includes('path'));
    const byPath = new Map(paths.map((d) => [d.metadata.path, d.metadata]));
    expect([...byPath.keys()].sort()).toEqual(['./scripts/build.py', 'C:\\Users\\dev\\app\\main.py', 'src/main/app.ts']);
    expect(byPath.get('src/main/app.ts')).toMatchObject({ line: 42, extension: 'ts', lineStart: 1 });
    expect(byPath.get('./scripts/build.py')).toMatchObject({ line: 12 });
  });

  it('keeps a whole JavaScript stack trace (and a Python traceback) as one error item', async () => {
    const text = [
      'User: The hub crashes at startup.',
      'Assistant: Here is the output:',
      '',
      "TypeError: Cannot read properties of undefined (reading 'port')",
      '    at createHub (/work/main/src/main/app.ts:42:17)',
      '    at async main (/work/main/src/main/headless.ts:12:3)',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      '    at async Promise.all (index 0)',
      '',
      'And the converter fails too:',
      '',
      'Traceback (most recent call last):',
      '  File "scripts/convert.py", line 88, in <module>',
      '    main()',
      '  File "scripts/convert.py", line 41, in main',
      '    weights = load(args.source)',
      "KeyError: 'encoder/layer_0'",
      '',
      'Both need a fix.',
    ].join('\n');
    const result = await extract(text);
    const errors = ofKind(result, 'error');
    expect(errors).toHaveLength(2);
    const [js, py] = errors;
    expect(js!.text.split('\n')).toHaveLength(5);
    expect(js!.text).toContain('at async Promise.all (index 0)');
    expect(js!.metadata).toMatchObject({ errorType: 'TypeError', language: 'javascript', frames: 4, path: '/work/main/src/main/app.ts', line: 42, function: 'createHub', lineStart: 4, lineEnd: 8 });
    expect(js!.tags).toContain('stack-trace');
    expect(py!.text.split('\n')).toHaveLength(6);
    expect(py!.metadata).toMatchObject({ errorType: 'KeyError', language: 'python', frames: 2, path: 'scripts/convert.py', line: 41, function: 'main', lineStart: 12, lineEnd: 17 });
  });

  it('groups a failing test with its assertion and frames, and finds one-line errors and exit codes', async () => {
    const text = [
      ' FAIL  test/hub/messages.test.ts > messages > keeps order',
      'AssertionError: expected 2 to be 3',
      ' ❯ test/hub/messages.test.ts:57:21',
      '',
      'The build then exited with code 2.',
      "src/main/app.ts(12,5): error TS2322: Type 'string' is not assignable to type 'number'.",
    ].join('\n');
    const errors = ofKind(await extract(text), 'error');
    expect(errors).toHaveLength(3);
    expect(errors[0]!.text.split('\n')).toHaveLength(3);
    expect(errors[0]!.metadata).toMatchObject({ test: 'test/hub/messages.test.ts > messages > keeps order', errorType: 'AssertionError', path: 'test/hub/messages.test.ts', line: 57 });
    expect(errors[1]!.metadata).toMatchObject({ exitCode: 2 });
    expect(errors[2]!.metadata).toMatchObject({ code: 'TS2322', path: 'src/main/app.ts', line: 12, column: 5 });
  });

  it('finds commands in sh fences, after $ prompts, in backticks and in prose', async () => {
    const text = [
      'To reproduce:',
      '',
      '```sh',
      '# build first',
      'npm run build',
      'docker compose up \\',
      '  --build hub',
      '```',
      '',
      '$ git status --short',
      '',
      'Then `npx vitest run test/memory` and finally run git push origin main when it is green.',
    ].join('\n');
    const commands = ofKind(await extract(text), 'code').filter((d) => d.tags.includes('command'));
    const byCommand = new Map(commands.map((d) => [d.metadata.command, d]));
    expect([...byCommand.keys()]).toEqual(['npm run build', 'docker compose up --build hub', 'git status --short', 'npx vitest run test/memory', 'git push origin main']);
    expect(byCommand.get('npm run build')!.metadata).toMatchObject({ program: 'npm', script: 'build', via: 'fence', lineStart: 5, language: 'sh' });
    expect(byCommand.get('git status --short')!.metadata.via).toBe('prompt');
    expect(byCommand.get('npm run build')!.tags).toContain('cli:npm');
  });

  it('finds decisions, tasks, notes, URLs and code symbols in prose', async () => {
    const text = [
      '# Storage review',
      '',
      'We compared SQLite and Postgres for the message store. After the benchmark we decided to use SQLite with WAL mode.',
      'Let\'s go with one database file per project.',
      'IMPORTANT: never open the database from two processes.',
      'The writer lives in `MessageStore.append()` and calls groupCommit() for every batch.',
      'The benchmark notes are at https://example.com/bench/sqlite.html for reference.',
      'TODO: add a vacuum job for old projects.',
      '- [ ] document the WAL checkpoint settings',
      '- [x] measure fsync latency',
      'We still need to decide on the backup format.',
      '',
      '## Action items',
      '',
      '- Ana writes the migration guide',
    ].join('\n');
    const result = await extract(text);
    const texts = (kind: MemoryDraft['kind']) => ofKind(result, kind).map((d) => d.text);
    expect(texts('decision')).toEqual(['After the benchmark we decided to use SQLite with WAL mode.', "Let's go with one database file per project."]);
    expect(texts('note')).toEqual(['IMPORTANT: never open the database from two processes.']);
    expect(texts('task')).toEqual([
      'TODO: add a vacuum job for old projects.',
      '- [ ] document the WAL checkpoint settings',
      '- [x] measure fsync latency',
      'We still need to decide on the backup format.',
      '- Ana writes the migration guide',
    ]);
    const done = ofKind(result, 'task').find((d) => d.text.includes('fsync'))!;
    expect(done.metadata.done).toBe(true);
    expect(done.importance).toBeLessThan(ofKind(result, 'task')[0]!.importance);
    const facts = ofKind(result, 'fact');
    expect(facts.find((d) => d.tags.includes('url'))!.metadata).toMatchObject({ url: 'https://example.com/bench/sqlite.html', host: 'example.com' });
    const symbols = facts.filter((d) => d.tags.includes('symbol')).map((d) => d.metadata.symbol);
    expect(symbols).toEqual(expect.arrayContaining(['MessageStore.append()', 'groupCommit()']));
  });

  it('reads ADR-style records: the Decision section is the decision', async () => {
    const text = [
      '# ADR 7: Vector index',
      '',
      '## Status',
      '',
      'Accepted.',
      '',
      '## Context',
      '',
      'Brute force search gets slow above a million vectors.',
      '',
      '## Decision',
      '',
      'Use FAISS with an IVF index once a project has more than 100,000 memories. Smaller projects keep the flat index.',
      '',
      'We revisit this when the encoder changes.',
    ].join('\n');
    const decisions = ofKind(await extract(text), 'decision');
    expect(decisions).toHaveLength(1);
    expect(decisions[0]!.text).toBe('Use FAISS with an IVF index once a project has more than 100,000 memories. Smaller projects keep the flat index.');
    expect(decisions[0]!.metadata).toMatchObject({ heading: 'Decision', record: 'ADR 7: Vector index' });
    expect(decisions[0]!.tags).toContain('adr');
  });

  it('merges a repeated TODO into one task with a count, scored above a single mention', async () => {
    const text = [
      'User: TODO: add retries to the uploader.',
      'Assistant: Noted. The uploader currently gives up after the first timeout.',
      'User: Also, TODO: rotate the API keys.',
      'Assistant: todo - Add retries to the uploader!',
      'User: Reminder from standup: TODO: add retries to the uploader',
    ].join('\n');
    const result = await extract(text);
    const tasks = ofKind(result, 'task');
    expect(tasks).toHaveLength(2);
    const retries = tasks.find((t) => t.text.includes('retries'))!;
    const keys = tasks.find((t) => t.text.includes('API keys'))!;
    expect(retries.metadata.count).toBe(3);
    expect(retries.metadata.occurrences).toEqual([
      { lineStart: 1, lineEnd: 1 },
      { lineStart: 4, lineEnd: 4 },
      { lineStart: 5, lineEnd: 5 },
    ]);
    expect(keys.metadata.count).toBeUndefined();
    expect(retries.importance).toBeGreaterThan(keys.importance);
    expect(result.stats.duplicatesMerged).toBe(2);
  });
});

describe('importance', () => {
  it('ranks an error trace and a decision above small talk', async () => {
    const text = [
      'User: Hi! How was your weekend?',
      'Assistant: Great, thanks for asking! Hope yours was nice too.',
      'User: Thanks, it was lovely. Anyway, the sync job crashed again:',
      '',
      'Error: connect ECONNREFUSED 127.0.0.1:5432',
      '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)',
      '    at Socket.connect (/work/main/src/main/sync/db.ts:31:9)',
      '',
      'Assistant: The database was not up yet when the job started. We decided to retry the connection with backoff for up to a minute.',
      'User: Cool, thanks!',
      'Assistant: You are welcome, have a nice day!',
    ].join('\n');
    const result = await extract(text);
    const error = ofKind(result, 'error')[0]!;
    const decision = ofKind(result, 'decision')[0]!;
    expect(error.text.split('\n')).toHaveLength(3);
    const smallTalk = result.drafts.filter((d) => /weekend|welcome|Cool, thanks/.test(d.text) && !/crashed|database/.test(d.text));
    expect(smallTalk.length).toBeGreaterThan(0);
    for (const d of smallTalk) {
      expect(error.importance).toBeGreaterThan(d.importance);
      expect(decision.importance).toBeGreaterThan(d.importance);
    }
    const chunks = ofKind(result, 'chunk');
    const talkChunk = chunks.find((c) => c.text.includes('weekend'))!;
    const errorChunk = chunks.find((c) => c.text.includes('ECONNREFUSED'))!;
    expect(errorChunk.importance).toBeGreaterThan(talkChunk.importance);
    // Error and decision are the top two memories.
    const top = [...result.drafts].sort((a, b) => b.importance - a.importance).slice(0, 2).map((d) => d.kind).sort();
    expect(top).toEqual(['decision', 'error']);
  });

  it('boosts emphasised items', async () => {
    const result = await extract('Note: the cache is warmed at startup.\nNote: the cache must NEVER be shared between projects.\n');
    const [plain, emphatic] = ofKind(result, 'note');
    expect(emphatic!.importance).toBeGreaterThan(plain!.importance);
  });
});

const DATABASE = [
  'We store agent messages in SQLite with write-ahead logging enabled.',
  'Each write is grouped into a transaction so that fsync happens once per batch.',
  'The messages table has an index on the recipient and the creation time.',
  'Old rows are pruned by a background job when the database exceeds its size limit.',
  'Vacuuming the database file reclaims the space that pruning released.',
];
const COOKING = [
  'For the sauce, slowly melt the butter in a heavy pan over low heat.',
  'Add the chopped garlic and stir until it smells fragrant but not brown.',
  'Pour in the cream and let it simmer gently for about five minutes.',
  'Season with salt, black pepper and a little grated nutmeg.',
  'Toss the cooked pasta in the sauce and serve it with parmesan.',
];
const HIKING = [
  'The trail starts at the village church and climbs steeply through the forest.',
  'After two hours you reach an alpine meadow with a view of the glacier.',
  'Hikers should carry enough water because there are no springs on the ridge.',
  'The descent follows a rocky path that can be slippery after rain.',
  'Most people finish the loop in about six hours including breaks.',
];
const REGISTRY = [
  'The hub keeps a registry of every agent that connects to it.',
  'When an agent registers, it receives a token that identifies it in later requests.',
  'Presence is tracked with heartbeats sent every ten seconds over the websocket.',
  'If three heartbeats are missed, the agent is marked as offline.',
  'Messages addressed to an offline agent are kept until it reconnects.',
  'On reconnect, the agent receives its pending messages in order.',
  'The cockpit shows each agent with its status and the time it was last seen.',
  'Agents can also be removed from the registry by the user in the cockpit.',
  'Removing an agent revokes its token and drops its pending messages.',
  'The registry is persisted in the same database as the messages.',
];

/** Number of sentences (of `all`) in each chunk, in order. */
function sentencesPerChunk(result: ExtractResult, all: string[]): number[] {
  return ofKind(result, 'chunk').map((chunk) => all.filter((s) => chunk.text.includes(s)).length);
}

describe('semantic chunking', () => {
  it('cuts a text of three different topics at the topic boundaries (±1 sentence)', async () => {
    const all = [...DATABASE, ...COOKING, ...HIKING];
    const result = await extract(all.join(' '));
    const counts = sentencesPerChunk(result, all);
    expect(counts).toHaveLength(3);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(15);
    expect(Math.abs(counts[0]! - 5)).toBeLessThanOrEqual(1);
    expect(Math.abs(counts[0]! + counts[1]! - 10)).toBeLessThanOrEqual(1);
  });

  it('finds the same boundaries in another order and with line breaks between sentences', async () => {
    const all = [...HIKING, ...DATABASE, ...COOKING];
    const counts = sentencesPerChunk(await extract(all.join('\n')), all);
    expect(counts).toHaveLength(3);
    expect(Math.abs(counts[0]! - 5)).toBeLessThanOrEqual(1);
    expect(Math.abs(counts[0]! + counts[1]! - 10)).toBeLessThanOrEqual(1);
  });

  it('keeps a single-topic text under the size cap in one chunk', async () => {
    const result = await extract(REGISTRY.join(' '));
    const chunks = ofKind(result, 'chunk');
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.text).toBe(REGISTRY.join(' '));
  });

  it('splits a long single-topic text to respect maxChunkTokens, and each chunk stays above the minimum', async () => {
    const result = await extract([...REGISTRY, ...REGISTRY.map((s) => s.replace('The ', 'Our '))].join(' '), { maxChunkTokens: 120, minChunkTokens: 30 });
    const chunks = ofKind(result, 'chunk');
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    for (const chunk of chunks) {
      expect(chunk.metadata.tokens as number).toBeLessThanOrEqual(120);
      expect(chunk.metadata.tokens as number).toBeGreaterThanOrEqual(30);
    }
  });

  it('returns chunk vectors: unit-length means of the sentence vectors, close to embedding the chunk', async () => {
    const all = [...DATABASE, ...COOKING, ...HIKING];
    const result = await extract(all.join(' '));
    const chunks = ofKind(result, 'chunk');
    const direct = await encoder.embed(chunks.map((c) => c.text));
    chunks.forEach((chunk, i) => {
      const v = result.vectors.get(chunk.key)!;
      expect(v).toHaveLength(512);
      let norm = 0;
      let dot = 0;
      for (let k = 0; k < v.length; k++) {
        norm += v[k]! * v[k]!;
        dot += v[k]! * direct[i]![k]!;
      }
      expect(Math.abs(Math.sqrt(norm) - 1)).toBeLessThan(1e-4);
      expect(dot).toBeGreaterThan(0.7);
    });
  });
});

describe('hierarchy and keys', () => {
  const mixed = [
    '# Incident 42',
    '',
    'The nightly sync failed. We decided to add a health check before the sync starts.',
    '',
    '## Timeline',
    '',
    'At 02:00 the job started. At 02:01 it failed:',
    '',
    '```',
    'Error: connect ECONNREFUSED 127.0.0.1:5432',
    '    at TCPConnectWrap.afterConnect (node:net:1555:16)',
    '```',
    '',
    '## Follow-up',
    '',
    '- [ ] add the health check in src/main/sync/health.ts',
    '- [ ] alert on repeated failures',
  ].join('\n');

  it('gives every draft a consistent parent: document → sections → chunks → items', async () => {
    const result = await extract(mixed, { project: 'ops', agent: 'claude' });
    const byKey = new Map<string, MemoryDraft>();
    for (const draft of result.drafts) {
      expect(byKey.has(draft.key)).toBe(false);
      if (draft.parentKey !== null) expect(byKey.has(draft.parentKey)).toBe(true); // parents come first
      byKey.set(draft.key, draft);
      expect(draft.text.trim()).not.toBe('');
      expect(draft.importance).toBeGreaterThanOrEqual(0);
      expect(draft.importance).toBeLessThanOrEqual(1);
      expect(draft.tags).toContain('agent:claude');
      expect(draft.tags.length).toBeLessThanOrEqual(32);
      for (const tag of draft.tags) expect(tag.length).toBeLessThanOrEqual(64);
    }
    const roots = result.drafts.filter((d) => d.parentKey === null);
    expect(roots.map((d) => d.kind)).toEqual(['document']);
    for (const draft of result.drafts) {
      const parent = draft.parentKey === null ? null : byKey.get(draft.parentKey)!;
      if (draft.kind === 'section') expect(['document', 'section']).toContain(parent!.kind);
      if (draft.kind === 'chunk') expect(parent!.kind).toBe('section');
      if (!['document', 'section', 'chunk'].includes(draft.kind)) expect(['chunk', 'section']).toContain(parent!.kind);
    }
    // The error found inside the fence sits under the chunk holding that fence.
    const error = ofKind(result, 'error')[0]!;
    expect(error.metadata).toMatchObject({ lineStart: 10, lineEnd: 11 });
    expect(byKey.get(error.parentKey!)!.text).toContain('ECONNREFUSED');
    const followUps = ofKind(result, 'task');
    expect(followUps).toHaveLength(2);
    for (const task of followUps) expect(byKey.get(byKey.get(task.parentKey!)!.parentKey!)!.metadata.heading).toBe('Follow-up');
    // Every chunk, section and the document has a vector.
    for (const draft of result.drafts) {
      if (['document', 'section', 'chunk'].includes(draft.kind)) expect(result.vectors.get(draft.key)).toBeInstanceOf(Float32Array);
    }
    expect(result.stats.draftsByKind.chunk).toBe(ofKind(result, 'chunk').length);
  });

  it('produces the same keys for the same input, and source-based document keys', async () => {
    const first = await extract(mixed);
    const second = await extract(mixed);
    expect(second.drafts.map((d) => d.key)).toEqual(first.drafts.map((d) => d.key));
    const v1 = await extract(mixed, { source: 'docs/incident-42.md' });
    const v2 = await extract(mixed + '\nOne more line about the outage.', { source: 'docs/incident-42.md' });
    expect(v2.drafts[0]!.key).toBe(v1.drafts[0]!.key);
    expect(v1.drafts[0]!.key).not.toBe(first.drafts[0]!.key);
    expect(v1.drafts[0]!.metadata.source).toBe('docs/incident-42.md');
  });

  it('returns nothing for empty text', async () => {
    const result = await extract('  \n\n ');
    expect(result.drafts).toEqual([]);
    expect(result.vectors.size).toBe(0);
  });
});
