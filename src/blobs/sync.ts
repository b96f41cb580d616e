// Blob sync between any two BlobStores (in-process or over HTTP, portable): enumerate the source by
// pages of ids, stat them on the target, copy what is missing (verified on both ends), then follow.

import { RefugeError } from '../errors/index.ts';
import type { BlobId } from './id.ts';
import type { BlobEvent, BlobStore } from './types.ts';

export interface SyncProgress {
  phase: 'enumerate' | 'follow' | 'done';
  /** Source ids enumerated (or announced by the feed). */
  listed: number;
  /** Of those, absent on the target when checked. */
  missing: number;
  copied: number;
  /** Bytes copied. */
  bytes: number;
  /** Blobs that could not be copied (see `failures`); a rerun retries them. */
  errors: number;
  /** Blobs deleted on the target (only with `mirrorDeletes`). */
  deleted: number;
}

export interface SyncFailure {
  id: BlobId;
  error: unknown;
}

export interface SyncResult extends SyncProgress {
  failures: SyncFailure[];
}

export interface SyncOptions {
  /** After the first pass, follow the source's change feed until `signal` aborts. Default false. */
  continuous?: boolean;
  /**
   * Ends the sync. A one-shot sync rejects with the signal's reason; a continuous one resolves with
   * its totals. Either way what was copied stays, and a rerun copies only what is still missing.
   */
  signal?: AbortSignal;
  /** Called after every change of the counters (and `failure` when one blob failed). */
  onProgress?: (progress: SyncProgress & { failure?: SyncFailure }) => void;
  /** Copies in flight at once; default 4. */
  concurrency?: number;
  /** Ids per page of the source's listing (and per `stat` on the target); default 1000. */
  pageSize?: number;
  /**
   * Also delete on the target what the source's feed reports removed. Default false: sync is additive
   * (a blob removed at the source stays on the target; the first pass never deletes anything).
   */
  mirrorDeletes?: boolean;
}

/** A bounded pool: `run` waits for a free slot, `idle` for every task to end. */
class Pool {
  #active = 0;
  #waiters: Array<() => void> = [];
  #idle: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  /** Resolves once `task` has started, with a promise of its end. */
  async run(task: () => Promise<void>): Promise<{ ended: Promise<void> }> {
    while (this.#active >= this.limit) await new Promise<void>((r) => this.#waiters.push(r));
    this.#active++;
    const ended = task().finally(() => {
      this.#active--;
      this.#waiters.shift()?.();
      if (this.#active === 0) for (const r of this.#idle.splice(0)) r();
    });
    return { ended };
  }

  idle(): Promise<void> {
    return this.#active === 0 ? Promise.resolve() : new Promise((r) => this.#idle.push(r));
  }
}

export async function syncBlobs(source: BlobStore, target: BlobStore, options: SyncOptions = {}): Promise<SyncResult> {
  const { continuous = false, signal, onProgress, mirrorDeletes = false } = options;
  const concurrency = options.concurrency ?? 4;
  const pageSize = options.pageSize ?? 1000;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RefugeError('bad_request', 'concurrency must be a positive integer');
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 10_000) throw new RefugeError('bad_request', 'pageSize must be from 1 to 10000');
  signal?.throwIfAborted();

  const result: SyncResult = { phase: 'enumerate', listed: 0, missing: 0, copied: 0, bytes: 0, errors: 0, deleted: 0, failures: [] };
  const report = (failure?: SyncFailure) => {
    if (!onProgress) return;
    const { failures: _, ...counts } = result;
    onProgress(failure ? { ...counts, failure } : counts);
  };
  const pool = new Pool(concurrency);
  /** Copies queued or under way, by id, with their end. */
  const inFlight = new Map<BlobId, Promise<void>>();
  const opts = signal ? { signal } : {};

  const copy = (id: BlobId) =>
    pool.run(async () => {
      try {
        const read = await source.get(id, opts);
        const put = await target.put(read, { ...opts, expectedId: id });
        result.copied++;
        result.bytes += put.size;
        report();
      } catch (error) {
        if (signal?.aborted) return;
        if (error instanceof RefugeError && error.code === 'not_found') return; // removed at the source meanwhile
        const failure = { id, error };
        result.errors++;
        result.failures.push(failure);
        report(failure);
      } finally {
        inFlight.delete(id);
      }
    });

  /** Stats `ids` on the target and queues the copies of those missing. */
  const sendMissing = async (ids: readonly BlobId[]) => {
    const todo = ids.filter((id) => !inFlight.has(id));
    if (todo.length === 0) return;
    const stats = await target.stat(todo);
    for (const [i, id] of todo.entries()) {
      if (stats[i] !== null || inFlight.has(id)) continue;
      signal?.throwIfAborted();
      result.missing++;
      let ended!: () => void;
      inFlight.set(id, new Promise<void>((r) => (ended = r)));
      void (await copy(id)).ended.then(ended);
    }
    report();
  };

  const enumerate = async () => {
    result.phase = 'enumerate';
    let after: BlobId | undefined;
    do {
      signal?.throwIfAborted();
      const page = await source.list(after === undefined ? { limit: pageSize } : { after, limit: pageSize });
      result.listed += page.ids.length;
      await sendMissing(page.ids);
      after = page.next;
    } while (after !== undefined);
  };

  // Subscribe before enumerating, so a blob added during the first pass is not missed.
  const feed: AsyncIterableIterator<BlobEvent> | undefined = continuous ? source.subscribe(signal ? { signal } : {}) : undefined;
  try {
    try {
      await enumerate();
      await pool.idle();
    } catch (err) {
      if (!(continuous && signal?.aborted)) throw err;
    }
    if (feed && !signal?.aborted) {
      result.phase = 'follow';
      report();
      for await (const event of feed) {
        if (event.type === 'overflow') {
          await enumerate(); // fell behind (or the source reset its log): re-list, then go on
        } else if (event.type === 'added') {
          result.listed++;
          await sendMissing([event.id]);
        } else if (mirrorDeletes) {
          await inFlight.get(event.id); // a copy under way lands first, then goes
          if (await target.delete(event.id)) {
            result.deleted++;
            report();
          }
        }
      }
      await pool.idle();
    }
  } catch (err) {
    await pool.idle(); // copies under way end (aborted or not) before the sync does
    if (continuous && signal?.aborted) return done();
    throw err;
  } finally {
    await feed?.return?.();
  }
  if (!continuous) signal?.throwIfAborted();
  return done();

  function done(): SyncResult {
    result.phase = 'done';
    report();
    return result;
  }
}
