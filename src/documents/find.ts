// Mango `find`, executed over the automatic path index: the planner picks one index scan (or
// none), the executor reads its keys in chunks and re-checks the full selector on each candidate,
// so results are exact whatever the index could narrow (the path query API: path-query.ts).

import { RefugeError } from '../errors/index.ts';
import {
  matchSelector,
  normalizeFindSelector,
  parseFields,
  parseSort,
  planFind,
  hasSortFields,
  withIdReads,
  compareStrings,
  type FindPlan,
  type IdBounds,
  type Selector,
  type SortField,
} from '../query/index.ts';
import type { KvRange, KvReader } from '../storage/index.ts';
import { decodeHead, decodeRecord } from './doc-record.ts';
import { DOC, docKey } from './keys.ts';
import { scanRows, type Fragmented } from './posting-scan.ts';
import { compareIndexPlaces, decodeBookmark, placeAnchor, sortAnchor, type Bookmark, type IndexPlace, type PlaceKind } from './find-bookmark.ts';
import { FindPager, type FindListing } from './find-pager.ts';
import { buildDoc } from './reads.ts';
import type { Doc } from './types.ts';

export interface FindRequest {
  selector: unknown;
  fields?: unknown;
  sort?: unknown;
  limit?: number;
  skip?: number;
  bookmark?: string;
  conflicts?: boolean;
  executionStats?: boolean;
  /**
   * CouchDB's `allow_fallback` (default true): false refuses, with no_usable_index, a query no index
   * serves (one that would read every document) instead of answering it.
   */
  allowFallback?: boolean;
}

export interface ParsedFind {
  selector: Selector;
  sort: SortField[];
  fields: string[] | undefined;
  limit: number;
  /** Rows to pass over: the request's `skip` (plus an earlier version's bookmark offset). */
  skip: number;
  /** Where the previous page ended: this one starts after it (then passes over `skip` rows). */
  bookmark: Bookmark;
  plan: FindPlan;
}

const MAX_LIMIT = 1 << 30;

export function nonNegative(v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new RefugeError('invalid_non_neg_integer', `${JSON.stringify(v)} is not an integer greater than or equal to zero`);
  }
  return v as number;
}

/** The path index as a query may use it: kept up to date, turned off, or being rebuilt. */
export type PathIndexState = 'ready' | 'off' | 'building';

/**
 * The parts of a find request every executor reads (this one, a json index's), checked the same
 * way: a bad selector, sort, fields, limit, skip or bookmark is a `bad_request` wherever it goes.
 */
export function parseFindOptions(req: FindRequest): Omit<ParsedFind, 'plan'> {
  if (req === null || typeof req !== 'object') throw new RefugeError('bad_request', 'Request body must be a JSON object');
  if (req.selector === undefined) throw new RefugeError('missing_required_key', 'Missing required key: selector');
  const selector = normalizeFindSelector(req.selector);
  const sort = parseSort(req.sort);
  const fields = parseFields(req.fields);
  const limit = nonNegative(req.limit, 25);
  const ownSkip = nonNegative(req.skip, 0);
  const bookmark = decodeBookmark(req.bookmark);
  for (const flag of [req.conflicts, req.allowFallback]) {
    if (flag !== undefined && typeof flag !== 'boolean') throw new RefugeError('invalid_boolean', `Invalid boolean value: ${JSON.stringify(flag)}`);
  }
  return { selector, sort, fields, limit: Math.min(limit, MAX_LIMIT), skip: ownSkip + bookmark.offset, bookmark };
}

/**
 * An equality scan of more values than this share of the documents reads fewer of them by scanning
 * them all: each value is one index lookup (~0.1 ms), each document in a full scan a few µs. A
 * `$in` of 20,000 values on a 10-document database took 2.2 s through the index.
 */
const LOOKUPS_PER_DOC = 1 / 16;
const MIN_LOOKUPS = 64;

function cheaperThanScan(plan: FindPlan, docCount: number): FindPlan {
  const scan = plan.scan;
  if (scan?.kind !== 'eq' || scan.values.length <= Math.max(MIN_LOOKUPS, docCount * LOOKUPS_PER_DOC)) return plan;
  return { scan: null, sortedByIndex: false, reason: `full scan: ${scan.values.length} values to look up on ${scan.path} cost more than reading the ${docCount} documents` };
}

