// The portable face of the blob store (Node and browsers): ids, the interface, the memory and
// IndexedDB backends.
// Node backends (filesystem, S3) and openBlobStore live in index.ts.

export * from './id.ts';
export type * from './types.ts';
export type { Hasher, HasherFactory } from './hash.ts';
export { portableSha256 } from './hash.ts';
export { MemoryBlobStore } from './memory.ts';
export { IndexedDbBlobStore, type IndexedDbBlobOptions } from './indexeddb.ts';
export { BaseBlobStore, DEFAULT_RANGE_VERIFY_LIMIT, MAX_LIST_LIMIT, type BaseStoreOptions } from './base.ts';
export { collectBytes } from './chunks.ts';
/** Serialises work per key (a blob id): the mesh holds one transfer of a blob at a time. */
export { KeyedLock } from './keyed-lock.ts';
export type { AppendResult, BlobStagingOptions, StagedInfo, StagingArea } from './staging-area.ts';
