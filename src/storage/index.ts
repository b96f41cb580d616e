// Storage: the ordered key/value engine interface, the Level adapter and the portable memory engine.
// Disk engines live at the edges (src/storage-node for LevelDB) so this folder runs in a browser.

export type {
  KvCapabilities,
  KvChain,
  KvOp,
  KvRange,
  KvReader,
  KvSnapshot,
  KvStore,
  OpenStoreOptions,
  StorageEngine,
  WriteOptions,
} from './types.ts';
export { LevelKvStore, type NativeBatchOps } from './level-store.ts';
export { memoryEngine } from './memory.ts';
export { collect, inRange, prefixRange } from './ranges.ts';
