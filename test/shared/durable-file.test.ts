/**
 * Durable file writes on real files: the steps of a synced write in order (open, each chunk written before the next
 * is pulled, flush), exclusive creation, the rename steps (temporary removed when the rename fails, no retry off
 * Windows), folder flushes that fail loudly on a real error, and writeFileDurable(Sync) leaving only the final name.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  renameDurable,
  renameIntoPlace,
  renameIntoPlaceSync,
  syncDir,
  syncDirSync,
  temporaryName,
  writeFileDurable,
  writeFileDurableSync,
  writeFileSynced,
  writeFileSyncedSync,
} from '../../src/shared/node/durable-file';
import { tempDir } from '../helpers';

const sizeOf = (file: string) => (existsSync(file) ? statSync(file).size : -1);

describe('writeFileSynced', () => {
  it('opens, writes each chunk before pulling the next, then flushes, each step through `step`', async () => {
    const file = path.join(tempDir(), 'data.bin');
    const events: string[] = [];
    // One buffer, refilled for every chunk: the content is right only if each chunk is written before the next pull.
    const buffer = Buffer.alloc(4);
    async function* chunks() {
      for (const letter of ['a', 'b', 'c']) {
        events.push(`pull ${letter} (file ${sizeOf(file)} bytes)`);
        buffer.fill(letter);
        yield buffer;
      }
    }
    let steps = 0;
    await writeFileSynced(file, chunks(), {
      mode: 0o600,
      step: async (operation) => {
        steps++;
        const result = await operation();
        events.push(`step ${steps} (file ${sizeOf(file)} bytes)`);
        return result;
      },
    });
    expect(events).toEqual([
      'step 1 (file 0 bytes)', // open
      'pull a (file 0 bytes)',
      'step 2 (file 4 bytes)',
      'pull b (file 4 bytes)',
      'step 3 (file 8 bytes)',
      'pull c (file 8 bytes)',
      'step 4 (file 12 bytes)',
      'step 5 (file 12 bytes)', // the flush, last
    ]);
    expect(readFileSync(file, 'utf8')).toBe('aaaabbbbcccc');
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('stops at the first failing chunk: no flush, the error is the caller’s, the partial file stays for it to remove', async () => {
    const file = path.join(tempDir(), 'data.bin');
    let steps = 0;
    async function* chunks() {
      yield 'first ';
      throw new Error('source gone');
    }
    await expect(writeFileSynced(file, chunks(), { step: (operation) => (steps++, operation()) })).rejects.toThrow('source gone');
    expect(steps).toBe(2); // open and one write; never the flush
    expect(readFileSync(file, 'utf8')).toBe('first ');
  });

  it('replaces an existing file, or refuses it when exclusive', async () => {
    const file = path.join(tempDir(), 'data.txt');
    writeFileSync(file, 'old content that is longer');
    await writeFileSynced(file, 'new', 0o644);
    expect(readFileSync(file, 'utf8')).toBe('new');
    await expect(writeFileSynced(file, 'other', { exclusive: true })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(file, 'utf8')).toBe('new');
  });

  it('the synchronous form writes strings, bytes and iterables of chunks', () => {
    const dir = tempDir();
    writeFileSyncedSync(path.join(dir, 'a'), 'text é');
    writeFileSyncedSync(path.join(dir, 'b'), Buffer.from([1, 2, 3]));
    const buffer = Buffer.alloc(2);
    function* chunks() {
      for (const byte of [7, 8, 9]) yield buffer.fill(byte);
    }
    writeFileSyncedSync(path.join(dir, 'c'), chunks());
    expect(readFileSync(path.join(dir, 'a'), 'utf8')).toBe('text é');
    expect([...readFileSync(path.join(dir, 'b'))]).toEqual([1, 2, 3]);
    expect([...readFileSync(path.join(dir, 'c'))]).toEqual([7, 7, 8, 8, 9, 9]);
  });
});

describe('renaming into place', () => {
  it('moves the temporary onto the final name, replacing what was there', async () => {
    const dir = tempDir();
    const final = path.join(dir, 'final.json');
    writeFileSync(final, 'old');
    await writeFileSynced(path.join(dir, '.t1'), 'one');
    await renameIntoPlace(path.join(dir, '.t1'), final);
    expect(readFileSync(final, 'utf8')).toBe('one');
    await writeFileSynced(path.join(dir, '.t2'), 'two');
    await renameDurable(path.join(dir, '.t2'), final, { retryBusy: true });
    expect(readFileSync(final, 'utf8')).toBe('two');
    writeFileSyncedSync(path.join(dir, '.t3'), 'three');
    renameIntoPlaceSync(path.join(dir, '.t3'), final);
    expect(readFileSync(final, 'utf8')).toBe('three');
    expect(readdirSync(dir)).toEqual(['final.json']);
  });

  it('removes the temporary when the rename fails, and leaves the final name alone', async () => {
    const dir = tempDir();
    // A folder that is not empty cannot be replaced by a file.
    const final = path.join(dir, 'taken');
    mkdirSync(final);
    writeFileSync(path.join(final, 'inside'), 'x');
    for (const attempt of [
      (temp: string) => renameIntoPlace(temp, final),
      (temp: string) => renameDurable(temp, final),
      async (temp: string) => renameIntoPlaceSync(temp, final),
    ]) {
      const temp = path.join(dir, '.temp');
      await writeFileSynced(temp, 'content');
      await expect(attempt(temp)).rejects.toMatchObject({ code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST|EPERM)$/) });
      expect(existsSync(temp)).toBe(false);
      expect(readdirSync(final)).toEqual(['inside']);
    }
  });

  it('retries busy renames only on Windows: elsewhere the first failure is the answer', async () => {
    const dir = tempDir();
    const start = performance.now();
    await expect(renameIntoPlace(path.join(dir, 'missing'), path.join(dir, 'final'), { retryBusy: true })).rejects.toMatchObject({ code: 'ENOENT' });
    if (process.platform !== 'win32') expect(performance.now() - start).toBeLessThan(45); // under the first 50 ms wait
  });
});

describe('syncDir', () => {
  it('flushes a real folder, and reports a folder that is not there', async () => {
    const dir = tempDir();
    await syncDir(dir);
    syncDirSync(dir);
    if (process.platform === 'win32') return; // a no-op there by design
    await expect(syncDir(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => syncDirSync(path.join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('writeFileDurable', () => {
  it('leaves only the final name, with the content and mode asked for', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'settings.json');
    await writeFileDurable(file, '{"a":1}', 0o600);
    writeFileDurableSync(path.join(dir, 'token'), 'secret\n', 0o600);
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}');
    expect(readFileSync(path.join(dir, 'token'), 'utf8')).toBe('secret\n');
    expect(readdirSync(dir).sort()).toEqual(['settings.json', 'token']);
    if (process.platform !== 'win32') expect(statSync(path.join(dir, 'token')).mode & 0o777).toBe(0o600);
  });

  it('keeps the old content and removes the temporary when the write fails', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'settings.json');
    await writeFileDurable(file, 'old');
    async function* failing() {
      yield 'half of the new';
      throw new Error('producer failed');
    }
    await expect(writeFileDurable(file, failing())).rejects.toThrow('producer failed');
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(existsSync(temporaryName(file))).toBe(false);
    expect(readdirSync(dir)).toEqual(['settings.json']);
  });
});
