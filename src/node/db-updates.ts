// CouchDB's `_db_updates`: a durable, node-wide feed of databases created, updated and deleted. One
// entry per (database, event type) at its latest sequence, as a database's changes keep one per
// document, so the log stays as small as the set of databases however busy they are.

import { CommitSignal, liveChanges } from '../documents/index.ts';
import type { KvOp, KvStore } from '../storage/index.ts';

export type DbUpdateType = 'created' | 'updated' | 'deleted';

export interface DbUpdateRow {
  seq: number;
  dbName: string;
  type: DbUpdateType;
}

export interface DbUpdatesOptions {
  since?: number;
  limit?: number;
  descending?: boolean;
}

/** `u!<seq>` -> `{"db","type"}`: the log, in sequence order. */
const LOG = 'u!';
/** `ul!<type>:<db>` -> seq: where each (database, type) entry is now, so its older one goes. */
const LATEST = 'ul!';
const SEQ_KEY = 'u#';
const CATALOG_PREFIX = 'db!';
/**
 * Writes to a database are reported at most this often (CouchDB batches them too): a busy database
 * costs the catalog one small write per interval, not one per document.
 */
export const UPDATED_DELAY_MS = 250;

const logKey = (seq: number) => LOG + String(seq).padStart(16, '0');

export class DbUpdates {
  /** Signalled after each write to the log: live feeds wake on it. */
  readonly signal = new CommitSignal();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly dirty = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    private readonly catalog: KvStore,
    private readonly sync: boolean,
    private seq: number,
  ) {}

  static async open(catalog: KvStore, sync: boolean): Promise<DbUpdates> {
    const stored = await catalog.get(SEQ_KEY);
    return new DbUpdates(catalog, sync, stored === undefined ? 0 : Number(stored));
  }

  get currentSeq(): number {
    return this.seq;
  }

  /**
   * Writes `ops` (a database's creation or deletion in the catalog) and the event in one atomic
   * batch: the feed never misses or invents a creation or deletion.
   */
  record(type: Exclude<DbUpdateType, 'updated'>, dbName: string, ops: readonly KvOp[]): Promise<void> {
    if (type === 'deleted') this.dirty.delete(dbName);
    return this.serialized(async () => this.write([[type, dbName]], ops));
  }

  /** A commit in `dbName`: reported as `updated` within UPDATED_DELAY_MS. */
  touched(dbName: string): void {
    this.dirty.add(dbName);
    if (this.timer === undefined) {
      // Not unref'd: a program that wrote and waits on the feed must see its `updated` row.
      this.timer = setTimeout(() => void this.flush().catch(() => undefined), UPDATED_DELAY_MS);
    }
  }

  /** Writes the pending `updated` events now (close calls it; a failure leaves them pending). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.serialized(async () => {
      const names = [...this.dirty];
      this.dirty.clear();
      if (names.length === 0) return;
      // A database deleted since its last write gets no `updated` after its `deleted`.
      const listed = await this.catalog.getMany(names.map((n) => CATALOG_PREFIX + n));
      const live = names.filter((_, i) => listed[i] !== undefined);
      try {
        await this.write(live.map((n) => ['updated', n] as [DbUpdateType, string]), []);
      } catch (err) {
        for (const n of live) this.dirty.add(n);
        throw err;
      }
    });
  }

  /** Rows after `since` (exclusive), oldest first unless descending. */
  async read(options: DbUpdatesOptions = {}): Promise<{ results: DbUpdateRow[]; lastSeq: number }> {
    const since = options.since ?? 0;
    const upTo = this.seq;
    const limit = options.limit ?? Infinity;
    const results: DbUpdateRow[] = [];
    if (limit <= 0) return { results, lastSeq: since };
    const range = options.descending
      ? { gt: LOG, lte: logKey(upTo), reverse: true }
      : { gt: logKey(since), lte: logKey(upTo) };
    for await (const chunk of this.catalog.scan(range, 256)) {
      for (const [key, value] of chunk) {
        const { db, type } = JSON.parse(value) as { db: string; type: DbUpdateType };
        results.push({ seq: Number(key.slice(LOG.length)), dbName: db, type });
        if (results.length >= limit) break;
      }
      if (results.length >= limit) break;
    }
    const lastSeq = options.descending ? (results.at(-1)?.seq ?? since) : results.length >= limit ? results.at(-1)!.seq : Math.max(since, upTo);
    return { results, lastSeq };
  }

  /** Batches of new rows after `since`, as they are written, until `signal` aborts or close. */
  subscribe(options: { since?: number; batchSize?: number; signal?: AbortSignal }): AsyncGenerator<DbUpdateRow[], void, undefined> {
    const source = {
      signal: this.signal,
      currentSeq: () => this.seq,
      read: (since: number, limit: number) => this.read({ since, limit }),
    };
    return liveChanges(source, options.since ?? 0, options.batchSize ?? 100, 0, options.signal);
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    this.signal.close();
  }

  /** One write at a time: each reads where its entries were and takes the next sequences. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async write(events: ReadonlyArray<readonly [DbUpdateType, string]>, ops: readonly KvOp[]): Promise<void> {
    if (events.length === 0 && ops.length === 0) return;
    const latestKeys = events.map(([type, db]) => `${LATEST}${type}:${db}`);
    const previous = await this.catalog.getMany(latestKeys);
    const batch: KvOp[] = [...ops];
    let seq = this.seq;
    events.forEach(([type, db], i) => {
      const old = previous[i];
      if (old !== undefined) batch.push({ type: 'del', key: logKey(Number(old)) });
      seq++;
      batch.push({ type: 'put', key: logKey(seq), value: JSON.stringify({ db, type }) });
      batch.push({ type: 'put', key: latestKeys[i]!, value: String(seq) });
    });
    batch.push({ type: 'put', key: SEQ_KEY, value: String(seq) });
    await this.catalog.batch(batch, { sync: this.sync });
    this.seq = seq;
    this.signal.notify();
  }
}
