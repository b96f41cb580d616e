// Reads from any abstract-level database as KvReader: point gets, chunked range scans and snapshots,
// shared by the store itself (level-store.ts) and the snapshots it hands out.

import type { AbstractLevel, AbstractSnapshot } from 'abstract-level';
import { wrapFailure } from './level-checks.ts';
import type { KvRange, KvSnapshot } from './types.ts';

export type Db = AbstractLevel<any, string, string>;

export const DEFAULT_CHUNK = 256;

export function levelRange(range: KvRange): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (range.gt !== undefined) out.gt = range.gt;
  if (range.gte !== undefined) out.gte = range.gte;
  if (range.lt !== undefined) out.lt = range.lt;
  if (range.lte !== undefined) out.lte = range.lte;
  if (range.reverse) out.reverse = true;
  out.limit = range.limit === undefined || range.limit < 0 ? -1 : range.limit;
  return out;
}

function chunk(size: number | undefined): number {
  return size !== undefined && Number.isFinite(size) && size >= 1 ? Math.floor(size) : DEFAULT_CHUNK;
}

/** Whether the empty key lies in the range (abstract-level: gte wins over gt, lte over lt). */
export function admitsEmptyKey(range: KvRange): boolean {
  if (range.gte === undefined && range.gt !== undefined) return false;
  if (range.gte !== undefined && range.gte !== '') return false;
  return range.lte !== undefined || range.lt !== '';
}

/**
 * A store's reopens (KvStore.reopen) as its reads see them. Closing the engine fails whatever read
 * is under way, and a read begun meanwhile: such a read is made again once storage is open, and a
 * scan goes on after the last entry it gave, so a reopen costs a reader nothing but a wait.
 */
export class ReopenWatch {
  /** Counts reopens begun. */
  private epoch = 0;
  private running: Promise<void> | undefined;

  async run(reopen: () => Promise<void>): Promise<void> {
    this.epoch++;
    const p = reopen();
    this.running = p;
    try {
      await p;
    } finally {
      if (this.running === p) this.running = undefined;
    }
  }

  /** What a read notes as it begins (see mayRetry). */
  get now(): number {
    return this.epoch;
  }

  /**
   * For a read begun at `since` that failed: waits out a reopen under way, and answers whether one
   * runs or ran since the read began (then the failure may be the reopen's: the read is made again).
   */
  async mayRetry(since: number): Promise<boolean> {
    if (this.epoch === since && this.running === undefined) return false;
    await this.running?.catch(() => undefined);
    return true;
  }
}

/**
 * Up to this many keys are read synchronously where the engine can. classic-level's `getMany`
 * costs ~40 µs of CPU a call plus ~3.3 a key; reading here, ~2.5 a key (16 keys: 94 µs against 41,
 * `.tmp/getmany-micro.ts`), for a wait of the event loop still short. A replication's small
 * `_bulk_get`s and `_revs_diff`s and its checkpoint reads are all such reads.
 */
const FEW_KEYS = 16;

export class LevelReader {
  /** The reopen the snapshot was taken after (see outlived). */
  private snapEpoch: number;
  /** The engine reads a key without the thread pool (classic-level, memory-level). */
  private readonly syncReads: boolean;
  /** readOptions' object for the current snapshot. */
  private snapOptions: { snapshot: AbstractSnapshot } | undefined;
  /** A snapshot's owner closed it. */
  protected released = false;

  constructor(
    protected readonly db: Db,
    protected snap: AbstractSnapshot | undefined,
    /** The store's reopens, which its reads and snapshots outlive. */
    protected readonly watch?: ReopenWatch,
  ) {
    this.snapEpoch = watch?.now ?? 0;
    this.syncReads = (db.supports as { getSync?: boolean }).getSync === true;
  }

  get(key: string): Promise<string | undefined> {
    if (this.syncReads) return this.read('get', async () => this.getNow(key));
    return this.read('get', () => {
      const o = this.readOptions();
      return o ? this.db.get(key, o) : this.db.get(key);
    });
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    if (this.syncReads && keys.length <= FEW_KEYS) return this.read('getMany', async () => keys.map((key) => this.getNow(key)));
    return this.read('getMany', () => {
      const o = this.readOptions();
      return o ? this.db.getMany(keys as string[], o) : this.db.getMany(keys as string[]);
    });
  }

  private getNow(key: string): string | undefined {
    const o = this.readOptions();
    return o ? this.db.getSync(key, o) : this.db.getSync(key);
  }

  /**
   * Read at the snapshot, if any: the current one, which a reopen may have replaced (outlived).
   * None without one, and made once per snapshot, naming the encodings where they are plain utf8:
   * abstract-level copies any other options object on every read (a read at a snapshot took 1.75
   * µs against 0.47, `.tmp/getsync-opts.ts`).
   */
  private readOptions(): { snapshot: AbstractSnapshot } | undefined {
    if (this.snap === undefined) return undefined;
    if (this.snapOptions?.snapshot !== this.snap) this.snapOptions = { snapshot: this.snap, ...plainFormats(this.db) };
    return this.snapOptions;
  }

