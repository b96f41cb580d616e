// Mango's `_explain` answer, in CouchDB's wire shape (snake_case, as the HTTP API returns it): the
// index a query would use, the options it would run with, and the view arguments (`mrargs`).

import { scanBounds, type IndexScan } from '../query/index.ts';
import type { FindRequest, ParsedFind } from './find.ts';

/** The request options as CouchDB echoes them under `opts`. */
export function explainOpts(req: FindRequest & { useIndex?: unknown; update?: boolean }, limit: number, skip: number) {
  const useIndex = req.useIndex;
  return {
    use_index: typeof useIndex === 'string' ? [useIndex] : Array.isArray(useIndex) ? useIndex : [],
    bookmark: req.bookmark ?? 'nil',
    limit,
    skip,
    sort: req.sort ?? {},
    fields: req.fields ?? 'all_fields',
    partition: '',
    r: 1,
    conflicts: req.conflicts === true,
    stale: false,
    update: req.update !== false,
    stable: false,
    execution_stats: req.executionStats === true,
  };
}

/** View arguments as CouchDB reports them; keys only where the scan states them as values. */
export function explainMrargs(keys: { start?: unknown; end?: unknown }, descending: boolean, req: FindRequest & { update?: boolean }) {
  return {
    include_docs: true,
    view_type: 'map',
    reduce: false,
    partition: null,
    ...('start' in keys && { start_key: keys.start }),
    ...('end' in keys && { end_key: keys.end }),
    direction: descending ? 'rev' : 'fwd',
    stable: false,
    update: req.update !== false,
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

const ALL_DOCS = { ddoc: null, name: '_all_docs', type: 'special', partitioned: false, def: { fields: [{ _id: 'asc' }] } };

/** `_explain` for a query the path index (or, without a usable clause, `_all_docs`) serves. */
export function explainFind(dbName: string, parsed: ParsedFind, req: FindRequest & { useIndex?: unknown; update?: boolean }) {
  const { scan, sortedByIndex, reason } = parsed.plan;
  const descending = sortedByIndex && parsed.sort[0]?.dir === 'desc';
  const pathIndex = scan && { ddoc: null, name: '_path_index', type: 'path', partitioned: false, def: { path: scan.path, scan } };
  return {
    dbname: dbName,
    index: pathIndex ?? ALL_DOCS,
    partitioned: false,
    selector: req.selector,
    opts: explainOpts(req, parsed.limit, parsed.skip),
    limit: parsed.limit,
    skip: parsed.skip,
    fields: parsed.fields ?? 'all_fields',
    mrargs: explainMrargs(scanKeys(scan), descending, req),
    covering: false,
    // The indexes this query could have used instead, and why they were not (CouchDB 3.4).
    index_candidates: pathIndex ? [{ index: ALL_DOCS, analysis: { usable: true, reasons: [{ name: 'unfavored_type' }], ranking: 1, covering: null } }] : [],
    sorted_by_index: sortedByIndex,
    reason,
    range: scan ? scanBounds(scan) : null,
  };
}
