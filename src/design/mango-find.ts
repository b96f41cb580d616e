// `_find` over Mango json indexes (design documents with `language: "query"`, built as views):
// chosen when `use_index` names one or one fits the selector; otherwise the path index answers.
// Index rows only narrow the candidates; every document is checked against the whole selector.
import type { Database, Doc, ExplainRequest, FindListing } from '../documents/index.ts';
import { explainMrargs, explainOpts, explainSelector, FindPager, placeAnchor, parseFindOptions, readsStale, sortAnchor, type IndexPlace } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { hasSortFields, matchSelector, normalizeFindSelector, parseSort, requiresField, type Selector } from '../query/index.ts';
import { describeRange, explainKeys, indexDefinitionOf, isConstantField, rangeFor, WHOLE_INDEX, type IndexDefinition, type ViewIndexes } from '../views/index.ts';

/**
 * A find with CouchDB's `use_index` ("ddoc" or ["ddoc", "name"]) and `update` (false, or `stale:
 * "ok"`, reads a json index as it stands, without bringing it up to date first).
 */
export type MangoFindRequest = ExplainRequest;

interface JsonIndex {
  ddocId: string;
  name: string;
  fields: string[];
  partial: boolean;
  /** As `_index` lists it (and `_explain` names it). */
  def: IndexDefinition;
}

