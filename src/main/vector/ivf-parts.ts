/** Loading an IVF index's part files (written by the build child) into one FAISS index and its coarse mirror. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CoarseLists } from './coarse';
import { parseIvfPart, type IvfPartContents } from './faiss-format';
import { Index } from './faiss';
import { parseIvfHeader } from './faiss-format';
import { crc32, type IvfMeta, type IvfPartMeta } from './files';
import { collectGarbage, tick } from './state';
import type { VectorStore } from './store';

/** How long one step of mirroring a loaded IVF part's lists for near-duplicate checks may hold the event loop. */
const MIRROR_STEP_MS = 4;

/** Reads an IVF part file whole and checks it against its record (checksum, size, counts). */
export async function readPart(file: string, part: IvfPartMeta, ivf: Pick<IvfMeta, 'nlist' | 'nprobe'>, dimension: number): Promise<Buffer> {
  const name = path.basename(file);
  const bytes = await fsp.readFile(file);
  if (bytes.length !== part.bytes || crc32(bytes) !== part.crc32) throw new Error(`${name} checksum mismatch (damaged)`);
  const head = parseIvfHeader(bytes);
  if (!head || head.dimension !== dimension || head.ntotal !== part.count || head.nlist !== ivf.nlist || head.nprobe !== ivf.nprobe) {
    throw new Error(`${name} does not match the header`);
  }
  return bytes;
}

export interface LoadedParts {
  index: Index | null;
  coarse: CoarseLists | null;
}

/**
 * Merges a part into the index being assembled (or makes it the index), makes the coarse mirror from the first part's
 * centroids, and returns the part's lists for mirrorLists. FAISS reads the part from its file: faiss-node's fromBuffer
 * copies the bytes twice and never frees one copy. The part's own index object is left unreferenced.
 */
export async function loadPart(
  loaded: LoadedParts,
  file: string,
  bytes: Buffer,
  store: VectorStore,
  nlist: number,
  blocking: <T>(fn: () => T) => T = (fn) => fn(),
): Promise<IvfPartContents['lists']> {
  const contents = parseIvfPart(bytes, nlist, store.dimension);
  loaded.coarse ??= await CoarseLists.create(nlist, store.dimension, contents.centroids);
  blocking(() => {
    const part = Index.read(file);
    if (!loaded.index) loaded.index = part;
    else loaded.index.mergeFrom(part);
  });
  return contents.lists;
}

/**
 * Records a part's lists in the coarse mirror (quantising each vector), yielding to the event loop every few
 * milliseconds: a whole part at once (~8,000 vectors) held it for ~60 ms. `onStep` hears how long each step ran.
 */
export async function mirrorLists(coarse: CoarseLists, lists: IvfPartContents['lists'], part: Buffer, onStep?: (ms: number) => void): Promise<void> {
  await tick(); // the part was just merged, synchronously: let the event loop run first
  let started = performance.now();
  for (const { list, positions, vectorsAt } of lists) {
    coarse.addToList(list, positions, part.subarray(vectorsAt, vectorsAt + positions.length * coarse.dimension * 4));
    const ran = performance.now() - started;
    if (ran >= MIRROR_STEP_MS) {
      onStep?.(ran);
      await tick();
      started = performance.now();
    }
  }
  onStep?.(performance.now() - started);
}

/**
 * After merging a part: the part's index object still holds its (now empty) lists' memory until it is collected,
 * so collect now rather than holding a second copy of the whole index by the end. Then yield.
 */
export async function releasePart(releaseMemory: boolean): Promise<void> {
  if (releaseMemory) collectGarbage();
  await tick();
}
