// Map queries: rows of the key ranges in order, skip/limit across them, `offset` from the row
// blocks, and include_docs through the caller's document fetcher (an emitted value {"_id": ...}
// loads that document instead, optionally at `_rev`, as CouchDB does).

import type { Doc } from '../documents/index.ts';
import type { KvReader } from '../storage/index.ts';
import { isEmpty, rangesFor } from './key-range.ts';
import { parseRowSuffix } from './layout.ts';
import type { QueryPlan } from './query-options.ts';
import type { RowBlocks } from './row-blocks.ts';

export interface ViewRow {
  id: string;
  key: unknown;
  value: unknown;
  doc?: Doc | null;
}

export interface MapResult {
  total_rows: number;
  offset: number;
  rows: ViewRow[];
  update_seq?: number;
}

export interface DocRef {
  id: string;
  rev?: string;
}

/** Loads documents for include_docs: one per ref, in order, null when missing or deleted. */
export type FetchDocs = (refs: readonly DocRef[], options: { conflicts: boolean; attachments?: boolean }) => Promise<Array<Doc | null>>;

/** What a query reads of one view, under the group's read lock. */
export interface ViewReadContext {
  store: KvReader;
  /** Key prefix of the view's rows and the end of its range. */
  prefix: string;
  end: string;
  totalRows: number;
  blocks(): Promise<RowBlocks>;
}

export async function mapQuery(ctx: ViewReadContext, plan: QueryPlan, fetchDocs: FetchDocs | undefined, direct: Direct = 'may'): Promise<MapResult> {
  const ranges = rangesFor(plan, ctx.prefix, ctx.end);
  const rows: ViewRow[] = [];
  for await (const chunk of rowChunks(ctx, plan, ranges, direct)) rows.push(...chunk);
  const offset = await offsetOf(ctx, plan, ranges);
  if (plan.includeDocs && rows.length > 0 && fetchDocs) await attachDocs(rows, fetchDocs, { conflicts: plan.conflicts, attachments: plan.attachments });
  return { total_rows: ctx.totalRows, offset, rows };
}

/**
 * The whole answer when it is known to be small: at most `maxRows` rows by its limit or by the row
 * blocks its ranges span, or every range small enough for point lookups (most `key=` and `keys=`
 * queries). Undefined otherwise, to be streamed instead.
 */
export async function smallMapQuery(ctx: ViewReadContext, plan: QueryPlan, fetchDocs: FetchDocs | undefined, maxRows: number): Promise<MapResult | undefined> {
  if (plan.limit <= maxRows || (await rowsAtMost(ctx, plan)) <= maxRows) return mapQuery(ctx, plan, fetchDocs);
  if (!ctx.store.getSync) return undefined;
  try {
    return await mapQuery(ctx, plan, fetchDocs, 'only');
  } catch (err) {
    if (err === NOT_SMALL) return undefined;
    throw err;
  }
}

/** At least as many rows as the query's ranges hold: those of the row blocks they span (nothing is read). */
export async function rowsAtMost(ctx: ViewReadContext, plan: QueryPlan): Promise<number> {
  const blocks = await ctx.blocks();
  let bound = 0;
  for (const range of rangesFor(plan, ctx.prefix, ctx.end)) if (!isEmpty(range)) bound += blocks.rowsAtMost(range);
  return bound;
}

/** Thrown by rowChunks when it may only read ranges by point lookups and one is too big for them. */
const NOT_SMALL = Symbol('not small');

/** A map query's rows read as they are asked for, chunk by chunk, with their documents when asked. */
export interface MapListing {
  totalRows: number;
  offset: number;
  chunks: AsyncGenerator<ViewRow[], void, undefined>;
}

/**
 * The rows of a map query chunk by chunk from `ctx.store` (a snapshot, for an answer streamed while
 * the index moves on), include_docs fetched per chunk: a reader holds about a chunk, never the whole.
 */
export async function mapListing(ctx: ViewReadContext, plan: QueryPlan, fetchDocs: FetchDocs | undefined): Promise<MapListing> {
  const ranges = rangesFor(plan, ctx.prefix, ctx.end);
  const offset = await offsetOf(ctx, plan, ranges);
  const rows = rowChunks(ctx, plan, ranges, 'never');
  const options = { conflicts: plan.conflicts, attachments: plan.attachments };
  const chunks = (async function* () {
    for await (const chunk of rows) {
      if (plan.includeDocs && fetchDocs) await attachDocs(chunk, fetchDocs, options);
      yield chunk;
    }
  })();
  return { totalRows: ctx.totalRows, offset, chunks };
}

async function offsetOf(ctx: ViewReadContext, plan: QueryPlan, ranges: ReadonlyArray<{ gte: string; lt: string }>): Promise<number> {
  const before = ranges.length === 0 ? 0 : await rowsBefore(ctx, plan, ranges[0]!);
  return Math.min(ctx.totalRows, before + plan.skip);
}

/** Whether a range is read by point lookups: where it can be, never, or only (else NOT_SMALL is thrown). */
type Direct = 'may' | 'never' | 'only';

