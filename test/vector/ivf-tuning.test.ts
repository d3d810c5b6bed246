// An IVF build picks nprobe from the lists alone (ivf-tuning.ts): the recall it computes for each nprobe must be the
// recall FAISS's own IVF search gets at that nprobe. Real faiss-node indexes, trained and searched; nothing mocked.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Index } from '../../src/main/vector/faiss';
import { IVF_NPROBE_OFFSET, METRIC_INNER_PRODUCT, parseIvfPart } from '../../src/main/vector/faiss-format';
import { NPROBE_CANDIDATES, recallByNprobe } from '../../src/main/vector/ivf-tuning';
import { tempDir } from '../helpers';
import { mulberry32 } from '../support/seeded-random';

const DIM = 24;
const NLIST = 48;
const K = 10;

function gauss(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  return v.map((x) => x / Math.sqrt(norm));
}

/** Unit vectors around 30 centres, so that neighbours often sit in other lists than their query's. */
function clustered(n: number, random: () => number): Float32Array[] {
  const centres = Array.from({ length: 30 }, () => normalize(Float32Array.from({ length: DIM }, () => gauss(random))));
  return Array.from({ length: n }, () => {
    const c = centres[Math.floor(random() * centres.length)]!;
    return normalize(Float32Array.from(c, (x) => x + 0.25 * gauss(random)));
  });
}

const flatten = (vectors: Float32Array[]): number[] => vectors.flatMap((v) => Array.from(v));

describe('nprobe from the lists', () => {
  it('gives, for every nprobe, the recall@10 FAISS’s IVF search measures at that nprobe', () => {
    const random = mulberry32(42);
    const data = clustered(3000, random);
    const queryPositions = Array.from({ length: 120 }, (_, i) => (i * 23) % data.length);

    const ivf = Index.fromFactory(DIM, `IVF${NLIST},Flat`, METRIC_INNER_PRODUCT);
    ivf.train(flatten(data.slice(0, 1500)));
    const dir = tempDir();
    const template = path.join(dir, 'template.faiss');
    ivf.write(template);
    const templateBytes = fs.readFileSync(template);
    ivf.add(flatten(data));
    const filled = path.join(dir, 'filled.faiss');
    ivf.write(filled);
    const atNprobe = (nprobe: number) => {
      const bytes = fs.readFileSync(filled);
      bytes.writeBigUInt64LE(BigInt(nprobe), IVF_NPROBE_OFFSET);
      const file = path.join(dir, `nprobe-${nprobe}.faiss`);
      fs.writeFileSync(file, bytes);
      return Index.read(file);
    };

    // The true neighbours of each query, itself excluded.
    const exact = Index.fromFactory(DIM, 'Flat', METRIC_INNER_PRODUCT);
    exact.add(flatten(data));
    const queries = flatten(queryPositions.map((p) => data[p]!));
    const truthLabels = exact.search(queries, K + 1).labels;
    const topOf = (labels: number[], q: number) => labels.slice(q * (K + 1), (q + 1) * (K + 1)).filter((l) => l >= 0 && l !== queryPositions[q]).slice(0, K);
    const truth = queryPositions.map((_, q) => topOf(truthLabels, q));

    // What the build computes: centroids ranked per query, each neighbour's list.
    const centroids = new Float32Array(new Uint8Array(parseIvfPart(templateBytes, NLIST, DIM).centroids).buffer);
    const quantizer = Index.fromFactory(DIM, 'Flat', METRIC_INNER_PRODUCT);
    quantizer.add(Array.from(centroids));
    const ranked = quantizer.search(queries, NLIST).labels;
    const neighbourLists = truth.map((those) => quantizer.search(flatten(those.map((p) => data[p]!)), 1).labels);
    const candidates = NPROBE_CANDIDATES.filter((p) => p <= NLIST);
    const computed = recallByNprobe(ranked, NLIST, neighbourLists, K, candidates, 1.01);
    expect(computed.map((c) => c.nprobe)).toEqual(candidates);

    for (const { nprobe, recall } of computed) {
      const got = atNprobe(nprobe).search(queries, K + 1).labels;
      let hits = 0;
      truth.forEach((want, q) => (hits += topOf(got, q).filter((l) => want.includes(l)).length));
      expect(recall, `nprobe ${nprobe}`).toBeCloseTo(hits / (queryPositions.length * K), 9);
    }
    // The data is spread enough that the choice matters: nprobe 1 misses neighbours, all lists find every one.
    expect(computed[0]!.recall).toBeLessThan(0.9);
    expect(computed[computed.length - 1]!.recall).toBe(1);
  });

  it('stops at the first nprobe that reaches the target', () => {
    // Two queries, four lists; their neighbours sit in their 1st, 1st, 2nd and 4th nearest lists.
    const ranked = [0, 1, 2, 3, 3, 2, 1, 0];
    const neighbourLists = [[0, 1], [3, 0]];
    expect(recallByNprobe(ranked, 4, neighbourLists, 2, [1, 2, 3, 4], 0.75)).toEqual([
      { nprobe: 1, recall: 0.5 },
      { nprobe: 2, recall: 0.75 },
    ]);
    expect(recallByNprobe(ranked, 4, neighbourLists, 2, [1, 2, 3, 4], 1)).toEqual([
      { nprobe: 1, recall: 0.5 },
      { nprobe: 2, recall: 0.75 },
      { nprobe: 3, recall: 0.75 },
      { nprobe: 4, recall: 1 },
    ]);
    expect(() => recallByNprobe([0, 1], 4, neighbourLists, 2, [1], 1)).toThrow(/expected 2 × 4 ranked lists/);
  });
});
