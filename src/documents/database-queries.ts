// The database's feeds and queries: `_changes` (one answer, or live batches), the pending count,
// Mango `find`/`explain` and the path index's own query API. Reads only; they settle first so a
// caller reads its own writes.

import { RefugeError } from '../errors/index.ts';
import { projectFields } from '../query/index.ts';
import { captureChanges, type CapturedChanges } from './captured-changes.ts';
import { compileChangesFilter } from './changes-filter.ts';
import { changeChunks, checkChangesOptions, readChanges, sinceHere, type ChangesFilter, type ChangesProgress } from './changes.ts';
import type { DbState } from './core.ts';
import { snapshotChunks, type ChangesListing } from './listings.ts';
import { DatabaseWrites } from './database-writes.ts';
import { explainFind, type ExplainRequest } from './explain.ts';
import { findChunks, parseFind, type FindRequest, type PathIndexState } from './find.ts';
import { collectFind, type FindListing, type FindResult } from './find-pager.ts';
import { pathQuery, type PathQuery, type PathQueryRow } from './path-query.ts';
import { liveChanges } from './subscription.ts';
import type { ChangeRow, ChangesOptions, ChangesResult, Doc, SubscribeOptions } from './types.ts';

export abstract class DatabaseQueries extends DatabaseWrites {
  /**
   * Live reads in flight, for subscribers to join (sharedReadKey): a commit wakes every feed of
   * the database at once, and those that are caught up (say, a thousand PouchDB clients syncing
   * live) would each read the same rows from their own snapshot.
   */
  private readonly liveReads = new Map<string, Promise<ChangesResult>>();
  /**
   * Changes captured for live feeds of their own (a filter, documents as objects) near the end of
   * the feed, by the sequence read from and the committed one: each reads its rows from the capture.
   */
  private readonly liveCaptures = new Map<string, Promise<CapturedChanges>>();

  async changes(options: ChangesOptions = {}): Promise<ChangesResult> {
    const listing = await this.changesListing(options);
    const results: ChangeRow[] = [];
    for await (const chunk of listing.chunks) for (const row of chunk) results.push(row);
    return { results, lastSeq: listing.lastSeq };
  }

  /**
   * changes read chunk by chunk from one snapshot, for answers written out as they are read (the
   * HTTP feed's), with CouchDB's `pending` when `withPending`: `last_seq` and `pending` are the
   * snapshot's, whatever is written meanwhile.
   */
  async changesListing(options: ChangesOptions = {}, withPending = false): Promise<ChangesListing> {
    await this.settle();
    checkChangesOptions(options);
    if (options.since !== undefined && !options.descending) options = { ...options, since: sinceHere(options.since, this.core.state.seq) };
    const compiling = this.core.state;
    const filter = await this.compileFilter(options);
    const compiled = this.core.state;
    const since = options.since ?? 0;
    const limit = options.limit;
    // The changes after `since`, less those the read examines, are those after its last_seq: a
    // count the snapshot's own. Needed only where a limit may stop the read (else none are left)
    // and, descending, never (those examined are all above the last).
    const total = withPending && (limit === 0 || (!options.descending && limit !== undefined));
    if (total) await this.countSeqs();
    const seqs = this.core.seqCounts;
    // Counted as the snapshot is taken (see SeqCounts.after).
    const { snap, state, counted } = await this.listingSnapshot(total ? async () => seqs.after(since) : undefined);
    const progress: ChangesProgress = { lastSeq: since, examined: 0 };
    const rows = async function* (this: DatabaseQueries) {
      for await (const chunk of changeChunks(snap, options, filter, state.seq, progress)) {
        await this.finishDocs(chunk, options, filter);
        yield chunk;
      }
    }.call(this);
    const same = (a: DbState, b: DbState) => a.seq === b.seq && a.purgeSeq === b.purgeSeq;
    return {
      ...snapshotChunks(snap, rows),
      state,
      filterOfSnapshot: options.filter === undefined || (same(compiling, compiled) && same(compiled, state)),
      get lastSeq() {
        return progress.lastSeq;
      },
      get pending() {
        if (!withPending) return undefined;
        if (total) return Math.max(0, counted! - progress.examined);
        return options.descending ? Math.max(0, progress.examined - 1) : 0;
      },
    };
  }

