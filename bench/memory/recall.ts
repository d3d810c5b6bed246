/** The recall phase of the memory benchmark: the hub's saved index against an exact scan, and the near-duplicate check. */
import path from 'node:path';
import { repoRoot } from '../lib/paths';
import { makeQueries, prng } from './notes';
import type { Options } from './options';
import type { RecallResult } from './results';

/**
 * Recall@10 of the hub's vector side: its saved index reopened here (as the hub would reopen it), against an exact
 * scan of every vector in memory.sqlite, for queries embedded with the same encoder.
 */
export async function recallCheck(dataDir: string, options: Options): Promise<RecallResult> {
  const [{ openDatabase }, { OnnxSentenceEncoder, defaultEncoderDir }, { VectorIndex }] = await Promise.all([
    import('../../src/main/db/database'),
    import('../../src/main/embedding'),
    import('../../src/main/vector'),
  ]);
  const encoder = await OnnxSentenceEncoder.load(defaultEncoderDir(path.join(repoRoot, 'resources')));
  const db = openDatabase(path.join(dataDir, 'memory.sqlite'), { readonly: true });
  try {
    const model = encoder.id;
    const d = encoder.dimension;
    const n = db.prepare('SELECT COUNT(*) FROM embeddings WHERE model = ?').pluck().get(model) as number;
    const ids = new Int32Array(n);
    const matrix = new Float32Array(n * d);
    let row = 0;
    for (const r of db.prepare('SELECT memory_id AS id, vector FROM embeddings WHERE model = ?').iterate(model) as Iterable<{ id: number; vector: Buffer }>) {
      ids[row] = r.id;
      new Uint8Array(matrix.buffer, row * d * 4, d * 4).set(r.vector);
      row++;
    }
    const opened = performance.now();
    const index = await VectorIndex.open({
      dir: path.join(dataDir, 'vectors'),
      modelId: model,
      dimension: d,
      expectedCount: n,
      tuning: { autoBuild: false },
      *loadAll() {
        for (let i = 0; i < n; i++) yield { id: ids[i]!, vector: matrix.slice(i * d, (i + 1) * d) };
      },
    });
    const openMs = performance.now() - opened;
    try {
      const queries = makeQueries(options.recallQueries, 4_242);
      const vectors = await encoder.embed(queries);
      let found = 0;
      let exactMs = 0;
      let indexMs = 0;
      const k = 10;
      for (const q of vectors) {
        let t = performance.now();
        const exact = exactTopK(matrix, ids, d, q, k);
        exactMs += performance.now() - t;
        t = performance.now();
        const approx = index.search(q, k);
        indexMs += performance.now() - t;
        const truth = new Set(exact.map((hit) => hit.id));
        found += approx.filter((hit) => truth.has(hit.id)).length;
      }
      const nearDuplicates = await nearDuplicateCheck(db, encoder, index, matrix, ids, options.recallQueries * 2);
      const stats = index.stats();
      return {
        queries: vectors.length,
        k,
        recallAt10: found / (vectors.length * k),
        indexKind: stats.kind,
        nlist: stats.nlist,
        nprobe: stats.nprobe,
        estimatedRecall: stats.recall,
        openMs,
        exactMsPerQuery: exactMs / vectors.length,
        indexMsPerQuery: indexMs / vectors.length,
        nearDuplicates,
      };
    } finally {
      await index.close();
    }
  } finally {
    db.close();
    await encoder.close();
  }
}

/** Slightly edited copies of stored notes: what a store's near-duplicate check is for. */
const NOTE_EDITS: Array<(text: string, random: () => number) => string> = [
  (s) => s.replace(/\d+/, (m) => String(Number(m) + 1)),
  (s) => {
    const sentences = s.split(/(?<=\.)\s+/);
    return sentences.length > 1 ? sentences.slice(0, -1).join(' ') : `${s} Again.`;
  },
  (s, random) => {
    const words = s.split(' ');
    const i = Math.floor(random() * words.length);
    words[i] = words[(i + 1) % words.length]!;
    return words.join(' ');
  },
  (s) => s.replace(/ /, ' really '),
  (s) => `${s} (again)`,
];

/**
 * Edited copies of stored notes, embedded; their stored neighbours at cosine >= 0.95 found exactly, and how many of
 * them each near-duplicate probe finds (batches of 200, as a store's groups).
 */
async function nearDuplicateCheck(
  db: { prepare(sql: string): { all(...params: unknown[]): unknown[] } },
  encoder: { embed(texts: string[]): Promise<Float32Array[]> },
  index: import('../../src/main/vector').VectorIndex,
  matrix: Float32Array,
  ids: Int32Array,
  count: number,
): Promise<RecallResult['nearDuplicates']> {
  const random = prng(9_157);
  const rows = db.prepare('SELECT text FROM memories WHERE id % 97 = 0 ORDER BY id LIMIT ?').all(count) as Array<{ text: string }>;
  const texts = rows.map((row, i) => NOTE_EDITS[i % NOTE_EDITS.length]!(row.text, random));
  const vectors = await encoder.embed(texts);
  const d = vectors[0]?.length ?? 0;
  const truth = vectors.map((q) => new Set(exactTopK(matrix, ids, d, q, 10).filter((hit) => hit.score >= 0.95).map((hit) => hit.id)));
  const probe = (run: (batch: Float32Array[]) => Array<Array<{ id: number }>>) => {
    const started = performance.now();
    const got: Array<Array<{ id: number }>> = [];
    for (let i = 0; i < vectors.length; i += 200) got.push(...run(vectors.slice(i, i + 200)));
    const msPerQuery = (performance.now() - started) / Math.max(1, vectors.length);
    const found = got.reduce((sum, hits, q) => sum + hits.filter((hit) => truth[q]!.has(hit.id)).length, 0);
    return { found, msPerQuery };
  };
  index.searchCloseBatch(vectors.slice(0, 20), 10); // warm-up
  return {
    queries: vectors.length,
    pairs: truth.reduce((sum, set) => sum + set.size, 0),
    close: probe((batch) => index.searchCloseBatch(batch, 10)),
    faiss: probe((batch) => index.searchBatch(batch, 10)),
  };
}

function exactTopK(matrix: Float32Array, ids: Int32Array, d: number, q: Float32Array, k: number): Array<{ id: number; score: number }> {
  const best: Array<{ id: number; score: number }> = [];
  const n = ids.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    const base = i * d;
    for (let j = 0; j < d; j++) s += matrix[base + j]! * q[j]!;
    if (best.length < k || s > best[best.length - 1]!.score) {
      best.push({ id: ids[i]!, score: s });
      best.sort((a, b) => b.score - a.score);
      if (best.length > k) best.pop();
    }
  }
  return best;
}