/** `docCount` (the live documents) decides between many index lookups and one scan of every document. */
export function parseFind(req: FindRequest, pathIndex: PathIndexState, docCount = Infinity): ParsedFind {
  const { selector, sort, fields, limit, skip, bookmark } = parseFindOptions(req);
  // allow_fallback: false asks for the index whatever it costs. A bookmark keeps the read its first
  // page chose, though the count has moved since: an index read's bookmark is no anchor in a scan.
  const place = bookmark.place?.kind;
  const indexed = (p: FindPlan) => (req.allowFallback === false || place === 'index' ? p : cheaperThanScan(p, place === 'docs' ? 0 : docCount));
  const pathPlan: FindPlan =
    pathIndex === 'ready'
      ? indexed(planFind(selector, sort))
      : {
          scan: null,
          sortedByIndex: false,
          reason: pathIndex === 'off' ? 'full scan: the path index is off (autoIndex: false)' : 'full scan: the path index is being rebuilt',
        };
  const plan = withIdReads(pathPlan, selector, sort, req.selector);
  if (plan.scan === null && req.allowFallback === false) {
    // Without the path index a sort only _all_docs cannot give finds no index at all: CouchDB's
    // own no_usable_index for it comes first (mango_idx:get_usable_indexes, before any fallback).
    if (pathIndex === 'off' && !allDocsSorts(selector, sort)) throw new RefugeError('no_usable_index', NO_SORT_INDEX);
    throw new RefugeError('no_usable_index', `No index can serve this query without reading every document (${plan.reason}), and allow_fallback is false.`);
  }
  return { selector, sort, fields, limit, skip, bookmark, plan };
}

const NO_SORT_INDEX = 'No index exists for this sort, try indexing by the sort fields.';

/**
 * Whether `_all_docs` alone may answer a query in its sort (CouchDB's mango_idx_special:is_usable):
 * with no sort, or a sort on `_id` only when the selector bounds `_id` (mango_idx_view's
 * indexable_fields: a comparison, `$beginsWith` or `$exists` on it, at the top or under `$and`).
 * Otherwise CouchDB needs a json index on the sort fields and, finding none, answers
 * no_usable_index. Refuge does not, by choice: the path index gives every field's order, and
 * without it (autoIndex off) the matches are sorted in memory, as they are whenever the path index
 * narrows on another field than the sort's. Only `allow_fallback: false`, which asks for an index
 * or nothing, gets CouchDB's refusal.
 */
function allDocsSorts(selector: Selector, sort: readonly SortField[]): boolean {
  if (sort.length === 0) return true;
  if (sort.length > 1 || sort[0]!.field !== '_id') return false;
  const bounds = (sel: Selector): boolean =>
    sel.kind === 'and' ? sel.clauses.some(bounds) : sel.kind === 'field' && sel.field === '_id' && ID_BOUNDS.has(sel.cond.op);
  return bounds(selector);
}

const ID_BOUNDS = new Set(['$eq', '$gt', '$gte', '$lt', '$lte', '$beginsWith', '$exists']);

/**
 * The documents `ids` allows (every one without it), in id order, when no path-index scan applies.
 * A page after a bookmark starts past its document: the rows before it are not read again.
 */
async function* scanDocs(reader: KvReader, ids: IdBounds | undefined, descending: boolean, after: string | undefined): AsyncGenerator<Array<[IndexPlace, string | undefined]>> {
  const pastAfter = (id: string) => after === undefined || compareStrings(id, after) * (descending ? -1 : 1) > 0;
  if (ids !== undefined && 'keys' in ids) {
    const keys = (descending ? [...ids.keys].reverse() : ids.keys).filter(pastAfter);
    for (let i = 0; i < keys.length; i += 256) {
      const chunk = keys.slice(i, i + 256);
      const values = await reader.getMany(chunk.map(docKey));
      yield chunk.map((id, k) => [[0, '', id], values[k]]);
    }
    return;
  }
  const range: KvRange = { reverse: descending };
  if (ids?.gt !== undefined) range.gt = DOC + ids.gt;
  else range.gte = DOC + (ids?.gte ?? '');
  if (ids?.lt !== undefined) range.lt = DOC + ids.lt;
  else if (ids?.lte !== undefined) range.lte = DOC + ids.lte;
  else range.lt = 'd"';
  if (after !== undefined) narrowPast(range, DOC + after, descending);
  for await (const chunk of reader.scan(range, 256)) yield chunk.map(([k, v]) => [[0, '', k.slice(DOC.length)], v]);
}

/** Moves the range's start (its end, read backwards) past `key`, where `key` is further in. */
function narrowPast(range: KvRange, key: string, descending: boolean): void {
  if (!descending) {
    const from = range.gt ?? range.gte!;
    if (compareStrings(key, from) >= 0) {
      delete range.gte;
      range.gt = key;
    }
    return;
  }
  const to = range.lt ?? range.lte!;
  if (compareStrings(key, to) <= 0) {
    delete range.lte;
    range.lt = key;
  }
}