  /** Makes the sequence counts ready: the first call counts the whole feed once (a job that holds writes back meanwhile). */
  private async countSeqs(): Promise<void> {
    const counts = this.core.seqCounts;
    if (!counts.ready) await this.writer.submit(() => (counts.ready ? Promise.resolve() : counts.count(this.core.store)), true);
  }

  /**
   * How many changes lie after `seq` (CouchDB's `pending`): one per document changed since. The
   * first call counts the whole feed once (a job that holds writes back meanwhile); later ones
   * are answered from memory (seq-counts.ts).
   */
  async pendingAfter(seq: number): Promise<number> {
    this.check();
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RefugeError('bad_request', 'seq must be a non-negative integer');
    await this.countSeqs();
    await this.settle();
    // No snapshot: the count is of an instant anyway, and read from memory.
    return this.core.seqCounts.after(seq);
  }
  /**
   * Live changes in batches, from `since` on, until `signal` aborts or the database closes.
   * Nothing is buffered beyond the batch being delivered.
   */
  subscribe(options: SubscribeOptions = {}): AsyncGenerator<ChangeRow[], void, undefined> {
    this.check();
    checkChangesOptions(options);
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new RefugeError('bad_request', 'signal must be an AbortSignal');
    const batchSize = options.batchSize ?? 100;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RefugeError('bad_request', 'batchSize must be a positive integer');
    const intervalMs = options.intervalMs ?? 0;
    // Compiled on the first read, so a bad filter name fails the first pull, not the call.
    let compiled: Promise<ChangesFilter> | undefined;
    // Each read makes the feed's own rows with its filter, from the storage snapshot or the capture
    // `rows` reads them from.
    const readRows = async (since: number, rows: (filter: ChangesFilter) => Promise<ChangesResult>): Promise<ChangesResult> => {
      const filter = await (compiled ??= this.compileFilter(options));
      // Closed while the filter compiled: an empty read lets the feed see the close and end.
      if (this.closed) return { results: [], lastSeq: since };
      const result = await rows(filter);
      await this.finishDocs(result.results, options, filter);
      return result;
    };
    const live = (since: number, limit: number): ChangesOptions => ({ ...options, since, limit, descending: false });
    const readOnce = (since: number, limit: number) =>
      readRows(since, async (filter) => {
        await this.settle();
        return this.withSnapshot(async (snap) => readChanges(snap, live(since, limit), filter, (await this.stateIn(snap)).seq));
      });
    // A feed of its own near the end of the feed (a filter, documents made for it alone) reads from
    // the changes captured once for every such feed at that point.
    const readCaptured = (since: number, limit: number, committed: string) =>
      readRows(since, async (filter) => {
        const captured = await joinInFlight(this.liveCaptures, `${since}:${committed}`, () => this.captureAfter(since));
        return readChanges(captured.reader, live(since, limit), filter, captured.upTo);
      });
    const source = {
      signal: this.commits,
      currentSeq: () => this.core.state.seq,
      read: (since: number, limit: number) => {
        // What is committed now: a later write or purge makes a read begun since another read.
        const { seq, purgeSeq } = this.core.state;
        const committed = `${seq}:${purgeSeq}`;
        const key = sharedReadKey(options, since, limit, committed);
        if (key === undefined) return seq - since <= CAPTURE_SPAN ? readCaptured(since, limit, committed) : readOnce(since, limit);
        const shared = joinInFlight(this.liveReads, key, () => readOnce(since, limit));
        // Each subscriber gets rows of its own: one may add to or drop from a row without the others seeing it.
        return shared.then((r) => ({ results: r.results.map((row) => ({ ...row })), lastSeq: r.lastSeq }));
      },
    };
    return liveChanges(source, sinceHere(options.since ?? 0, this.core.state.seq), batchSize, intervalMs, options.signal, options.onRead);
  }

  /** The changes after `since` as they stand committed now, at most CAPTURE_SPAN of them (captured-changes.ts). */
  private async captureAfter(since: number): Promise<CapturedChanges> {
    await this.settle();
    return this.withSnapshot(async (snap) => captureChanges(snap, since, (await this.stateIn(snap)).seq, CAPTURE_SPAN));
  }

  /**
   * Included documents as the answer gives them: attachment data inlined, then the `fields` kept
   * (CouchDB projects the document as it would send it, data and all).
   */
  private async finishDocs(rows: ChangeRow[], options: ChangesOptions, filter: ChangesFilter): Promise<void> {
    if (options.attachments && options.includeDocs) await this.inlineAll(rows.map((r) => r.doc));
    const fields = filter.fields;
    if (fields) for (const row of rows) if (row.doc) row.doc = projectFields(row.doc, fields) as Doc;
  }

