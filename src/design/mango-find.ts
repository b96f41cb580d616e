// `_find` over Mango json indexes (design documents with `language: "query"`, built as views):
// chosen when `use_index` names one or one fits the selector; otherwise the path index answers.
// Index rows only narrow the candidates; every document is checked against the whole selector.
import type { Database, Doc, FindRequest, FindResult } from '../documents/index.ts';
import { parseFindOptions } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { matchSelector, normalizeSelector, projectFields, sortComparator, type Selector } from '../query/index.ts';
import { rangeFor, WHOLE_INDEX, type ViewIndexes } from '../views/index.ts';

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

export interface JsonIndexChoice {
  ix: JsonIndex;
  range: { gte: string; lt: string };
}

/**
 * The json index `req` should use: the one `use_index` names when it fits, else (no `use_index`)
 * the first non-partial index whose leading field the selector constrains, as CouchDB's planner
 * prefers a json index over a scan. Partial indexes are used only when named, as in CouchDB, and
 * then even when the selector cannot narrow them: the answer is what they hold that matches.
 */
export function chooseJsonIndex(ddocs: readonly Doc[], req: MangoFindRequest): JsonIndexChoice | undefined {
  if (req.selector === undefined) throw new RefugeError('missing_required_key', 'Missing required key: selector');
  const want = wanted(req.useIndex);
  const selector = normalizeSelector(req.selector);
  const candidates = jsonIndexes(ddocs).filter((ix) =>
    want ? ix.ddocId === want.ddoc && (want.name === undefined || ix.name === want.name) : !ix.partial,
  );
  for (const ix of candidates) {
    const range = rangeFor(selector, ix.fields) ?? (want && ix.partial ? WHOLE_INDEX : undefined);
    if (range) return { ix, range };
  }
  return undefined;
}

/** CouchDB's `_explain` answer for a query a json index serves. */
export function explainJsonIndex(dbName: string, choice: JsonIndexChoice, req: MangoFindRequest) {
  const { limit, skip } = parseFindOptions(req); // refuses what find would refuse
  return {
    dbname: dbName,
    index: { ddoc: choice.ix.ddocId, name: choice.ix.name, type: 'json', def: { fields: choice.ix.fields.map((f) => ({ [f]: 'asc' })) } },
    selector: req.selector,
    opts: { use_index: req.useIndex ?? [], sort: req.sort ?? {}, fields: req.fields ?? 'all_fields', conflicts: req.conflicts === true },
    limit,
    skip,
    fields: req.fields ?? 'all_fields',
    range: choice.range,
  };
}

/** Runs `req` over the chosen json index; every candidate is checked against the whole selector. */
export async function findWithJsonIndex(db: Database, views: ViewIndexes, choice: JsonIndexChoice, req: MangoFindRequest): Promise<FindResult> {
  const { ix, range } = choice;
  const { selector, sort, fields, limit, skip } = parseFindOptions(req);
  const started = Date.now();
  const group = await views.group(ix.ddocId);
  const ids: string[] = [];
  const seen = new Set<string>();
  let keys = 0;
  for await (const row of group.scanRows(ix.name, range)) {
    keys++;
    if (!seen.has(row.id) && !row.id.startsWith('_design/')) {
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