/** The json indexes of the design documents, read as their views map documents (and as `_index` lists them). */
function jsonIndexes(ddocs: readonly Doc[]): JsonIndex[] {
  const out: JsonIndex[] = [];
  for (const d of ddocs) {
    if (d.language !== 'query' || !d.views || typeof d.views !== 'object') continue;
    for (const [name, v] of Object.entries(d.views as Record<string, unknown>)) {
      const def = indexDefinitionOf(v);
      if (!def) continue;
      out.push({ ddocId: d._id!, name, fields: def.fields.map((f) => Object.keys(f)[0]!), partial: def.partial_filter_selector !== undefined, def });
    }
  }
  return out;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * CouchDB's `use_index`: "ddoc", "ddoc/name", "_design/ddoc", [ddoc] or [ddoc, name]; null and []
 * name none. A string is split at its first `/` only, as CouchDB does, so "_design/a/b" is the
 * design document "_design/a/b", not index b of "_design/a".
 */
export function wanted(useIndex: unknown): { ddoc: string; name?: string } | undefined {
  if (useIndex === undefined || useIndex === null) return undefined;
  let parts: unknown[];
  if (typeof useIndex === 'string') {
    const slash = useIndex.indexOf('/');
    parts = slash < 0 ? [useIndex] : useIndex.slice(0, slash) === '_design' ? [useIndex] : [useIndex.slice(0, slash), useIndex.slice(slash + 1)];
  } else if (Array.isArray(useIndex)) parts = useIndex;
  else parts = [null];
  if (parts.length === 0) return undefined;
  const [ddoc, name] = parts;
  if (parts.length > 2 || typeof ddoc !== 'string' || (parts.length === 2 && typeof name !== 'string')) {
    throw new RefugeError('invalid_index_name', `Invalid index name: ${JSON.stringify(useIndex)}`);
  }
  return { ddoc: ddoc.startsWith('_design/') ? ddoc : `_design/${ddoc}`, ...(typeof name === 'string' ? { name } : {}) };
}

export interface JsonIndexChoice {
  ix: JsonIndex;
  range: { gte: string; lt: string };
}

/**
 * Whether a json index on `ix.fields` holds every document the selector can match (CouchDB's
 * is_usable): each field is one the selector needs to exist. Sort fields are exempt, as in CouchDB
 * (a sorted answer holds only documents that have them), and so are `_id` and `_rev`.
 */
function usable(ix: JsonIndex, selector: Selector, sortFields: ReadonlySet<string>): boolean {
  return ix.fields.every((f) => f === '_id' || f === '_rev' || sortFields.has(f) || requiresField(selector, f));
}

/** How many leading fields of the index the selector narrows (CouchDB's composite prefix). */
function prefixLength(ix: JsonIndex, selector: Selector): number {
  let n = 0;
  while (n < ix.fields.length && rangeFor(selector, [ix.fields[n]!])) n++;
  return n;
}

/**
 * The json index `req` should use, and CouchDB's warning when `use_index` named one that cannot
 * serve it. A usable index (see `usable`) named by `use_index` is used, over its whole key range if
 * the selector does not narrow its first field; partial indexes only when named, as in CouchDB.
 * Otherwise CouchDB's planner: among usable indexes whose first field the selector narrows, one
 * that gives the sort's order, the longest narrowed prefix, then the fewest fields, then the first
 * by design doc id and name.
 */
export function chooseJsonIndex(ddocs: readonly Doc[], req: MangoFindRequest): { choice?: JsonIndexChoice; warning?: string } {
  if (req.selector === undefined) throw new RefugeError('missing_required_key', 'Missing required key: selector');
  const want = wanted(req.useIndex);
  const selector = normalizeFindSelector(req.selector);
  const sortFields = new Set(parseSort(req.sort).map((s) => s.field));
  // Sorted so that, of equally good indexes, the first by design doc id and name wins.
  const all = jsonIndexes(ddocs).sort((a, b) => byString(a.ddocId, b.ddocId) || byString(a.name, b.name));
  if (want) {
    const named = all.find((ix) => ix.ddocId === want.ddoc && (want.name === undefined || ix.name === want.name) && usable(ix, selector, sortFields));
    if (named) return { choice: { ix: named, range: rangeFor(selector, named.fields) ?? WHOLE_INDEX } };
  }
  const sort = parseSort(req.sort);
  let best: { ix: JsonIndex; range: JsonIndexChoice['range']; prefix: number; sorts: boolean } | undefined;
  for (const ix of all) {
    if (ix.partial || !usable(ix, selector, sortFields)) continue;
    const sorts = sort.length > 0 && indexOrder(ix, sort, selector) !== undefined;
    // An index the selector does not narrow still serves a sort on its leading fields, whole (CouchDB
    // picks it: it holds every document that has the sort fields, and only those are answered).
    const range = rangeFor(selector, ix.fields) ?? (sorts ? WHOLE_INDEX : undefined);
    if (!range) continue;
    const prefix = prefixLength(ix, selector);
    // One in the sort's order first: CouchDB does not use an index that cannot give it (can_use_sort).
    const better = !best || (sorts !== best.sorts ? sorts : prefix !== best.prefix ? prefix > best.prefix : ix.fields.length < best.ix.fields.length);
    if (better) best = { ix, range, prefix, sorts };
  }
  const choice = best && { ix: best.ix, range: best.range };
  if (!want) return choice ? { choice } : {};
  const ddoc = want.ddoc;
  const warning =
    want.name === undefined
      ? `${ddoc} was not used because it does not contain a valid index for this query.`
      : `${ddoc}, ${want.name} was not used because it is not a valid index for this query.`;
  return choice ? { choice, warning } : { warning };
}

/** CouchDB's `_explain` answer for a query a json index serves. */
export function explainJsonIndex(dbName: string, choice: JsonIndexChoice, req: MangoFindRequest) {
  const parsed = parseFindOptions(req); // refuses what find would refuse
  const { selector, limit, skip, sort } = parsed;
  const descending = indexOrder(choice.ix, sort, selector) === 'desc';
  return {
    dbname: dbName,
    index: { ddoc: choice.ix.ddocId, name: choice.ix.name, type: 'json', partitioned: false, def: choice.ix.def },
    partitioned: false,
    selector: explainSelector(req.selector),
    opts: explainOpts(req, parsed),
    limit,
    skip,
    fields: parsed.fields ?? 'all_fields',
    mrargs: explainMrargs(mrargsKeys(choice.ix, selector, descending), descending, req),
    covering: false,
    // As the path index's explain says it: which clauses narrowed the read.
    reason: `json index ${choice.ix.ddocId}/${choice.ix.name}: ${describeRange(selector, choice.ix.fields)}`,
    range: choice.range,
  };
}

/** The view keys of a json index read, as CouchDB's explain states them: swapped when read backwards (its apply_opts). */
function mrargsKeys(ix: JsonIndex, selector: Selector, descending: boolean): { start: unknown; end: unknown } {
  const { start, end } = explainKeys(selector, ix.fields);
  return descending ? { start: end, end: start } : { start, end };
}

/**
 * The direction to read the index in when its order is the answer's: no sort, or a sort on its
 * leading fields, all ascending or all descending, past leading fields the selector fixes to one
 * value (CouchDB's can_use_sort: an index on [type, date] reads {type: "post"} in date order). Rows
 * then come as CouchDB reads them: in the index's collation, equal keys by the index's further
 * fields, then by document id (or all of it reversed). Undefined when the answer must be sorted whole.
 */
function indexOrder(ix: JsonIndex, sort: ReadonlyArray<{ field: string; dir: string }>, selector: Selector): 'asc' | 'desc' | undefined {
  let from = 0;
  while (sort.length > 0 && from < ix.fields.length && ix.fields[from] !== sort[0]!.field && isConstantField(selector, ix.fields[from]!)) from++;
  if (!sort.every((s, i) => ix.fields[from + i] === s.field)) return undefined;
  return sort[0]?.dir === 'desc' ? 'desc' : 'asc';
}

/** Candidates fetched and checked at a time while the index is read in answer order. */
const CHUNK = 100;

/**
 * Runs `req` over the chosen json index; every candidate is checked against the whole selector.
 * When the index's order (or its reverse) is the answer's, documents are given out as they are
 * found and reading stops once the page (and its bookmark's anchor) is found, as CouchDB's does,
 * instead of reading the whole range. The group stays open until the listing is closed.
 */
export async function jsonIndexListing(db: Database, views: ViewIndexes, choice: JsonIndexChoice, req: MangoFindRequest): Promise<FindListing> {
  const parsed = parseFindOptions(req);
  const { ix, range } = choice;
  const { selector, sort, bookmark } = parsed;
  const order = indexOrder(ix, sort, selector);
  const streaming = order !== undefined;
  // In the index's order, the read starts past the bookmark's row; sorted in memory, every match
  // is read, sorted, and those up to the bookmark's are passed over.
  const sortFrom = streaming ? undefined : sortAnchor(bookmark, sort);
  const indexFrom = streaming ? placeAnchor(bookmark, 'view') : undefined;
  const pager = new FindPager(parsed, streaming ? 'view' : undefined, sortFrom);
  // The group stays open for the whole read, even if its design document is edited meanwhile.
  const { group, release } = await views.heldGroup(choice.ix.ddocId, readsStale(req) ? 'false' : 'true');
  // Rows and documents are counted as CouchDB reads them, one by one up to the last a streamed page
  // needs: those fetched ahead in its chunk were not examined (execution_stats, the scan warning).
  const count = { keys: 0, docs: 0, keysAtEnd: undefined as number | undefined };
  type Candidate = { id: string; keys: number; place: IndexPlace };
  const check = async function* (batch: Candidate[]): AsyncGenerator<Doc[], void, undefined> {
    const res = await db.allDocs({ keys: batch.map((p) => p.id), includeDocs: true, conflicts: req.conflicts === true });
    const out: Doc[] = [];
    for (let i = 0; i < res.rows.length; i++) {
      if (!pager.wantsMore) {
        count.keysAtEnd ??= batch[i]!.keys - 1;
        break;
      }
      count.docs++;
      const doc = res.rows[i]!.doc as Doc | undefined;
      if (!doc || !matchSelector(doc, selector as Selector) || !hasSortFields(sort, doc)) continue;
      if (!streaming) pager.hold(doc);
      else {
        const given = pager.take(doc, batch[i]!.place);
        if (given) out.push(given);
      }
    }
    if (out.length > 0) yield out;
  };
  const chunks = async function* (): AsyncGenerator<Doc[], void, undefined> {
    try {
      const seen = new Set<string>();
      let pending: Candidate[] = [];
      for await (const row of group.scanRows(ix.name, range, order === 'desc', { after: indexFrom?.[1] })) {
        count.keys++;
        if (seen.has(row.id) || row.id.startsWith('_design/')) continue;
        seen.add(row.id);
        pending.push({ id: row.id, keys: count.keys, place: [0, row.suffix, row.id] });
        if (pending.length < (streaming ? CHUNK : 500)) continue;
        yield* check(pending);
        pending = [];
        if (!pager.wantsMore) break;
      }
      if (pending.length > 0) yield* check(pending);
      // Read in the answer's order, the rows keep it: the index's collation (strings as CouchDB's
      // ICU order has them, ties by its further fields, then id) is the answer's, on every page
      // alike. A sort of the read prefix by another order would move rows across the bookmark's place.
      if (!streaming) yield* pager.sorted();
    } finally {
      pager.ended();
    }
  };
  const rows = chunks();
  let closing: Promise<void> | undefined;
  return {
    chunks: rows,
    end: () => pager.end(false, count.keysAtEnd ?? count.keys, count.docs, req.executionStats),
    close: () =>
      (closing ??= (async () => {
        await rows.return(undefined).catch(() => undefined);
        release();
      })()),
  };
}
