// What every backend shares: argument checks, the closed state, verified reads and ranges, the
// change feed, per-id serialisation, verify and scrub. A backend supplies five storage primitives.

import { RefugeError, badRequest } from '../errors/index.ts';
import { Metered, checkExpected, collectBytes, sliceBytes, verifyChunks } from './chunks.ts';
import { blobNotFound, storeClosed } from './errors.ts';
import { BlobFeed } from './feed.ts';
import type { HasherFactory } from './hash.ts';
import { blobIdFromDigest, digestOfBlobId, parseBlobId, type BlobId } from './id.ts';
import { KeyedLock } from './keyed-lock.ts';
import { resolveRange } from './range.ts';
import type {
  BlobCapabilities,
  BlobEvent,
  BlobRead,
  BlobSource,
  BlobStat,
  BlobStore,
  GetOptions,
  ListOptions,
  ListPage,
  PutOptions,
  PutResult,
  ScrubOptions,
  ScrubReport,
  SubscribeOptions,
  VerifyResult,
} from './types.ts';
import { scrubByVerifying } from './scrub.ts';

export const DEFAULT_LIST_LIMIT = 1000;
export const MAX_LIST_LIMIT = 10_000;
/** Covers every content-defined chunk (1 MiB max) with room to spare; reading 4 MiB costs milliseconds. */
export const DEFAULT_RANGE_VERIFY_LIMIT = 4 * 1024 * 1024;
/**
 * Renewals (renewedAt) are kept a day, a million at the most: a writer names what it reused long
 * before that (one that takes longer, a snapshot, holds gc off).
 */
const RENEWAL_KEPT_MS = 24 * 3600_000;
const MAX_RENEWALS = 1_000_000;

export interface BaseStoreOptions {
  /** The SHA-256 implementation (default: the platform's fastest the backend knows). */
  hasher?: HasherFactory;
  /** Ranged reads of blobs up to this size are verified (read whole, then sliced). */
  rangeVerifyLimit?: number;
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export abstract class BaseBlobStore implements BlobStore {
  abstract readonly backend: string;
  abstract readonly capabilities: BlobCapabilities;
  readonly rangeVerifyLimit: number;
  protected readonly hasher: HasherFactory;
  protected readonly locks = new KeyedLock();
  protected readonly feed = new BlobFeed();
  /** How many `sizeOf` calls `stat` runs at once. */
  protected statConcurrency = 16;
  #closed = false;
  /**
   * When this process stored again or reused a blob that was there already (ms since the epoch).
   * gc's ages take it where a backend keeps no time of its own (S3, IndexedDB): an old blob a
   * writer reuses is young again until its reference is written, whatever the backend.
   */
  readonly #renewed = new Map<BlobId, number>();

  constructor(options: BaseStoreOptions & { hasher: HasherFactory }) {
    this.hasher = options.hasher;
    const limit = options.rangeVerifyLimit ?? DEFAULT_RANGE_VERIFY_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 0) throw badRequest('rangeVerifyLimit must be a non-negative integer');
    this.rangeVerifyLimit = limit;
  }

  // ---- the backend's primitives ----

