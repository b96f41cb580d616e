// The node's portable face (Node and browsers): a catalog of databases on any StorageEngine, one
// blob store, the node key, refs and pins. openNode() (node/index.ts) is the Node way to make one
// on a data directory; a browser makes one on IndexedDB (see the mesh's browser peer).

export { RefugeNode, type DbLease } from './refuge-node.ts';
export { DEFAULT_MAX_OPEN_DBS, type NodeOptions } from './node-options.ts';
export type { AutoCompactionOptions } from './auto-compaction.ts';
export type { AutoBlobGcOptions, AutoBlobGcStatus } from './auto-blob-gc.ts';
export { UPDATED_DELAY_MS, type DbUpdateRow, type DbUpdateType, type DbUpdatesOptions } from './db-updates.ts';
export { derivedKey, MAX_PBKDF2_ITERATIONS, PBKDF2_ITERATIONS, USER_PREFIX } from './user-passwords.ts';
export { isPublicDb } from './security-object.ts';
