// The storage engine contract: an ordered key/value store (bytewise order over UTF-8 keys) with
// atomic batches, range scans and read snapshots. Everything above storage sees only this.

export interface KvRange {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  reverse?: boolean;
  /** Maximum number of entries; omitted or negative means no limit. */
  limit?: number;
}

export type KvOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

export interface WriteOptions {
  /** When true the write is on stable storage before the promise resolves. */
  sync?: boolean;
}

export interface KvReader {
  get(key: string): Promise<string | undefined>;
  /** Present when the engine declares `getSync`: a point read without a thread-pool round trip. */
  getSync?(key: string): string | undefined;
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  /** Entries in key order, delivered in chunks so a caller can stream without one promise per entry. */
  scan(range: KvRange, chunkSize?: number): AsyncIterableIterator<Array<[string, string]>>;
  /** Keys only (cheaper: values are not copied). */
  scanKeys(range: KvRange, chunkSize?: number): AsyncIterableIterator<string[]>;
}

/**
 * A batch built op by op and written atomically later (LevelDB's WriteBatch): ops are copied to
 * the engine as they are added, so callers need not keep them. Later ops on a key win.
 */
export interface KvChain {
  put(key: string, value: string): void;
  del(key: string): void;
  /** Ops added so far. */
  readonly length: number;
  write(options?: WriteOptions): Promise<void>;
  /** Discards the ops without writing. */
  close(): Promise<void>;
}

export interface KvSnapshot extends KvReader {
  close(): Promise<void>;
}

/** Optional abilities an implementation declares; callers check them, never guess. */
export interface KvCapabilities {
  /** Data outlives the process. */
  persistent: boolean;
  /** `sync: true` reaches stable storage (fsync). */
  syncWrites: boolean;
  /** `getSync` answers without a promise. */
  getSync: boolean;
  /** `approximateSize` reports bytes on disk for a range. */
  approximateSize: boolean;
  /** `diskSize` reports the whole store's bytes on disk. */
  diskSize: boolean;
  /** `compactRange` reclaims space now. */
  compactRange: boolean;
}

export interface KvStore extends KvReader {
  readonly engine: string;
  readonly capabilities: KvCapabilities;
  /**
   * Set when opening recovered the store by dropping data its own checks found damaged (LevelDB
   * skips a corrupt block of its log, and says so in its LOG file): what the engine reported. What
   * a caller keeps about the data (counts) no longer holds and is to be counted again.
   */
  readonly recoveryLoss?: string;
  /** Atomic: all changes or none. A Map is key -> value, null meaning delete. */
  batch(ops: readonly KvOp[] | ReadonlyMap<string, string | null>, options?: WriteOptions): Promise<void>;
  /** A consistent read view as of now; close it when done. */
  snapshot(): KvSnapshot;
  /** A new atomic batch to fill op by op. */
  chain(): KvChain;
  getSync?(key: string): string | undefined;
  approximateSize?(range: { gte: string; lt: string }): Promise<number>;
  /** Bytes the store takes on disk now, logs included (present when `capabilities.diskSize`). */
  diskSize?(): Promise<number>;
  compactRange?(range: { gte: string; lt: string }): Promise<void>;
  /**
   * Closes and opens the store again where it is, as the same object: what brings back an engine
   * that refuses every write after one failed (LevelDB after a full disk). Snapshots open at the
   * time fail; the store's own reads under way or begun meanwhile wait and answer (a scan goes on
   * after the last entry it gave); `recoveryLoss` tells of this open. Present only where an engine can.
   * Fails with `unavailable`, having closed nothing, when it cannot open again yet (no room).
   */
  reopen?(): Promise<void>;
  /** Deletes every entry in the range (all entries when omitted). */
  clear(range?: KvRange): Promise<void>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** Where the store lives; ignored by engines that are not persistent. */
  location: string;
  /**
   * The store was made before (a database the node lists): a persistent engine that finds none
   * there fails instead of making a new, empty one, which would silently lose every document and
   * start the sequence again at 0 under peers' checkpoints.
   */
  mustExist?: boolean;
}

/** A storage engine opens and destroys stores by location. */
export interface StorageEngine {
  readonly name: string;
  open(options: OpenStoreOptions): Promise<KvStore>;
  destroy(location: string): Promise<void>;
}
