// Typed loader for faiss-node (a CommonJS Node-API addon; its addon is made at install time by
// scripts/install/faiss.mjs). Loaded with createRequire so it works the same under vitest, tsx and a vite SSR /
// electron-vite bundle in which faiss-node is external. Node-API: the same build loads in Node and Electron.
import { createRequire } from 'node:module';
import type * as FaissNode from 'faiss-node';

export type { SearchResult } from 'faiss-node';
export type Index = FaissNode.Index;
export type IndexFlatIP = FaissNode.IndexFlatIP;
export type IndexFlatL2 = FaissNode.IndexFlatL2;
export type MetricType = FaissNode.MetricType;

/** Vectors per faiss-node `add` call: each call converts its floats through one JS array. */
export const ADD_BATCH = 256;

// Not named `require`: the bundler's ESM shim declares one at the top of the chunk.
const requireCjs = createRequire(import.meta.url);

function load(): typeof FaissNode {
  // OpenMP and OpenBLAS each start a thread per core and fight over them: on 2 cores, batch search was 3.6x and IVF
  // p99 7x slower with two threads than with one (bench/vector.ts). The hub runs many small searches, not one big
  // one. Set before the addon loads, and only where the user has not chosen.
  process.env.OMP_NUM_THREADS ??= '1';
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  try {
    return requireCjs('faiss-node') as typeof FaissNode;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `faiss-node's native addon could not be loaded (${reason}). Run \`npm install\` (or \`node scripts/postinstall.mjs\`) ` +
        'to download or build it; building needs libfaiss-dev libopenblas-dev patchelf cmake g++ on Debian/Ubuntu.',
      { cause: error },
    );
  }
}

export const faiss: typeof FaissNode = load();

export const Index: typeof FaissNode.Index = faiss.Index;
export const IndexFlatIP: typeof FaissNode.IndexFlatIP = faiss.IndexFlatIP;
export const IndexFlatL2: typeof FaissNode.IndexFlatL2 = faiss.IndexFlatL2;
export const MetricType: typeof FaissNode.MetricType = faiss.MetricType;