/**
 * The answer's documents chunk by chunk, read through `reader` (one snapshot) in the answer's order
 * where the plan gives it, so reading stops once the page is in hand; sorted in memory, every match
 * is read, then sorted. `end()` is final once the chunks ended.
 */
export function findChunks(
  reader: KvReader,
  parsed: ParsedFind,
  opts: { conflicts?: boolean; executionStats?: boolean; fragmented?: Fragmented },
): Pick<FindListing, 'chunks' | 'end'> {
  const { selector, sort, plan, bookmark } = parsed;
  const stats = { keys: 0, docs: 0 };
  const inMemorySort = sort.length > 0 && !plan.sortedByIndex;
  const descending = plan.sortedByIndex && sort[0]!.dir === 'desc';
  const placeKind: PlaceKind = plan.scan ? 'index' : 'docs';
  // Read in answer order, rows up to the bookmark's place are passed over unread. Sorted in
  // memory, those up to the bookmark's sort key are left out as they come.
  const sortFrom = inMemorySort ? sortAnchor(bookmark, sort) : undefined;
  const pager = new FindPager(parsed, inMemorySort ? undefined : placeKind, sortFrom);
  const indexFrom = inMemorySort ? undefined : placeAnchor(bookmark, placeKind);
  const pastAnchor = (place: IndexPlace) => indexFrom === undefined || compareIndexPlaces(place, indexFrom) * (descending ? -1 : 1) > 0;
  /** The document at `place` if it is an answer: live, no design document, matching, with the sort fields. */
  const match = (place: IndexPlace, raw: string | undefined): Doc | undefined => {
    const id = place[2];
    // Mango never answers design documents (CouchDB's _find skips them).
    if (raw === undefined || id.startsWith('_design/') || decodeHead(raw).deleted) return undefined;
    stats.docs++;
    const rec = decodeRecord(id, raw);
    const doc = buildDoc(rec, rec.rev, rec.body, { conflicts: opts.conflicts });
    return matchSelector(doc, selector) && hasSortFields(sort, doc) ? doc : undefined;
  };
  // The candidates in read order, a chunk at a time, each with the index rows it stands for (itself
  // and those passed over before it), counted as examined once it is: a chunk read ahead of the
  // page's last row is not examined (execution_stats, as CouchDB counts rows one by one).
  const candidates = async function* (): AsyncGenerator<Array<[IndexPlace, string | undefined, number]>> {
    if (plan.scan) {
      const seen = new Set<string>();
      let passed = 0;
      // Sorted in memory every match is read: chunks are full-sized from the first.
      const first = inMemorySort ? 512 : parsed.skip + parsed.limit;
      for await (const rows of scanRows(reader, plan.scan, descending, { keys: 0 }, opts.fragmented, 512, first)) {
        const fresh: Array<[IndexPlace, number]> = [];
        // A document met again further on an array path was answered (or not) where first met.
        for (const place of rows) {
          passed++;
          if (seen.has(place[2])) continue;
          seen.add(place[2]);
          if (!pastAnchor(place)) continue;
          fresh.push([place, passed]);
          passed = 0;
        }
        const values = await reader.getMany(fresh.map(([p]) => docKey(p[2])));
        yield fresh.map(([p, rows], i) => [p, values[i], rows]);
      }
      stats.keys += passed;
    } else {
      // Documents by id: descending only for an `_id` sort that asks it (other sorts are made in memory).
      for await (const chunk of scanDocs(reader, plan.ids, descending, indexFrom?.[2])) yield chunk.map(([place, raw]) => [place, raw, 1]);
    }
  };
  const chunks = async function* (): AsyncGenerator<Doc[], void, undefined> {
    try {
      if (!pager.wantsMore) return;
      for await (const chunk of candidates()) {
        const out: Doc[] = [];
        for (const [place, raw, rows] of chunk) {
          stats.keys += rows;
          const doc = match(place, raw);
          if (doc === undefined) continue;
          if (inMemorySort) pager.hold(doc);
          else {
            const given = pager.take(doc, place);
            if (given) out.push(given);
            if (!pager.wantsMore) break;
          }
        }
        if (out.length > 0) yield out;
        if (!pager.wantsMore) return;
      }
      if (inMemorySort) yield* pager.sorted();
    } finally {
      pager.ended();
    }
  };
  return { chunks: chunks(), end: () => pager.end(!plan.scan, stats.keys, stats.docs, opts.executionStats) };
}
