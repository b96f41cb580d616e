// `_find` over Mango json indexes (design documents with `language: "query"`, built as views):
// used when `use_index` names one, or when the automatic path index is off and one fits.
// Index rows only narrow the candidates; every document is checked against the whole selector.
import type { Database, Doc, FindRequest, FindResult } from '../documents/index.ts';
import { decodeBookmark } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { matchSelector, normalizeSelector, parseFields, parseSort, projectFields, sortComparator, type Selector } from '../query/index.ts';
import { rangeFor, type ViewIndexes } from '../views/index.ts';

export interface MangoFindRequest extends FindRequest {
  /** CouchDB's `use_index`: "ddoc" or ["ddoc", "name"]. */
  useIndex?: unknown;
}

interface JsonIndex {
  ddocId: string;
  name: string;
  fields: string[];
  partial: boolean;
}

function jsonIndexes(ddocs: readonly Doc[]): JsonIndex[] {
  const out: JsonIndex[] = [];
  for (const d of ddocs) {
    if (d.language !== 'query' || !d.views || typeof d.views !== 'object') continue;
    for (const [name, v] of Object.entries(d.views as Record<string, { map?: { fields?: Record<string, string>; partial_filter_selector?: unknown } }>)) {
      const fields = v?.map?.fields;
      if (!fields || typeof fields !== 'object') continue;
      out.push({ ddocId: d._id!, name, fields: Object.keys(fields), partial: v.map!.partial_filter_selector !== undefined });
    }
  }
  return out;
}

function wanted(useIndex: unknown): { ddoc: string; name?: string } | undefined {
  if (useIndex === undefined || useIndex === null) return undefined;
  const [ddoc, name] = Array.isArray(useIndex) ? useIndex : [useIndex];
  if (typeof ddoc !== 'string' || (name !== undefined && typeof name !== 'string')) throw new RefugeError('bad_request', 'use_index must be a string or [ddoc, name]');
  return { ddoc: ddoc.startsWith('_design/') ? ddoc : `_design/${ddoc}`, ...(name !== undefined ? { name } : {}) };
}

/** Answers `req` from a json index, or undefined when the path index (or a full scan) should. */
export async function findWithJsonIndex(
  db: Database,
  views: ViewIndexes,
  ddocs: readonly Doc[],
  req: MangoFindRequest,
  autoIndex: boolean,
): Promise<FindResult | undefined> {
  const want = wanted(req.useIndex);
  if (!want && autoIndex) return undefined;
  if (req.selector === undefined) throw new RefugeError('bad_request', 'Missing required key: selector');
  const selector = normalizeSelector(req.selector);
  const candidates = jsonIndexes(ddocs).filter((ix) =>
    want ? ix.ddocId === want.ddoc && (want.name === undefined || ix.name === want.name) : !ix.partial,
  );
  const chosen = candidates.map((ix) => ({ ix, range: rangeFor(selector, ix.fields) })).find((c) => c.range !== undefined);
  if (!chosen) return undefined;
  const { ix, range } = chosen;
  const started = Date.now();
  const sort = parseSort(req.sort);
  const fields = parseFields(req.fields);
  const limit = req.limit ?? 25;
  const skip = (req.skip ?? 0) + decodeBookmark(req.bookmark);
  const group = await views.group(ix.ddocId);
  const ids: string[] = [];
  const seen = new Set<string>();
  let keys = 0;
  for await (const row of group.scanRows(ix.name, range!)) {
    keys++;
    if (!seen.has(row.id)) {
      seen.add(row.id);
      ids.push(row.id);
    }
  }
  const matched: Doc[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const res = await db.allDocs({ keys: ids.slice(i, i + 500), includeDocs: true, conflicts: req.conflicts === true });
    for (const r of res.rows) if (r.doc && matchSelector(r.doc, selector as Selector)) matched.push(r.doc as Doc);
  }
  if (sort.length > 0) matched.sort(sortComparator(sort));
  const page = matched.slice(skip, skip + limit).map((d) => projectFields(d as Record<string, unknown>, fields) as Doc);
  const result: FindResult = { docs: page, bookmark: btoa(JSON.stringify({ o: skip + page.length })) };
  if (req.executionStats) {
    result.executionStats = { totalKeysExamined: keys, totalDocsExamined: ids.length, resultsReturned: page.length, executionTimeMs: Date.now() - started };
  }
  return result;
}
