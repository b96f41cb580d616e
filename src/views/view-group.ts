// A view group: every view of one design document, built together in one pass over the changes
// feed and kept in a KvStore under one key prefix. It is an Indexer: each apply() maps a batch of
// documents (one sandbox call per view), replaces their previous rows (found through the
// back-index) and records the new indexed sequence, all in one atomic write.

import type { Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import type { Indexer, IndexerChange } from '../indexers/index.ts';
import { compareStrings } from '../query/index.ts';
import type { KvOp, KvRange, KvReader, KvStore } from '../storage/index.ts';
import { findView, parseDesignDoc, type DesignDef } from './design-doc.ts';
import { compareKeys, encodeKey } from './key-codec.ts';
import { viewRange } from './key-range.ts';
import { entryView, GroupLayout, parseRowSuffix, rowKeysOf, type GroupMeta } from './layout.ts';
import { mapListing, mapQuery, rowsAtMost, smallMapQuery, type FetchDocs, type MapResult, type ViewReadContext, type ViewRow } from './map-query.ts';
import { createMapper, type Mapper } from './mapper.ts';
import { planQuery, type QueryPlan, type ViewQueryOptions } from './query-options.ts';
import { groupChunks, reduceQuery, type AsyncReducer, type ReduceResult, type ReduceRowOut } from './reduce-query.ts';
import { makeReducer } from './reducers.ts';
import { RowBlocks } from './row-blocks.ts';
import { RwLock } from './rw-lock.ts';
import type { ViewSandbox } from './sandbox-face.ts';

export interface ViewGroupOptions {
  store: KvStore;
  /** Every key of the group starts with it; must end in an ASCII character. */
  prefix: string;
  ddoc: Doc | DesignDef;
  /** Runs JavaScript map/reduce functions; not needed for `language: "query"` (Mango) groups. */
  sandbox?: ViewSandbox;
  /** Documents per sandbox map call (default 500). */
  mapBatchSize?: number;
  /** Rows per in-memory row block (default 64; small values exercise block splits in tests). */
  blockSize?: number;
}

export type ViewResult = MapResult | ReduceResult;

/**
 * A query's answer: `whole` when it was read at once (a reduce, a small map query), else its meta
 * and then its rows chunk by chunk, read from a storage snapshot taken with the meta, so the index
 * may move on meanwhile and the answer is still one state of it. Close a streamed one once done.
 */
export type ViewListing = { whole: ViewResult } | ViewRowsListing;

export interface ViewRowsListing {
  /** A map query's `total_rows` and `offset`; a reduce has neither. */
  totalRows?: number;
  offset?: number;
  /** The index's sequence, when the query asked for `update_seq`. */
  updateSeq?: number;
  chunks: AsyncIterator<ViewRow[] | ReduceRowOut[], void, undefined>;
  close(): Promise<void>;
}

/**
 * Map answers of up to this many rows are read whole under the read lock, as query() reads them
 * (fewer with their documents, which may be large): pages and small ranges, where a snapshot and a
 * stream cost more than they save (a 100-row range took 10-25% longer streamed). Rows may carry
 * large values too, so the bound stays low.
 */
const WHOLE_ROWS = 250;
const WHOLE_ROWS_WITH_DOCS = 50;

export class ViewGroup implements Indexer {
  readonly kind = 'view';
  readonly layout: GroupLayout;
  private readonly lock = new RwLock();
  private readonly blocks = new Map<number, Promise<RowBlocks>>();
  private closed = false;

  private constructor(
    readonly def: DesignDef,
    private readonly store: KvStore,
    private meta: GroupMeta,
    private readonly mapper: Mapper,
    private readonly reducers: Array<AsyncReducer | undefined>,
    private readonly mapBatchSize: number,
    layout: GroupLayout,
    private readonly blockSize: number,
  ) {
    this.layout = layout;
  }

  static async open(options: ViewGroupOptions): Promise<ViewGroup> {
    const def = 'signature' in options.ddoc && 'views' in options.ddoc && Array.isArray(options.ddoc.views) ? (options.ddoc as DesignDef) : parseDesignDoc(options.ddoc as Doc);
    const layout = new GroupLayout(options.prefix);
    const mapper = await createMapper(def, options.sandbox);
    const reducers: Array<AsyncReducer | undefined> = [];
    for (const view of def.views) reducers.push(view.reduce === undefined ? undefined : await makeReducer(view.name, view.reduce, options.sandbox));
    const stored = await options.store.get(layout.metaKey);
    const meta: GroupMeta = stored ? (JSON.parse(stored) as GroupMeta) : { seq: 0, rows: def.views.map(() => 0) };
    return new ViewGroup(def, options.store, meta, mapper, reducers, options.mapBatchSize ?? 500, layout, options.blockSize ?? 64);
  }

  get signature(): string {
    return this.def.signature;
  }

  async indexedSeq(): Promise<number> {
    return this.meta.seq;
  }

  async rebuiltFor(): Promise<number> {
    return this.meta.rebuiltFor ?? 0;
  }

  /** The indexed sequence without a promise (what queries report as update_seq). */
  get seq(): number {
    return this.meta.seq;
  }

  /** Rows per view (CouchDB's total_rows). */
  get rowCounts(): readonly number[] {
    return this.meta.rows;
  }

  async apply(changes: readonly IndexerChange[], upTo: number): Promise<void> {
    this.check();
    await this.lock.write(async () => {
      if (upTo <= this.meta.seq && changes.length === 0) return;
      const byId = new Map<string, IndexerChange>();
      for (const c of changes) byId.set(c.id, c); // a later change of a document wins
      const list = [...byId.values()];
      const fresh = this.meta.seq === 0 && this.meta.rows.every((n) => n === 0);
      const old = fresh ? [] : await this.store.getMany(list.map((c) => this.layout.backKey(c.id)));
      const docs: Doc[] = [];
      const mappedAt: number[] = [];
      list.forEach((c, i) => {
        if (c.deleted || !c.doc) return;
        if (!this.def.includeDesign && c.id.startsWith('_design/')) return;
        mappedAt[i] = docs.length;
        // options.local_seq: map functions see the document's sequence, as CouchDB hands it.
        docs.push(this.def.localSeq ? { ...c.doc, _local_seq: c.seq } : c.doc);
      });
      const emitted = await this.mapAll(docs);
      const rows = [...this.meta.rows];
      // One array for one native call: cheaper than a chained batch's call per operation.
      const ops: KvOp[] = [];
      const chain = { put: (key: string, value: string) => void ops.push({ type: 'put', key, value }), del: (key: string) => void ops.push({ type: 'del', key }) };
      const touched: Array<[number, string, 1 | -1]> = [];
      try {
        list.forEach((c, i) => {
          const prev = old[i] ? old[i]!.split('\u0000') : [];
          rowKeysOf(this.layout, prev, c.id).forEach((key, n) => {
            chain.del(key);
            rows[entryView(prev[n]!)]!--;
            touched.push([entryView(prev[n]!), key, -1]);
          });
          const at = mappedAt[i];
          const entries: string[] = [];
          const values: string[] = [];
          if (at !== undefined) {
            emitted.forEach((perDoc, v) => {
              for (const [key, value] of inRowOrder(perDoc[at]!)) {
                entries.push(this.layout.entry(v, encodeKey(key)));
                values.push(JSON.stringify([key ?? null, value ?? null]));
                rows[v]!++;
              }
            });
          }
          const keys = rowKeysOf(this.layout, entries, c.id);
          keys.forEach((k, n) => {
            chain.put(k, values[n]!);
            touched.push([entryView(entries[n]!), k, 1]);
          });
          if (entries.length > 0) chain.put(this.layout.backKey(c.id), entries.join('\u0000'));
          else if (prev.length > 0) chain.del(this.layout.backKey(c.id));
        });
        const meta: GroupMeta = { seq: Math.max(upTo, this.meta.seq), rows, ...(this.meta.rebuiltFor ? { rebuiltFor: this.meta.rebuiltFor } : {}) };
        chain.put(this.layout.metaKey, JSON.stringify(meta));
        await this.store.batch(ops);
        this.meta = meta;
      } finally {
        ops.length = 0;
      }
      await this.noteRows(touched);
    });
  }

  private async mapAll(docs: readonly Doc[]): Promise<Array<Array<Array<[unknown, unknown]>>>> {
    if (docs.length <= this.mapBatchSize) return this.mapper.map(docs);
    const out: Array<Array<Array<[unknown, unknown]>>> = this.def.views.map(() => []);
    for (let i = 0; i < docs.length; i += this.mapBatchSize) {
      const part = await this.mapper.map(docs.slice(i, i + this.mapBatchSize));
      part.forEach((perDoc, v) => out[v]!.push(...perDoc));
    }
    return out;
  }

  // Row blocks already built follow the rows (removals first: a row rewritten in place is one
  // removal and one addition of the same key).
  private async noteRows(touched: ReadonlyArray<[number, string, 1 | -1]>): Promise<void> {
    if (this.blocks.size === 0) return;
    const built = new Map<number, RowBlocks>();
    for (const [v, p] of this.blocks) built.set(v, await p);
    for (const pass of [-1, 1] as const) {
      for (const [v, key, delta] of touched) {
        const b = built.get(v);
        if (b && delta === pass) b.note(key.slice(this.layout.viewPrefix(v).length), delta);
      }
    }
    for (const b of built.values()) await b.rebalance(this.store);
  }

  /** Runs a query on one view; `fetchDocs` serves include_docs. */
  async query(viewName: string, options: ViewQueryOptions = {}, fetchDocs?: FetchDocs): Promise<ViewResult> {
    return this.underReadLock(viewName, options, async (ctx, plan, reducer) =>
      this.withSeq(plan, plan.reduce ? await reduceQuery(ctx, plan, reducer!) : await mapQuery(ctx, plan, fetchDocs)),
    );
  }

  /**
   * Runs a query on one view as a listing (HTTP streams it). An answer known to be small (a map
   * query of at most WHOLE_ROWS rows or read by point lookups, a reduce of at most WHOLE_ROWS
   * groups) is read whole as query() reads it; any other is read from a snapshot taken under
   * the read lock, so the lock is not held while a slow client reads, and the reader holds about a
   * chunk of rows at a time.
   */
  async listing(viewName: string, options: ViewQueryOptions = {}, fetchDocs?: FetchDocs): Promise<ViewListing> {
    return this.underReadLock(viewName, options, async (ctx, plan, reducer): Promise<ViewListing> => {
      const maxRows = plan.includeDocs ? WHOLE_ROWS_WITH_DOCS : WHOLE_ROWS;
      if (plan.reduce) {
        // An answer has at most as many groups as rows; `keys` answers one row per key asked.
        const mayBeLong = plan.groupLevel !== 0 && !plan.keys && plan.limit > maxRows && (await rowsAtMost(ctx, plan)) > maxRows;
        if (!mayBeLong) return { whole: this.withSeq(plan, await reduceQuery(ctx, plan, reducer!)) };
        if (plan.groupLevel !== 'exact') {
          // A group level may fold many rows into few groups, with the row blocks' reductions: its
          // answer is computed whole up to one group more than a whole answer holds, and only
          // streamed when it has that many.
          const head = await reduceQuery(ctx, { ...plan, limit: maxRows + 1 }, reducer!);
          if (head.rows.length <= maxRows) return { whole: this.withSeq(plan, head) };
        }
        return this.streamed(plan, undefined, (snapshotCtx) => groupChunks(snapshotCtx, plan, reducer!), ctx);
      }
      const small = await smallMapQuery(ctx, plan, fetchDocs, maxRows);
      if (small) return { whole: this.withSeq(plan, small) };
      return this.streamed(plan, fetchDocs, undefined, ctx);
    });
  }

  /** Runs `fn` on one view's rows under the read lock, with the query's plan and the view's reducer. */
  private underReadLock<T>(viewName: string, options: ViewQueryOptions, fn: (ctx: ViewReadContext, plan: QueryPlan, reducer: AsyncReducer | undefined) => Promise<T>): Promise<T> {
    this.check();
    const { index } = findView(this.def, viewName);
    const reducer = this.reducers[index];
    const plan = planQuery(options, reducer !== undefined);
    return this.lock.read(() => fn(this.readContext(index, this.store), plan, reducer));
  }

  /**
   * A listing read from a snapshot taken now (under the read lock): a map query's rows, or the
   * chunks `reduced` makes from the snapshot.
   */
  private async streamed(
    plan: QueryPlan,
    fetchDocs: FetchDocs | undefined,
    reduced: ((ctx: ViewReadContext) => AsyncGenerator<ReduceRowOut[], void, undefined>) | undefined,
    ctx: ViewReadContext,
  ): Promise<ViewRowsListing> {
    const snapshot = this.store.snapshot();
    try {
      const at = { ...ctx, store: snapshot };
      const map = reduced ? undefined : await mapListing(at, plan, fetchDocs);
      const chunks = map ? map.chunks : reduced!(at);
      return {
        ...(map && { totalRows: map.totalRows, offset: map.offset }),
        ...(plan.updateSeq && { updateSeq: this.meta.seq }),
        chunks,
        close: async () => {
          try {
            await chunks.return(undefined);
          } finally {
            await snapshot.close();
          }
        },
      };
    } catch (err) {
      await snapshot.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The answer with `update_seq` when asked, in CouchDB's place: after total_rows and offset, before
   * rows (couch_mrview_http:view_cb writes the meta it has, then "rows"), so a reduce answers
   * {"update_seq":N,"rows":[...]}.
   */
  private withSeq(plan: QueryPlan, result: ViewResult): ViewResult {
    if (!plan.updateSeq) return result;
    const { rows, ...meta } = result;
    return { ...meta, update_seq: this.meta.seq, rows } as ViewResult;
  }

  /**
   * Reads a view's rows in a store key range (Mango `_find` over a json index): id and key only, a
   * page at a time, each under the read lock, so a reader that stops early reads no further and an
   * index update waits for one page, not for the whole scan.
   */
  async *scanRows(
    viewName: string,
    range: { gte: string; lt: string },
    descending = false,
    opts: { pageSize?: number; after?: string } = {},
  ): AsyncGenerator<{ id: string; key: unknown; suffix: string }> {
    this.check();
    const { pageSize = 512, after } = opts;
    const { index } = findView(this.def, viewName);
    const prefix = this.layout.viewPrefix(index);
    let bounds: KvRange = { gte: prefix + range.gte, lt: prefix + range.lt, reverse: descending, limit: pageSize };
    // Past a row given before (`after`, a row key without the view prefix), within the range.
    if (after !== undefined && !descending && compareStrings(after, range.gte) >= 0) bounds = { gt: prefix + after, lt: bounds.lt!, limit: pageSize };
    if (after !== undefined && descending && compareStrings(after, range.lt) < 0) bounds = { ...bounds, lt: prefix + after };
    for (;;) {
      const page: Array<[string, string]> = [];
      await this.lock.read(async () => {
        for await (const entries of this.store.scan(bounds, pageSize)) page.push(...entries);
      });
      for (const [k, v] of page) {
        const suffix = k.slice(prefix.length);
        yield { id: parseRowSuffix(suffix).id, key: (JSON.parse(v) as [unknown])[0], suffix };
      }
      if (page.length < pageSize) return;
      // Row keys are unique (they end with the document id): the next page starts past the last.
      const last = page[page.length - 1]![0];
      bounds = descending ? { gte: bounds.gte!, lt: last, reverse: true, limit: pageSize } : { gt: last, lt: bounds.lt!, limit: pageSize };
    }
  }

  private readContext(index: number, reader: KvReader): ViewReadContext {
    const prefix = this.layout.viewPrefix(index);
    const { lt: end } = viewRange(prefix);
    return {
      store: reader,
      prefix,
      end,
      totalRows: this.meta.rows[index] ?? 0,
      blocks: () => {
        let b = this.blocks.get(index);
        if (!b) {
          b = RowBlocks.build(reader, prefix, end, this.blockSize);
          this.blocks.set(index, b);
          b.catch(() => this.blocks.delete(index));
        }
        return b;
      },
    };
  }

  /** Bytes the group takes on disk, when the engine can tell. */
  async diskSize(): Promise<number | undefined> {
    return this.store.approximateSize ? this.store.approximateSize(this.layout.range()) : undefined;
  }

  /**
   * Empties the group, to be rebuilt from sequence 0 (it lagged behind purges the database no longer
   * remembers). Rows go before the meta: a crash in between leaves the old seq, and the same lag
   * makes the next catch-up reset again.
   */
  async reset(recoveredSeq = 0): Promise<void> {
    this.check();
    await this.lock.write(async () => {
      const { gte, lt } = this.layout.range();
      await this.store.clear({ gte, lt: this.layout.metaKey });
      await this.store.clear({ gt: this.layout.metaKey, lt });
      const meta: GroupMeta = { seq: 0, rows: this.def.views.map(() => 0), ...(recoveredSeq > 0 ? { rebuiltFor: recoveredSeq } : {}) };
      await this.store.batch([{ type: 'put', key: this.layout.metaKey, value: JSON.stringify(meta) }]);
      this.meta = meta;
      this.blocks.clear();
    });
  }

  /** Closes once the queries and the update in progress are done (the lock drains first). */
  async close(): Promise<void> {
    await this.lock.write(async () => {
      this.closed = true;
    });
  }

  private check(): void {
    if (this.closed) throw new RefugeError('closed', `view group ${this.def.id} is closed`);
  }
}

/**
 * A document's emits in the order CouchDB stores them: by key, then by value, so rows with equal
 * keys from one document come back in value order whatever order the map function emitted them in.
 */
function inRowOrder(pairs: Array<[unknown, unknown]>): Array<[unknown, unknown]> {
  if (pairs.length < 2) return pairs;
  return [...pairs].sort((a, b) => compareKeys(a[0] ?? null, b[0] ?? null) || compareKeys(a[1] ?? null, b[1] ?? null));
}
