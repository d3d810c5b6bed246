// Extraction a person would keep: floors on the report half of the labelled set (never tuned on), and one test per
// failure seen on real documents (decisions missed, badges and commit links kept, an error split from its frame, a
// 1,000,000-word line accepted).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxSentenceEncoder, ensureDefaultEncoder } from '../../src/main/embedding';
import { ExtractRefused, checkExtractable, extractMemories, type ExtractOptions, type ExtractResult, type MemoryDraft } from '../../src/main/extract';
import { EXTRACT_LINE_MAX_CHARS, ExtractRequest, MEMORY_TEXT_MAX_CHARS, MemoryInput } from '../../src/shared/memory-protocol';
import { scoreHalf, type ScoredKind } from './labelled-set';

let encoder: OnnxSentenceEncoder;
let embed: ExtractOptions['embed'];

beforeAll(async () => {
  encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(path.resolve('resources')));
  embed = (texts) => encoder.embed(texts);
});

afterAll(async () => {
  await encoder?.close();
});

const extract = (text: string): Promise<ExtractResult> => extractMemories(text, { embed });
const ofKind = (result: ExtractResult, kind: MemoryDraft['kind']) => result.drafts.filter((d) => d.kind === kind);
const urls = (result: ExtractResult) => ofKind(result, 'fact').filter((d) => d.tags.includes('url')).map((d) => d.metadata.url);

describe('the labelled set, report half', () => {
  it('keeps precision and recall per kind above the floors measured when the set was made', async () => {
    const score = await scoreHalf('report', embed);
    // Measured at the commit that added the set: all kinds 100% except path precision 82% and url recall 50%
    // (docs/benchmarks.md). The floors leave one item of slack per kind.
    const floors: Record<ScoredKind, { precision: number; recall: number }> = {
      decision: { precision: 0.9, recall: 0.9 },
      task: { precision: 0.8, recall: 0.8 },
      error: { precision: 0.8, recall: 0.8 },
      command: { precision: 0.85, recall: 0.85 },
      path: { precision: 0.7, recall: 0.85 },
      url: { precision: 0.5, recall: 0.5 },
    };
    for (const kind of score.kinds) {
      expect({ kind: kind.kind, precision: kind.precision >= floors[kind.kind].precision, recall: kind.recall >= floors[kind.kind].recall }).toEqual({
        kind: kind.kind,
        precision: true,
        recall: true,
      });
    }
    expect(score.all.precision).toBeGreaterThanOrEqual(0.9);
    expect(score.all.recall).toBeGreaterThanOrEqual(0.9);
  }, 60_000);
});

