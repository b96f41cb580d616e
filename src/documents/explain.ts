// Mango's `_explain` answer, in CouchDB's wire shape (snake_case, as the HTTP API returns it): the
// index a query would use, the options it would run with, and the view arguments (`mrargs`).

import { normalizeSelector, scanBounds, selectorJson, type IdBounds, type IndexScan, type SortField } from '../query/index.ts';
import type { FindRequest, ParsedFind } from './find.ts';

/**
 * The options of a `_find` that change nothing on one node but that `_explain` echoes as given
 * (CouchDB's `r`, `stale`, `stable`), beside the index named and `update`.
 */
export interface ExplainRequest extends FindRequest {
  useIndex?: unknown;
  update?: boolean;
  r?: number;
  stale?: 'ok' | false;
  stable?: boolean;
  /** CouchDB's `partition` (none: ""), echoed; no database is partitioned here. */
  partition?: string;
}

/** Whether the request reads an index as it stands: `update: false`, or `stale: "ok"` (which CouchDB reads as that and `stable`). */
export function readsStale(req: { update?: boolean; stale?: 'ok' | false }): boolean {
  return req.update === false || req.stale === 'ok';
}

/** `use_index` as CouchDB validates it (mango_opts): a string split once at "/", "_design/" dropped. */
function useIndexList(useIndex: unknown): unknown[] {
  if (typeof useIndex !== 'string') return Array.isArray(useIndex) ? useIndex : [];
  const slash = useIndex.indexOf('/');
  if (slash < 0) return [useIndex];
  const [head, rest] = [useIndex.slice(0, slash), useIndex.slice(slash + 1)];
  return head === '_design' ? [rest] : [head, rest];
}

/** The selector as CouchDB echoes it: normalized (implicit `$and` and `$eq` spelled out), `{}` for none. */
export function explainSelector(selector: unknown): unknown {
  const json = selectorJson(normalizeSelector(selector)) as Record<string, unknown>;
  return Array.isArray(json.$and) && json.$and.length === 0 ? {} : json;
}

/** The request options as CouchDB echoes them under `opts`, validated (mango_opts:validate_find). */
export function explainOpts(req: ExplainRequest, parsed: { limit: number; skip: number; sort: readonly SortField[]; fields: string[] | undefined }) {
  return {
    use_index: useIndexList(req.useIndex),
    bookmark: req.bookmark || 'nil',
    limit: parsed.limit,
    skip: parsed.skip,
    sort: Object.fromEntries(parsed.sort.map((f) => [f.field, f.dir])),
    fields: parsed.fields ?? 'all_fields',
    partition: req.partition ?? '',
    r: req.r ?? 1,
    conflicts: req.conflicts === true,
    stale: req.stale ?? false,
    update: req.update !== false,
    stable: req.stable === true,
    execution_stats: req.executionStats === true,
    allow_fallback: req.allowFallback !== false,
  };
}

/** View arguments as CouchDB reports them; keys only where the scan states them as values. */
export function explainMrargs(keys: { start?: unknown; end?: unknown }, descending: boolean, req: ExplainRequest) {
  return {
    include_docs: true,
    view_type: 'map',
    reduce: false,
    partition: req.partition || null,
    ...('start' in keys && { start_key: keys.start }),
    ...('end' in keys && { end_key: keys.end }),
    direction: descending ? 'rev' : 'fwd',
    stable: req.stable === true || req.stale === 'ok',
    update: !readsStale(req),
    conflicts: req.conflicts === true,
  };
}

/** The first and last values a path index scan reads (`<MAX>` for no upper bound, as CouchDB writes it). */
function scanKeys(scan: IndexScan | null): { start?: unknown; end?: unknown } {
  if (scan === null) return { start: null, end: '<MAX>' };
  switch (scan.kind) {
    case 'eq':
      return { start: scan.values[0], end: scan.values[scan.values.length - 1] };
    case 'range':
      return { start: scan.gte ?? scan.gt ?? null, end: scan.lte ?? scan.lt ?? '<MAX>' };
    case 'exists':
      return { start: null, end: '<MAX>' };
  }
}

/** The first and last ids an `_all_docs` read of these ids reads (CouchDB's start_key and end_key there). */
function idKeys(ids: IdBounds): { start: unknown; end: unknown } {
  if ('keys' in ids) return { start: ids.keys[0] ?? null, end: ids.keys[ids.keys.length - 1] ?? null };
  return { start: ids.gte ?? ids.gt ?? null, end: ids.lte ?? ids.lt ?? '<MAX>' };
}

// As CouchDB shows it (mango_idx_special:to_json), and as `_index` lists it: no `partitioned`.
const ALL_DOCS = { ddoc: null, name: '_all_docs', type: 'special', def: { fields: [{ _id: 'asc' }] } };

/** `_explain` for a query the path index (or, without a usable clause, `_all_docs`) serves. */
export function explainFind(dbName: string, parsed: ParsedFind, req: ExplainRequest) {
  const { scan, sortedByIndex, reason, ids } = parsed.plan;
  const descending = sortedByIndex && parsed.sort[0]?.dir === 'desc';
  const pathIndex = scan && { ddoc: null, name: '_path_index', type: 'path', partitioned: false, def: { path: scan.path, scan } };
  return {
    dbname: dbName,
    index: pathIndex ?? ALL_DOCS,
    partitioned: false,
    selector: explainSelector(req.selector),
    opts: explainOpts(req, parsed),
    limit: parsed.limit,
    skip: parsed.skip,
    fields: parsed.fields ?? 'all_fields',
    mrargs: explainMrargs(scan === null && ids !== undefined ? idKeys(ids) : scanKeys(scan), descending, req),
    covering: false,
    // The indexes this query could have used instead, and why they were not (CouchDB 3.4).
    index_candidates: pathIndex ? [{ index: ALL_DOCS, analysis: { usable: true, reasons: [{ name: 'unfavored_type' }], ranking: 1, covering: null } }] : [],
    sorted_by_index: sortedByIndex,
    reason,
    range: scan ? scanBounds(scan) : null,
  };
}