  private async read<T>(what: string, op: () => Promise<T>): Promise<T> {
    const since = this.watch?.now ?? 0;
    try {
      return await op();
    } catch (err) {
      if (!(await this.outlived(since))) throw wrapFailure(err, what);
    }
    try {
      return await op();
    } catch (err) {
      throw wrapFailure(err, what);
    }
  }

  /**
   * For a read begun at `since` that failed: true when a reopen ran since (see ReopenWatch), once
   * it is over. A snapshot the reopen ended is replaced by one taken now: the reader goes on with
   * storage as it stands after the reopen (what a failed write left, and writes since), not the
   * view it began with, which the engine no longer has.
   */
  private outlived = async (since: number): Promise<boolean> => {
    const watch = this.watch;
    if (!watch || !(await watch.mayRetry(since))) return false;
    // A snapshot its owner closed meanwhile stays closed: a new one would be left open by nobody.
    if (this.snap && this.snapEpoch !== watch.now && !this.released) {
      this.snapEpoch = watch.now;
      try {
        this.snap = this.db.snapshot();
      } catch {
        // Storage did not open again: the read made again fails as closed.
      }
    }
    return true;
  };

  scan(range: KvRange, chunkSize = DEFAULT_CHUNK): AsyncIterableIterator<Array<[string, string]>> {
    const open = (r: KvRange) => this.db.iterator(this.iteratorOptions(r));
    return readAhead(open, range, chunk(chunkSize), (entry) => (entry as [string, string])[0], this.watch, this.outlived) as AsyncIterableIterator<Array<[string, string]>>;
  }

  scanKeys(range: KvRange, chunkSize = DEFAULT_CHUNK): AsyncIterableIterator<string[]> {
    const open = (r: KvRange) => this.db.keys(this.iteratorOptions(r));
    return readAhead(open, range, chunk(chunkSize), (key) => key as string, this.watch, this.outlived) as AsyncIterableIterator<string[]>;
  }

  private iteratorOptions(range: KvRange): Record<string, unknown> {
    const opts = levelRange(range);
    if (this.snap) opts.snapshot = this.snap;
    return opts;
  }
}

/**
 * The encodings of `db` as a read's options name them so that abstract-level takes the options as
 * given (their formats), when they are plain utf8; none otherwise (the memory engine orders keys by
 * an encoding of its own, which a named format would bypass).
 */
function plainFormats(db: Db): { keyEncoding?: 'utf8'; valueEncoding?: 'utf8' } {
  const plain = db.keyEncoding().name === 'utf8' && db.valueEncoding().name === 'utf8';
  return plain ? { keyEncoding: 'utf8', valueEncoding: 'utf8' } : {};
}

/** The rest of `range` once `given` entries ending at `lastKey` were read from it. */
function rangeAfter(range: KvRange, lastKey: string, given: number): KvRange {
  const rest: KvRange = { ...range };
  if (range.reverse) {
    delete rest.lte;
    rest.lt = lastKey;
  } else {
    delete rest.gte;
    rest.gt = lastKey;
  }
  if (range.limit !== undefined && range.limit >= 0) rest.limit = range.limit - given;
  return rest;
}

/** What scan and scanKeys need of an abstract-level entry or key iterator. */
interface ChunkIterator {
  nextv(size: number): Promise<unknown[]>;
  close(): Promise<void>;
}

/**
 * `p`, marked handled: a read ahead that fails while its caller is between chunks (a snapshot or
 * the store closed meanwhile) is an error of the next chunk, not an unhandled rejection that
 * would end the process. Awaiting `p` still throws it.
 */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * An iterator's chunks, each next one read (on the engine's thread) while the caller works on this
 * one. Failed by a reopen of the store (see ReopenWatch), it goes on from after the last entry given.
 */
async function* readAhead(
  open: (range: KvRange) => ChunkIterator,
  range: KvRange,
  size: number,
  keyOf: (item: unknown) => string,
  watch: ReopenWatch | undefined,
  outlived: (since: number) => Promise<boolean>,
): AsyncIterableIterator<unknown[]> {
  let it: ChunkIterator | undefined;
  let ahead: Promise<unknown[]> | undefined;
  let given = 0;
  let lastKey: string | undefined;
  let since = watch?.now ?? 0;
  const start = () => {
    since = watch?.now ?? 0;
    it = open(lastKey === undefined ? range : rangeAfter(range, lastKey, given));
    ahead = handled(it.nextv(size));
  };
  try {
    if (range.limit === 0) return;
    for (;;) {
      let items: unknown[];
      try {
        if (ahead === undefined) start();
        items = await ahead!;
      } catch (err) {
        ahead = undefined;
        if (!(await outlived(since))) throw err;
        await it?.close().catch(() => undefined);
        it = undefined;
        if (range.limit !== undefined && range.limit >= 0 && given >= range.limit) return;
        continue;
      }
      if (items.length === 0) return;
      given += items.length;
      lastKey = keyOf(items[items.length - 1]);
      ahead = handled(it!.nextv(size));
      yield items;
    }
  } catch (err) {
    throw wrapFailure(err, 'scan');
  } finally {
    // A caller that stops early leaves a read in flight: it ends before the iterator closes.
    await ahead?.catch(() => undefined);
    await it?.close();
  }
}

export class LevelSnapshot extends LevelReader implements KvSnapshot {
  async close(): Promise<void> {
    this.released = true;
    await this.snap!.close();
  }
}