  /** The stored size, or null when the blob is absent. */
  protected abstract sizeOf(id: BlobId): Promise<number | null>;
  /** The stored bytes [start, end), unverified; `not_found` if the blob vanished meanwhile. */
  protected abstract readRange(id: BlobId, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /**
   * Consumes `source` (which hashes and counts as it is read), then — only if `checkExpected`
   * passes — commits it under its id via `commit`. Must leave nothing visible on failure.
   */
  protected abstract write(source: Metered, expected: BlobId | undefined, options: PutOptions): Promise<PutResult>;
  /** Deletes the blob; its size when it existed (undefined if unknown), null when it did not. */
  protected abstract remove(id: BlobId): Promise<number | undefined | null>;
  /** Up to `limit` ids sorting after `after`, and whether more follow. */
  protected abstract listPage(after: BlobId | undefined, limit: number): Promise<{ ids: BlobId[]; more: boolean }>;
  protected async closeBackend(): Promise<void> {}
  /**
   * Stores bytes already in memory that this store has just hashed to `id` itself (so no second
   * pass). The default streams them through `write`, with `id` claimed so backends that can write
   * straight under it (S3 multipart) do.
   */
  protected writeBytes(bytes: Uint8Array, id: BlobId, options: PutOptions): Promise<PutResult> {
    return this.write(Metered.ofHashed(bytes, digestOfBlobId(id), options), id, options);
  }

  // ---- helpers for backends ----

  protected assertOpen(): void {
    if (this.#closed) throw storeClosed(this.backend);
  }

  /**
   * Runs the commit of blob `id` under its lock; `commitFn` reports whether it created the blob.
   * The `added` event goes out inside the lock, so events of one id follow the commit order.
   */
  protected async commit(id: BlobId, size: number, commitFn: () => Promise<boolean>): Promise<PutResult> {
    return this.locks.run(id, async () => {
      const created = await commitFn();
      if (created) this.feed.emit({ type: 'added', id, size });
      else this.renew(id);
      return { id, size, created };
    });
  }

  /** When this process last stored `id` again or reused it, if it did within the last day (gc's ages). */
  renewedAt(id: BlobId): number | undefined {
    return this.#renewed.get(id);
  }

  /** Records that `id`, already there, was just stored again or reused (renewedAt). */
  protected renew(id: BlobId): void {
    const now = Date.now();
    // Kept in the order renewed (moved to the end): the oldest go first, once older than a day or
    // past the cap (forgetting one only makes a blob look as old as its backend says).
    this.#renewed.delete(id);
    this.#renewed.set(id, now);
    for (const [k, t] of this.#renewed) {
      if (now - t <= RENEWAL_KEPT_MS && this.#renewed.size <= MAX_RENEWALS) break;
      this.#renewed.delete(k);
    }
  }

  /**
   * Marks an existing blob as just stored again. gc spares blobs younger than its grace period, so
   * a writer that reuses an old unreferenced blob (a snapshot, an attachment) is safe from a sweep
   * until its reference is written. Backends that track ages override this.
   */
  protected async touch(_id: BlobId): Promise<void> {}

  // ---- the interface ----

  async put(source: BlobSource, options: PutOptions = {}): Promise<PutResult> {
    try {
      return await this.putChecked(source, options);
    } catch (err) {
      throw storageFull(err) ? new RefugeError('internal', `the blob store is out of space (${(err as { code: string }).code}): free some, then write again`, { cause: err }) : err;
    }
  }

  private async putChecked(source: BlobSource, options: PutOptions): Promise<PutResult> {
    this.assertOpen();
    const expected = options.expectedId === undefined ? undefined : parseBlobId(options.expectedId);
    if (options.maxSize !== undefined && (!Number.isSafeInteger(options.maxSize) || options.maxSize < 0)) {
      throw badRequest('maxSize must be a non-negative integer');
    }
    if (source instanceof Uint8Array) {
      options.signal?.throwIfAborted();
      if (options.maxSize !== undefined && source.length > options.maxSize) {
        throw new RefugeError('too_large', `blob exceeds the ${options.maxSize}-byte limit`);
      }
      return this.putBytes(source, expected, options);
    }
    // Written even when the claimed id is stored already: a delete or a gc sweep during a long upload
    // must not leave a put that answered "there" with nothing there, and a damaged copy is replaced.
    return this.write(new Metered(source, this.hasher(), options), expected, options);
  }

  /**
   * One buffer: hashed once up front, so the id is known before any I/O. A claimed id, or the
   * caller's `probe` hint, looks for the blob first (a stat instead of a write when it is there).
   * A backend may take the whole step over (the fs store hands it to its writer thread).
   */
  protected async putBytes(bytes: Uint8Array, expected: BlobId | undefined, options: PutOptions): Promise<PutResult> {
    const hasher = this.hasher();
    hasher.update(bytes);
    const id = blobIdFromDigest(hasher.digest());
    checkExpected(expected, id);
    if ((expected !== undefined || options.probe === true) && (await this.sizeOf(id)) !== null) {
      this.renew(id);
      await this.touch(id);
      return { id, size: bytes.length, created: false };
    }
    return this.writeBytes(bytes, id, options);
  }

  async get(id: BlobId, options: GetOptions = {}): Promise<BlobRead> {
    this.assertOpen();
    parseBlobId(id);
    const size = await this.sizeOf(id);
    if (size === null) throw blobNotFound(id);
    const { start, end, full } = resolveRange(options, size);
    const { signal } = options;
    let verified = true;
    let open: () => AsyncIterator<Uint8Array>;
    if (full) {
      open = () => verifyChunks(this.readRange(id, 0, size, signal), id, size, this.hasher())[Symbol.asyncIterator]();
    } else if (size <= this.rangeVerifyLimit) {
      // Small enough to check whole before a single byte of the range goes out.
      const whole = () => collectBytes(verifyChunks(this.readRange(id, 0, size, signal), id, size, this.hasher()));
      open = () => (async function* () {
        yield* sliceBytes(await whole(), start, end);
      })();
    } else {
      verified = false;
      open = () => this.readRange(id, start, end, signal)[Symbol.asyncIterator]();
    }
    let opened = false;
    return {
      id,
      size,
      start,
      end,
      verified,
      [Symbol.asyncIterator]() {
        if (opened) throw new RefugeError('bad_request', 'a blob read can be iterated only once');
        opened = true;
        return open();
      },
    };
  }

  async stat(ids: readonly BlobId[]): Promise<Array<BlobStat | null>> {
    this.assertOpen();
    if (!Array.isArray(ids)) throw badRequest('stat takes an array of blob ids');
    for (const id of ids) parseBlobId(id);
    return mapLimit(ids, this.statConcurrency, async (id) => {
      const size = await this.sizeOf(id);
      return size === null ? null : { id, size };
    });
  }

  async has(id: BlobId): Promise<boolean> {
    this.assertOpen();
    return (await this.sizeOf(parseBlobId(id))) !== null;
  }

  async reuse(id: BlobId): Promise<boolean> {
    this.assertOpen();
    parseBlobId(id);
    // Under the blob's lock: a delete (gc's sweep) either removed it first, or comes after the touch.
    return this.locks.run(id, async () => {
      if ((await this.sizeOf(id)) === null) return false;
      this.renew(id);
      await this.touch(id);
      return true;
    });
  }

  async delete(id: BlobId): Promise<boolean> {
    this.assertOpen();
    parseBlobId(id);
    return this.locks.run(id, async () => {
      const size = await this.remove(id);
      this.#renewed.delete(id);
      if (size === null) return false;
      const event: BlobEvent = size === undefined ? { type: 'removed', id } : { type: 'removed', id, size };
      this.feed.emit(event);
      return true;
    });
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    this.assertOpen();
    const after = options.after === undefined ? undefined : parseBlobId(options.after);
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw badRequest(`list limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
    }
    const { ids, more } = await this.listPage(after, limit);
    const last = ids.at(-1);
    return more && last !== undefined ? { ids, next: last } : { ids };
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterableIterator<BlobEvent> {
    this.assertOpen();
    return this.feed.subscribe(options);
  }

  async verify(id: BlobId, options: { signal?: AbortSignal } = {}): Promise<VerifyResult> {
    this.assertOpen();
    parseBlobId(id);
    const size = await this.sizeOf(id);
    if (size === null) return { id, status: 'missing' };
    try {
      for await (const _ of verifyChunks(this.readRange(id, 0, size, options.signal), id, size, this.hasher()));
      return { id, status: 'ok', size };
    } catch (err) {
      if (err instanceof RefugeError && err.code === 'hash_mismatch') return { id, status: 'corrupt', size };
      if (err instanceof RefugeError && err.code === 'not_found') return { id, status: 'missing' };
      throw err;
    }
  }

  async scrub(options: ScrubOptions = {}): Promise<ScrubReport> {
    this.assertOpen();
    return scrubByVerifying(this, options);
  }


  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.feed.endAll();
    await this.closeBackend();
  }
}

/** A write refused for lack of room (disk or quota): the store's own error, with a stable code, not a raw errno. */
function storageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
