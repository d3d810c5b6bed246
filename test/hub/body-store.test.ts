/**
 * The body store on its own: a write that fails at any step leaves no file behind, and the running total of its
 * files' bytes (what the cockpit shows, without walking the folder) follows sweep, write and discard.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import * as durable from '../../src/shared/node/durable-file';
import { BodyStore } from '../../src/main/messaging/body-store';
import { tempDir } from '../helpers';
import { until } from './harness';

vi.mock('../../src/shared/node/durable-file', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/shared/node/durable-file')>();
  return { ...original, syncDir: vi.fn(original.syncDir) };
});

const ID_A = '01HZZZZZZZZZZZZZZZZZZZZZZA';
const ID_B = '01HZZZZZZZZZZZZZZZZZZZZZZB';
const ID_C = '01HZZZZZZZZZZZZZZZZZZZZZZC';

describe('the body store', () => {
  it('removes the file when making its directory entry durable fails, and counts nothing', async () => {
    const store = new BodyStore(path.join(tempDir(), 'message-bodies'));
    vi.mocked(durable.syncDir).mockRejectedValueOnce(new Error('EIO: directory fsync failed'));
    await expect(store.write(ID_A, Buffer.from('"body"'))).rejects.toThrow('EIO');
    expect(existsSync(store.pathOf(ID_A))).toBe(false);
    expect(store.bytes).toBe(0);
  });

  it('keeps a running total of its files: counted by sweep, plus write, minus discard', async () => {
    const dir = path.join(tempDir(), 'message-bodies');
    const first = new BodyStore(dir);
    await first.write(ID_A, Buffer.alloc(1000, 0x61));
    await first.write(ID_B, Buffer.alloc(300, 0x62));
    writeFileSync(path.join(dir, 'stray.tmp'), 'not a body');
    expect(first.bytes).toBe(1300);

    // At startup: only bodies of stored messages stay, and their stored sizes make the total.
    const stored = new Map([[ID_A, 1000]]);
    const store = new BodyStore(dir);
    expect(store.sweep((id) => stored.get(id))).toBe(2);
    expect(readdirSync(dir)).toEqual([`${ID_A}.json`]);
    expect(store.bytes).toBe(1000);

    await store.write(ID_C, Buffer.alloc(50, 0x63));
    expect(store.bytes).toBe(1050);
    store.discard(ID_C, 50);
    await until(() => store.bytes === 1000, 5000, 'the discarded body no longer counted');
    expect(existsSync(store.pathOf(ID_C))).toBe(false);
  });
});