  private compileFilter(options: ChangesOptions): Promise<ChangesFilter> {
    return compileChangesFilter(options, this.options.compileSelector, this.hooks);
  }

  // ---- queries ----

  /** Mango `_find`: exact results, using the path index where a clause allows. */
  async find(request: FindRequest): Promise<FindResult> {
    return collectFind(await this.findListing(request));
  }

  /**
   * find read chunk by chunk from one snapshot, for answers written out as they are read (the HTTP
   * `_find`): a page in the path index's or the documents' order is never held whole.
   */
  async findListing(request: FindRequest): Promise<FindListing> {
    await this.settle();
    const parsed = parseFind(request, this.pathIndexState(), this.core.state.docCount);
    const { snap } = await this.listingSnapshot();
    try {
      const { chunks, end } = findChunks(snap, parsed, {
        conflicts: request.conflicts,
        executionStats: request.executionStats,
        fragmented: this.postingMerger.fragmented,
      });
      return { ...snapshotChunks(snap, chunks), end };
    } catch (err) {
      await snap.close().catch(() => undefined);
      throw err;
    }
  }

  /** Mango `_explain`: which index scan `find` would use, and why. */
  async explain(request: ExplainRequest): Promise<ReturnType<typeof explainFind>> {
    this.check();
    return explainFind(this.core.name, parseFind(request, this.pathIndexState(), this.core.state.docCount), request);
  }

  private pathIndexState(): PathIndexState {
    const s = this.core.state;
    return !s.autoIndex ? 'off' : s.pathIndexReady ? 'ready' : 'building';
  }

  /**
   * Queries the path index directly: rows stream in value order (one per matching entry), so a
   * large result is never held in memory. Needs `autoIndex` on.
   */
  query(q: PathQuery): AsyncGenerator<PathQueryRow> {
    this.check();
    if (!this.core.state.autoIndex) throw new RefugeError('bad_request', 'the path index is off for this database (autoIndex: false)');
    const read = pathQuery(q, this.postingMerger.fragmented);
    const store = this.core.store;
    const ready = async () => {
      await this.settle();
      // A rebuild in progress here is waited for: rows from half an index would be wrong.
      await this.indexBuild?.catch(() => undefined);
      if (this.pathIndexState() !== 'ready') throw new RefugeError('unavailable', 'the path index is being rebuilt; try again when it is done');
    };
    return (async function* () {
      await ready();
      // One snapshot for the whole stream: a value's postings and the documents are read apart.
      const snap = store.snapshot();
      try {
        yield* read(snap);
      } finally {
        await snap.close();
      }
    })();
  }
}

/**
 * How far behind the committed sequence a live feed of its own may be and still read from a capture
 * shared with others: a capture holds that many changes at most, records and all, and one feed
 * alone reads them all where its filter might have read fewer.
 */
const CAPTURE_SPAN = 256;

/**
 * What makes two live reads the same read, or undefined when a read is a subscriber's own: it
 * filters (its filter may see who asks), or includes documents for a consumer that may change
 * them (only one that writes them out as JSON asks for `docText`). Reads started at one committed
 * sequence see the same rows.
 */
function sharedReadKey(o: SubscribeOptions, since: number, limit: number, committed: string): string | undefined {
  if (o.docIds !== undefined || o.selector !== undefined || o.fields !== undefined || o.filter !== undefined || o.view !== undefined) return undefined;
  if (o.includeDocs && !o.docText) return undefined;
  const docs = o.includeDocs ? `docs:${o.attachments ? 1 : 0}:${o.maxDocBytes ?? ''}` : '';
  return `${since}:${limit}:${committed}:${o.style ?? ''}:${o.conflicts ? 1 : 0}:${o.revs ? 1 : 0}:${docs}`;
}

/** The work in flight under `key`, or `start()`'s, held there until it settles: callers asking at once share one. */
function joinInFlight<T>(inFlight: Map<string, Promise<T>>, key: string, start: () => Promise<T>): Promise<T> {
  const running = inFlight.get(key);
  if (running !== undefined) return running;
  const work = start();
  inFlight.set(key, work);
  const forget = () => {
    if (inFlight.get(key) === work) inFlight.delete(key);
  };
  work.then(forget, forget);
  return work;
}
