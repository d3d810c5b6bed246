/** Manifests written in pieces (with yields between) are the same text as written at once, and read back whole. */
import { expect, it } from 'vitest';
import { parseManifest, serializeManifest, serializeManifestPieces, type Manifest } from '../../src/main/backup/manifest';

it('writes the same text in pieces as at once, for any number of files around the piece size', async () => {
  for (const n of [0, 1, 1999, 2000, 2001, 4500]) {
    const manifest: Manifest = {
      format: 'devenviro-backup-manifest',
      version: 2,
      id: '20261207T010000000Z-0a0b0c0d',
      createdAt: '2026-12-07T01:00:00.000Z',
      origin: { host: 'h', dataDir: '/d', platform: 'linux' },
      sources: [],
      totals: { files: n, bytes: 0, newObjects: 0, newBytes: 0 },
      files: Array.from({ length: n }, (_, i) => ({
        source: 'web',
        path: `src/file${i}.ts`,
        size: i,
        mtime: 1,
        mode: 0o644,
        sha256: 'a'.repeat(64),
        ...(i % 3 ? { chunks: [['b'.repeat(64), i] as [string, number]] } : {}),
      })),
      dirs: n % 2 ? [] : [{ source: 'web', path: 'src', mode: 0o755, mtime: 2 }],
    };
    let text = '';
    for await (const piece of serializeManifestPieces(manifest)) text += piece;
    expect(text).toBe(serializeManifest(manifest));
    expect(parseManifest(text, 'test')).toEqual(manifest);
  }
});
