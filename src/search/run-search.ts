// Runs one query against a library index: builds the query tree (query string and structured field
// filters), lets the library match and score, then orders, pages and shapes CouchDB's response.
import type { Library } from './library.ts';
import { RefugeError } from '../errors/index.ts';
import { decodeBookmark, encodeBookmark, checkLimit, orderComparator, parseSort, sortValue, type SortKey } from './paging.ts';
import { compileQuery, type CompileContext } from './query-compile.ts';
import { parseError, parseQuery, type QueryNode } from './query-parser.ts';
import type { FetchDocs, SearchQuery, SearchResult } from './types.ts';

function fieldFilter(field: string, value: unknown): QueryNode {
  const values = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'string')) {
    throw parseError(`fields.${field} must be a string or a non-empty list of strings`);
  }
  const alternatives = values.map((v): QueryNode => {
    const words = v.split(/\s+/u).filter((w) => w !== '');
    const terms = words.map((text): QueryNode => ({ type: 'term', field, text }));
    return terms.length === 1 ? terms[0]! : { type: 'bool', must: terms, should: [], not: [] };
  });
  return alternatives.length === 1 ? alternatives[0]! : { type: 'bool', must: [], should: alternatives, not: [] };
}

/** The query tree a SearchQuery asks for: its query string and field filters, all required. */
export function queryTree(query: SearchQuery): QueryNode {
  const parts: QueryNode[] = [];
  if (query.q !== undefined) parts.push(parseQuery(query.q, { any: query.any === true }));
  if (query.fields !== undefined) {
    if (!query.fields || typeof query.fields !== 'object' || Array.isArray(query.fields)) throw parseError('fields must be an object');
    for (const [field, value] of Object.entries(query.fields)) {
      if (field === '') throw parseError('fields: a field name is empty');
      parts.push(fieldFilter(field, value));
    }
  }
  if (parts.length === 0) throw parseError('a query needs q (or fields)');
  return parts.length === 1 ? parts[0]! : { type: 'bool', must: parts, should: [], not: [] };
}

type Hit = ReturnType<Library['search']>[number];
type Keyed = { h: Hit; order: unknown[] };

/**
 * The page after `after` by [score desc, id]. The library already sorts hits by score, so only runs
 * of equal scores that reach the page are sorted by id: a page costs one pass, not a full sort.
 */
function pageByScore(hits: readonly Hit[], after: unknown[] | null, limit: number): Keyed[] {
  let i = 0;
  if (after) {
    const score = after[0] as number;
    let hi = hits.length;
    while (i < hi) {
      const mid = (i + hi) >>> 1;
      if (hits[mid]!.score > score) i = mid + 1;
      else hi = mid;
    }
  }
  const page: Keyed[] = [];
  while (i < hits.length && page.length < limit) {
    let j = i + 1;
    while (j < hits.length && hits[j]!.score === hits[i]!.score) j++;
    const run = hits.slice(i, j).map((h) => ({ h, order: [h.score, h.id as string] }));
    if (j - i > 1) run.sort((a, b) => (a.order[1]! < b.order[1]! ? -1 : 1));
    for (const k of run) {
      if (after && k.h.score === after[0] && (k.order[1] as string) <= (after[1] as string)) continue;
      if (page.length === limit) break;
      page.push(k);
    }
    i = j;
  }
  return page;
}

/** The page after `after` in a stored-field sort: every hit keyed and sorted. */
function pageBySort(hits: readonly Hit[], sort: readonly SortKey[], after: unknown[] | null, limit: number): Keyed[] {
  const cmp = orderComparator(sort);
  const keyed = hits.map((h) => ({ h, order: [...sort.map((k) => sortValue(h.s, k, h.score, h.t, h.n)), h.id as string] }));
  keyed.sort((a, b) => cmp(a.order, b.order));
  let start = 0;
  if (after) {
    let hi = keyed.length;
    while (start < hi) {
      const mid = (start + hi) >>> 1;
      if (cmp(keyed[mid]!.order, after) <= 0) start = mid + 1;
      else hi = mid;
    }
  }
  return keyed.slice(start, start + limit);
}

export function runSearch(library: Library, query: SearchQuery, ctx: CompileContext): SearchResult {
  const limit = checkLimit(query.limit);
  const sort = parseSort(query.sort);
  const after = decodeBookmark(query.bookmark, (sort?.length ?? 1) + 1);
  if (after && !sort && typeof after[0] !== 'number') throw new RefugeError('bad_request', 'Invalid bookmark');
  const hits = library.search(compileQuery(queryTree(query), ctx));
  const page = sort ? pageBySort(hits, sort, after, limit) : pageByScore(hits, after, limit);
  const last = page.at(-1);
  return {
    total_rows: hits.length,
    bookmark: last ? encodeBookmark(last.order) : typeof query.bookmark === 'string' && query.bookmark !== '' ? query.bookmark : encodeBookmark(null),
    rows: page.map(({ h, order }) => ({ id: h.id as string, order, fields: { ...(h.s as Record<string, unknown> | undefined) } })),
  };
}

/** Adds `doc` to each row (null when the document is gone), for `include_docs`. */
export async function attachDocs(result: SearchResult, fetch: FetchDocs): Promise<SearchResult> {
  const docs = await fetch(result.rows.map((r) => r.id));
  return { ...result, rows: result.rows.map((r, i) => ({ ...r, doc: docs[i] ?? null })) };
}
