// Feeds one indexer from one database's changes feed: catch-up runs are serialised (concurrent
// callers share the run in progress), read in bounded batches, and stop at the sequence current
// when they started, so a steady stream of writes cannot keep a query waiting for ever.
import type { Database } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import type { Indexer, IndexerChange, UpdateMode } from './types.ts';

export interface FeederOptions {
  /** Changes read and applied per step (default 1000). */
  batchSize?: number;
  /**
   * Stored document bytes read per step (default 16 MiB): a step ends at the document that passes
   * it, so large documents are indexed a few at a time, not a thousand (100 MB held at once).
   */
  batchBytes?: number;
  /** Called when a background ('lazy') catch-up fails; nothing else can see that failure. */
  onError?: (err: unknown) => void;
}

const DEFAULT_BATCH_BYTES = 16 * 1024 * 1024;

interface Step {
  batch: IndexerChange[];
  lastSeq: number;
  /** How many rows fitted in the byte budget, when it ran out. */
  fitted?: number;
}

export class IndexFeeder {
  private running: Promise<number> | undefined;
  private again = false;

  constructor(
    private readonly db: Database,
    readonly indexer: Indexer,
    private readonly options: FeederOptions = {},
  ) {}

  /** Brings the index up to the database's current sequence; resolves with the indexed sequence. */
  catchUp(): Promise<number> {
    if (this.running) {
      // A run in progress may have started before the caller's write: ask for one more pass.
      this.again = true;
      return this.running;
    }
    const run = (async () => {
      try {
        let seq: number;
        do {
          this.again = false;
          seq = await this.runOnce();
        } while (this.again);
        return seq;
      } finally {
        this.running = undefined;
      }
    })();
    this.running = run;
    return run;
  }

  /** Applies `mode` before a query reads the index. */
  async beforeQuery(mode: UpdateMode = 'true'): Promise<void> {
    if (mode === 'true') await this.catchUp();
  }

  /** Applies `mode` after a query read the index. */
  afterQuery(mode: UpdateMode = 'true'): void {
    if (mode === 'lazy') this.catchUp().catch((err) => this.options.onError?.(err));
  }

  private async runOnce(): Promise<number> {
    const batchSize = this.options.batchSize ?? 1000;
    const target = await this.db.updateSeq();
    let since = await this.indexer.indexedSeq();
    // After a recount for lost writes, an index built before it may hold what was lost: it is
    // rebuilt once, and records the recount, so a rebuild cut short resumes like any build.
    const recovered = this.db.recoveredSeq;
    const stale = this.indexer.rebuiltFor ? (await this.indexer.rebuiltFor()) < recovered : since > 0 && since < recovered;
    // An index ahead of its database read writes the database no longer has (its storage lost
    // them, and its counters with them): nothing tells which rows they left, so it starts again.
    if (since > target) since = await this.rebuild('is ahead of its database');
    else if (stale) since = await this.rebuild('may hold writes the database lost');
    else if (since > 0 && since < target) since = await this.applyPurges(since);
    let limit = batchSize;
    let next: Promise<Step> | undefined;
    while (since < target) {
      const step = await (next ?? this.readStep(since, limit));
      next = undefined;
      // The next step asks for about as many as fitted (each row past the budget was read for nothing).
      limit = step.fitted ?? Math.min(batchSize, limit * 2);
      if (step.batch.length === 0) {
        // Nothing more to read (changes collapse to one row per document): the index is current.
        await this.indexer.apply([], Math.max(step.lastSeq, target));
        return Math.max(step.lastSeq, target);
      }
      if (step.lastSeq <= since) throw new RefugeError('internal', `changes feed did not advance past ${since}`);
      // The next documents are read and decoded while this step is indexed (a sandbox maps in its
      // own thread meanwhile). A failed step leaves that read unused, and its failure unheard.
      if (step.lastSeq < target) {
        next = this.readStep(step.lastSeq, limit);
        next.catch(() => undefined);
      }
      await this.indexer.apply(step.batch, step.lastSeq);
      since = step.lastSeq;
    }
    return since;
  }

  /** Changes after `since` with their documents, cut where the byte budget ran out. */
  private async readStep(since: number, limit: number): Promise<Step> {
    // With `_conflicts`, as CouchDB hands documents to map functions (views that list conflicts).
    const read = await this.db.changes({ since, limit, includeDocs: true, conflicts: true, maxDocBytes: this.options.batchBytes ?? DEFAULT_BATCH_BYTES });
    let { results, lastSeq } = read;
    // Rows past the byte budget come without their document: the next step starts with them.
    const cut = results.findIndex((row) => !row.deleted && row.doc === undefined);
    if (cut > 0) {
      results = results.slice(0, cut);
      lastSeq = results[cut - 1]!.seq;
    }
    const batch: IndexerChange[] = results.map((row) => ({
      seq: row.seq,
      id: row.id,
      deleted: row.deleted === true,
      ...(row.deleted || !row.doc ? {} : { doc: row.doc }),
    }));
    return { batch, lastSeq, ...(cut > 0 && { fitted: cut }) };
  }

  /** Drops the index so that it is built again from sequence 0 (which it answers). */
  private async rebuild(why: string): Promise<number> {
    if (!this.indexer.reset) throw new RefugeError('internal', `this ${this.indexer.kind} index ${why}, and cannot be rebuilt`);
    await this.indexer.reset(this.db.recoveredSeq);
    return 0;
  }

  /**
   * A document purged whole leaves no row in the changes feed: the index drops those purged since
   * `since` that are still gone (the others come back through the feed, which is read next).
   * Answers the sequence to read changes from: 0 when the index had to be rebuilt.
   */
  private async applyPurges(since: number): Promise<number> {
    const { ids, complete } = await this.db.purgedSince(since);
    if (!complete) return this.rebuild('lags behind more purges than the database keeps');
    if (ids.length === 0) return since;
    const { rows } = await this.db.allDocs({ keys: ids });
    const gone = rows.filter((r) => r.error === 'not_found').map((r) => r.key);
    if (gone.length > 0) await this.indexer.apply(gone.map((id) => ({ seq: since, id, deleted: true })), since);
    return since;
  }
}

/** Parses CouchDB's `update` and legacy `stale` query parameters into one mode. */
export function updateMode(update: unknown, stale?: unknown): UpdateMode {
  if (stale === 'ok') return 'false';
  if (stale === 'update_after') return 'lazy';
  if (stale !== undefined) throw new RefugeError('query_parse_error', `Invalid value for stale: ${String(stale)}`);
  if (update === undefined || update === true || update === 'true') return 'true';
  if (update === false || update === 'false') return 'false';
  if (update === 'lazy') return 'lazy';
  throw new RefugeError('query_parse_error', `Invalid value for update: ${String(update)}`);
}
