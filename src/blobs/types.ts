// The blob store contract: immutable bytes named by their SHA-256, behind one interface that every
// backend (memory, filesystem, S3) implements and test/blobs/conformance.ts checks.

import type { BlobId } from './id.ts';

/** What a put accepts: one buffer, or chunks as they arrive (a Node Readable is one). */
export type BlobSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface PutOptions {
  /**
   * The id the caller claims for the bytes. When the bytes hash to anything else the put fails with
   * `hash_mismatch` and stores nothing. Without it the id is computed and returned.
   */
  expectedId?: BlobId;
  /** Refuse (`too_large`, nothing stored) once more than this many bytes arrive. */
  maxSize?: number;
  signal?: AbortSignal;
  /**
   * A hint for a put of one buffer: the blob is likely stored already (an incremental snapshot), so
   * look for it before writing. Without it a new blob is written at once, with no lookup.
   */
  probe?: boolean;
}

export interface PutResult {
  id: BlobId;
  size: number;
  /** False when the blob was already stored (puts are idempotent). */
  created: boolean;
}

/**
 * A byte range: `start` inclusive, `end` EXCLUSIVE (like `Uint8Array.slice`), both defaulting to the
 * whole blob. Ranges are strict: 0 <= start < end <= size, integers. A range that selects no byte
 * (including any range over an empty blob) is refused with status 416 (code
 * `requested_range_not_satisfiable`). The HTTP layer maps `bytes=a-b` (inclusive, clamped to the
 * size by RFC 9110) to `{start: a, end: b + 1}`.
 */
export interface ByteRange {
  start?: number;
  end?: number;
}

export interface GetOptions extends ByteRange {
  signal?: AbortSignal;
}

/**
 * An open read. Errors knowable up front (`not_found`, a bad range) reject `get()` itself, so a server
 * can pick its status before sending a byte; the bytes then stream by iterating this object (once).
 */
export interface BlobRead extends AsyncIterable<Uint8Array> {
  readonly id: BlobId;
  /** Size of the whole blob. */
  readonly size: number;
  /** The range delivered: [start, end). */
  readonly start: number;
  readonly end: number;
  /**
   * True when the bytes delivered are checked against the id: every full read (the stream errors
   * with `hash_mismatch` before its last chunk if they do not match), and ranged reads of blobs up to
   * the store's `rangeVerifyLimit` (read whole, verified, then sliced). Ranges of larger blobs are
   * served unverified — checking them would mean reading the whole blob per range — and are covered
   * by `verify()`/`scrub()`. Large files are trees of ≤ 1 MiB chunks, so file reads stay verified.
   */
  readonly verified: boolean;
}

export interface BlobStat {
  id: BlobId;
  size: number;
}

export interface ListOptions {
  /** Cursor: only ids sorting strictly after this one. */
  after?: BlobId;
  /** Page size, 1..10000; default 1000. */
  limit?: number;
}

export interface ListPage {
  /** Sorted ascending (byte order = string order for these ASCII ids), no duplicates. */
  ids: BlobId[];
  /** Present when more ids may follow: pass it as `after` for the next page. */
  next?: BlobId;
}

/**
 * A change, delivered in the order the store committed it (in this process).
 * `overflow` means the subscriber fell more than its buffer behind: the buffered events were dropped
 * and it should resynchronise by enumerating with `list()`; later events follow as usual.
 */
export type BlobEvent =
  | { type: 'added'; id: BlobId; size: number }
  | { type: 'removed'; id: BlobId; size?: number }
  | { type: 'overflow' };

export interface SubscribeOptions {
  /** Ends the subscription. */
  signal?: AbortSignal;
  /** Events buffered for a slow consumer before it gets `overflow` instead; default 1024. */
  bufferSize?: number;
}

export interface VerifyResult {
  id: BlobId;
  status: 'ok' | 'corrupt' | 'missing';
  /** Bytes read (the stored size). */
  size?: number;
}

export interface ScrubOptions {
  signal?: AbortSignal;
  /** Called after each blob is checked. */
  onProgress?: (progress: { checked: number; bytes: number; corrupt: number; last: VerifyResult }) => void;
}

export interface ScrubReport {
  checked: number;
  bytes: number;
  /** Ids whose stored bytes no longer hash to the id (or whose size changed), sorted. */
  corrupt: BlobId[];
}

/** Optional guarantees a backend declares; callers check them, never guess. */
export interface BlobCapabilities {
  /** Blobs outlive the process. */
  persistent: boolean;
  /** An acknowledged put survives a crash of the process and of the machine (fsync or remote storage). */
  durable: boolean;
  /** `get` reads a range without transferring the whole blob. */
  ranges: boolean;
  /** A blob appears under its id whole and verified, or not at all (never partial, even on a crash). */
  atomicPut: boolean;
  /**
   * Concurrent puts of one blob report `created: true` exactly once even across processes sharing the
   * storage (within one store object it is always exactly once).
   */
  exclusiveCreate: boolean;
}

export interface BlobStore {
  /** 'memory', 'fs', 's3'. */
  readonly backend: string;
  readonly capabilities: BlobCapabilities;
  /** Largest blob whose ranged reads are still verified (read whole, then sliced). */
  readonly rangeVerifyLimit: number;

  /**
   * Streams the bytes in, hashing as they arrive; the blob becomes visible only once complete and
   * verified. Chunks are read one after another and may be kept until written: do not reuse a
   * chunk's buffer before the put settles. Chunks may live in a SharedArrayBuffer (backends that
   * cannot send shared memory copy it).
   */
  put(source: BlobSource, options?: PutOptions): Promise<PutResult>;
  get(id: BlobId, options?: GetOptions): Promise<BlobRead>;
  /** One answer per id, in order (duplicates allowed): `null` for a missing blob. */
  stat(ids: readonly BlobId[]): Promise<Array<BlobStat | null>>;
  has(id: BlobId): Promise<boolean>;
  /**
   * Names a held blob for a new reference without its bytes (a write that attaches a blob the store
   * has): true when the store holds it, its age then renewed as storing the same bytes again renews
   * it, so gc's grace period spares it until that reference is written. False when it is not held.
   */
  reuse(id: BlobId): Promise<boolean>;
  /** True when the blob existed. */
  delete(id: BlobId): Promise<boolean>;
  list(options?: ListOptions): Promise<ListPage>;
  /** In-process change feed; starts with the changes committed after this call. */
  subscribe(options?: SubscribeOptions): AsyncIterableIterator<BlobEvent>;
  /** Reads the whole blob and checks it against its id. */
  verify(id: BlobId, options?: { signal?: AbortSignal }): Promise<VerifyResult>;
  /** Verifies every blob; corrupt ones are reported, never repaired or deleted. */
  scrub(options?: ScrubOptions): Promise<ScrubReport>;
  /** Ends subscriptions; later calls fail with `closed`. */
  close(): Promise<void>;
  /**
   * When blob `id` was last stored or reused (ms since the epoch), where the backend keeps that time
   * (fs: the file's; memory): gc's ages. Absent where it does not (S3, IndexedDB, a remote store).
   */
  modifiedAt?(id: BlobId): Promise<number>;
  /**
   * When this store object last stored `id` again or reused it, if it did lately: gc's ages where
   * the backend keeps no time of its own. Absent on a store that does not track it (a remote one).
   */
  renewedAt?(id: BlobId): number | undefined;
}
