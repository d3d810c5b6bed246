/** The FAISS health check the hub's status reports: proves the addon loads and answers. */
import { IndexFlatIP } from './faiss';

/** Proves FAISS loads and answers by indexing two vectors and finding the nearer one; returns a status line. */
export function checkVectorIndex(): string {
  const index = new IndexFlatIP(2);
  index.add([1, 0, 0, 1]);
  const { labels } = index.search([0.9, 0.1], 1);
  if (labels[0] !== 0) throw new Error(`FAISS answered ${labels[0]} where 0 was expected`);
  return 'FAISS loaded (inner-product search answers)';
}
