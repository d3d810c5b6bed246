/** Vector search: the FAISS-backed vector index (one per embedding model) and the FAISS health check. */
export { VectorIndex } from './vector-index';
export type { Hit, VectorIndexEvent, VectorIndexKind, VectorIndexOptions, VectorIndexStats, VectorItem } from './types';
export { DEFAULT_TUNING, type VectorIndexTuning } from './tuning';
export { checkVectorIndex } from './health';