describe('size limits shared with the store', () => {
  const millionWordLine = 'w '.repeat(1_000_000).trimEnd();

  it('refuses a 1,000,000-word line before any work, with the line and the limit in the error', async () => {
    let embedded = 0;
    const error = await extractMemories(`# Notes\n\n${millionWordLine}\n`, {
      embed: async (texts) => {
        embedded += texts.length;
        return encoder.embed(texts);
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExtractRefused);
    expect((error as ExtractRefused).code).toBe('invalid_request');
    expect((error as ExtractRefused).message).toMatch(/^line 3 is 1,999,999 characters long; a memory holds at most 100,000/);
    expect(embedded).toBe(0);
  });

  it('says the same to callers over the wire: the request schema refuses it', () => {
    const parsed = ExtractRequest.safeParse({ text: millionWordLine });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toMatch(/^line 1 is 1,999,999 characters long; a memory holds at most 100,000/);
    // One limit: what a stored memory may hold is what an extracted line may hold.
    expect(EXTRACT_LINE_MAX_CHARS).toBe(MEMORY_TEXT_MAX_CHARS);
    expect(MemoryInput.safeParse({ text: 'x'.repeat(MEMORY_TEXT_MAX_CHARS + 1) }).success).toBe(false);
    expect(ExtractRequest.safeParse({ text: `${'x'.repeat(MEMORY_TEXT_MAX_CHARS)}\nshort line` }).success).toBe(true);
    expect(() => checkExtractable(`a\n${'x'.repeat(MEMORY_TEXT_MAX_CHARS + 1)}`)).toThrow(/^line 2 is 100,001 characters long/);
  });
});

describe('what extraction keeps', () => {
  it('keeps no badge images, badge links or bare commit and compare links, but keeps a link nothing else carries', async () => {
    const changelog = [
      '# Changelog',
      '',
      '[![npm](https://img.shields.io/npm/v/hub.svg)](https://www.npmjs.com/package/hub)',
      '[![CI](https://github.com/acme/hub/actions/workflows/ci.yml/badge.svg)](https://github.com/acme/hub/actions)',
      '![coverage](https://codecov.io/gh/acme/hub/branch/main/graph/badge.svg)',
      '',
      '## [2.1.0](https://github.com/acme/hub/compare/v2.0.0...v2.1.0) (2024-05-02)',
      '',
      '* retry uploads on 503 ([#88](https://github.com/acme/hub/issues/88)) ([9f3c2ab](https://github.com/acme/hub/commit/9f3c2ab71e0d4c11b5a7e2f9d8c6b4a1e0f3d2c1))',
      '* faster search ([`1a2b3c4`](https://github.com/acme/hub/commit/1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b))',
      '',
      'Upgrade guide: https://docs.acme.example/hub/upgrade-2.1',
      '',
      '**Full Changelog**: https://github.com/acme/hub/compare/v2.0.0...v2.1.0',
    ].join('\n');
    const result = await extract(changelog);
    expect(urls(result)).toEqual(['https://docs.acme.example/hub/upgrade-2.1']);
    expect(result.drafts.filter((d) => d.kind !== 'document' && d.kind !== 'section' && d.kind !== 'chunk' && /shields\.io|badge\.svg|\/commit\//.test(d.text))).toEqual([]);
  });

  it('keeps an error and the frame that matters as one item, also after a log record that announces it', async () => {
    const log = [
      '2024-06-11T08:07:02.005Z ERROR [api] unhandled error in GET /orders/:id',
      "TypeError: Cannot read properties of undefined (reading 'total')",
      '    at Array.map (<anonymous>)',
      '    at formatOrder (/srv/app/src/orders/format.ts:27:31)',
      '    at Layer.handle [as handle_request] (/srv/app/node_modules/express/lib/router/layer.js:95:5)',
      '2024-06-11T08:07:02.006Z INFO  [api] GET /orders/A-1932 500 12 ms',
      "2024-06-11T08:11:30.441Z ERROR [jobs] export failed: Error: ENOENT: no such file or directory, open '/srv/app/exports/x.csv'",
      '    at Object.openSync (node:fs:596:3)',
      '    at writeExport (/srv/app/src/jobs/export.ts:88:6)',
    ].join('\n');
    const errors = ofKind(await extract(log), 'error');
    expect(errors).toHaveLength(2);
    const [typeError, enoent] = errors;
    expect(typeError!.text).toContain('unhandled error in GET /orders/:id');
    expect(typeError!.text).toContain("Cannot read properties of undefined (reading 'total')");
    expect(typeError!.metadata).toMatchObject({ errorType: 'TypeError', path: '/srv/app/src/orders/format.ts', line: 27, function: 'formatOrder' });
    expect(enoent!.text).toContain('ENOENT: no such file or directory');
    expect(enoent!.metadata).toMatchObject({ path: '/srv/app/src/jobs/export.ts', line: 88, function: 'writeExport' });
  });

  it('keeps a pytest failure as one error, and its summary line adds no second one', async () => {
    const output = [
      '================================== FAILURES ===================================',
      '________________________ test_parse_price_with_comma __________________________',
      '',
      '    def test_parse_price_with_comma():',
      '>       assert parse_price("1,50") == 1.5',
      "E       ValueError: could not convert string to float: '1,50'",
      '',
      'tests/test_prices.py:14: ValueError',
      '=========================== short test summary info ===========================',
      "FAILED tests/test_prices.py::test_parse_price_with_comma - ValueError: could not convert string to float: '1,50'",
    ].join('\n');
    const errors = ofKind(await extract(output), 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.metadata).toMatchObject({ errorType: 'ValueError', test: 'test_parse_price_with_comma', path: 'tests/test_prices.py', line: 14 });
    expect(errors[0]!.text).toContain("E       ValueError: could not convert string to float: '1,50'");
  });

  it('finds the decisions of a README and an issue thread, negative ones included', async () => {
    const readme = [
      '# native-kit',
      '',
      '## Building addons',
      '',
      'If you maintain an addon, we recommend prebuildify with node-gyp-build over node-pre-gyp.',
      'The binaries travel inside the npm tarball.',
    ].join('\n');
    const thread = [
      '**devon** commented',
      '',
      'We discussed this in the maintainers call. We decided to ship prebuilt binaries inside the package.',
      'We will not use node-pre-gyp any more; it is unmaintained.',
      '',
      '**ana** commented',
      '',
      "Let's not add a download step either. We decided against a postinstall script.",
      'We have not decided yet whether musl builds are worth it.',
      'Should we also drop Node 16?',
    ].join('\n');
    const decisions = (result: ExtractResult) => ofKind(result, 'decision').map((d) => d.text);
    expect(decisions(await extract(readme))).toEqual(['If you maintain an addon, we recommend prebuildify with node-gyp-build over node-pre-gyp.']);
    expect(decisions(await extract(thread))).toEqual([
      'We decided to ship prebuilt binaries inside the package.',
      'We will not use node-pre-gyp any more; it is unmaintained.',
      "Let's not add a download step either.",
      'We decided against a postinstall script.',
    ]);
  });

  it('keeps commands whole and without the prose around them, and file names without folders', async () => {
    const text = [
      '# deploy-kit',
      '',
      '```bash',
      'deploy-kit init',
      '```',
      '',
      'Always run `deploy-kit diff --env production` before a deploy, then `deploy-kit deploy --env production` when it is clean.',
      'Pin the version in package.json; the CLI reads `.deploykit/config.yaml` and ~/.config/deploy-kit/credentials.',
      'Run git push origin main when it is green.',
    ].join('\n');
    const result = await extract(text);
    const commands = ofKind(result, 'code').filter((d) => d.tags.includes('command')).map((d) => d.metadata.command);
    expect(commands).toEqual(['deploy-kit init', 'deploy-kit diff --env production', 'deploy-kit deploy --env production', 'git push origin main']);
    const paths = ofKind(result, 'fact').filter((d) => d.tags.includes('path')).map((d) => d.metadata.path);
    expect(paths.sort()).toEqual(['.deploykit/config.yaml', '~/.config/deploy-kit/credentials', 'package.json'].sort());
  });
});