/** The rows of the ranges in order, skip and limit applied across them. */
async function* rowChunks(ctx: ViewReadContext, plan: QueryPlan, ranges: ReadonlyArray<{ gte: string; lt: string }>, direct: Direct): AsyncGenerator<ViewRow[], void, undefined> {
  const cut = ctx.prefix.length;
  let skip = plan.skip;
  let left = plan.limit;
  for (const range of ranges) {
    if (left <= 0) return;
    if (isEmpty(range)) continue;
    const found = direct === 'never' ? undefined : await directRows(ctx, plan, range);
    if (!found && direct === 'only') throw NOT_SMALL;
    if (found) {
      const dropped = Math.min(skip, found.length);
      skip -= dropped;
      const taken = found.slice(dropped, dropped + left);
      left -= taken.length;
      if (taken.length > 0) yield taken;
      continue;
    }
    // Ask the store for no more than can be used.
    const want = left + skip;
    const finite = Number.isFinite(want);
    const scan = { ...range, reverse: plan.descending, ...(finite ? { limit: want } : {}) };
    for await (const entries of ctx.store.scan(scan, finite ? Math.min(1024, want) : 256)) {
      const rows: ViewRow[] = [];
      for (const [k, v] of entries) {
        if (skip > 0) {
          skip--;
          continue;
        }
        const [key, value] = JSON.parse(v) as [unknown, unknown];
        rows.push({ id: parseRowSuffix(k.slice(cut)).id, key, value });
        if (--left <= 0) break;
      }
      if (rows.length > 0) yield rows;
      if (left <= 0) return;
    }
  }
}

/** Ranges of at most this many rows are read by point lookups when the store has synchronous gets. */
const DIRECT_MAX = 64;

/**
 * A small range read without an iterator: the row blocks know its exact row keys, and a store with
 * `getSync` returns each value without a trip through the I/O thread pool (most `key=` queries).
 * Undefined when the range is big, or the store cannot, or a row is not where expected.
 */
async function directRows(ctx: ViewReadContext, plan: QueryPlan, range: { gte: string; lt: string }): Promise<ViewRow[] | undefined> {
  const getSync = ctx.store.getSync?.bind(ctx.store);
  if (!getSync) return undefined;
  const keys = await (await ctx.blocks()).keysIn(ctx.store, range, DIRECT_MAX);
  if (!keys) return undefined;
  if (plan.descending) keys.reverse();
  const rows: ViewRow[] = [];
  for (const suffix of keys) {
    const v = getSync(ctx.prefix + suffix);
    if (v === undefined) return undefined;
    const [key, value] = JSON.parse(v) as [unknown, unknown];
    rows.push({ id: parseRowSuffix(suffix).id, key, value });
  }
  return rows;
}

/** Rows before a range in the query's direction (CouchDB's offset, before skip). */
async function rowsBefore(ctx: ViewReadContext, plan: QueryPlan, first: { gte: string; lt: string }): Promise<number> {
  if (!plan.descending && first.gte === ctx.prefix) return 0;
  if (plan.descending && first.lt === ctx.end) return 0;
  const blocks = await ctx.blocks();
  return plan.descending ? ctx.totalRows - (await blocks.rank(ctx.store, first.lt)) : await blocks.rank(ctx.store, first.gte);
}

/**
 * A linked document (an emitted `{_id}`) is read plainly, whatever `conflicts` and `attachments`
 * ask: CouchDB's coordinator reopens it with no options (fabric_view:possibly_embed_doc,
 * fabric:open_doc/open_revs with []), so it has no `_conflicts` and attachment stubs only. The
 * row's own document (a value without `_id`, or with `_rev` alone) is read with them.
 */
async function attachDocs(rows: ViewRow[], fetchDocs: FetchDocs, options: { conflicts: boolean; attachments: boolean }): Promise<void> {
  const refs = rows.map((r): (DocRef & { linked: boolean }) | null => {
    const v = r.value as { _id?: unknown; _rev?: unknown } | null;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return { id: r.id, linked: false };
    // {_id: null} links to nothing: CouchDB gives the row a null doc (fabric_view:possibly_embed_doc).
    // Nor does an _id that is no string: CouchDB looks it up (fabric:open_doc), finds no document by
    // that id, and gives null too; only a value without _id is the row's own document.
    if (v._id !== undefined && typeof v._id !== 'string') return null;
    // {_id} names another document; {_rev} alone pins a revision of the row's own (CouchDB's doc_row).
    const linked = typeof v._id === 'string';
    const id = linked ? (v._id as string) : r.id;
    return typeof v._rev === 'string' ? { id, rev: v._rev, linked } : { id, linked };
  });
  rows.forEach((r) => (r.doc = null));
  for (const linked of [false, true]) {
    const at = refs.flatMap((ref, i) => (ref !== null && ref.linked === linked ? [i] : []));
    if (at.length === 0) continue;
    const docs = await fetchDocs(
      at.map((i) => {
        const { linked: _l, ...ref } = refs[i]!;
        return ref;
      }),
      linked ? { conflicts: false } : options,
    );
    at.forEach((i, n) => (rows[i]!.doc = docs[n] ?? null));
  }
}
