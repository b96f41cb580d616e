// CouchDB's search request parameters (GET query string or POST body) to a query on SearchIndexes,
// so the HTTP route `/{db}/_design/{ddoc}/_search/{index}` is one call.
import { RefugeError } from '../errors/index.ts';
import { updateMode } from '../indexers/index.ts';
import { parseError } from './query-parser.ts';
import type { SearchIndexes } from './search-indexes.ts';
import type { SearchQuery, SearchResult } from './types.ts';

const UNSUPPORTED = ['counts', 'ranges', 'drilldown', 'group_field', 'group_limit', 'group_sort', 'highlight_fields'];

function bool(name: string, v: unknown): boolean | undefined {
  if (v === undefined || v === true || v === false) return v;
  // Any case, as the database's own query flags (Python's requests sends True).
  const lower = typeof v === 'string' ? v.toLowerCase() : v;
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw parseError(`${name} must be true or false`);
}

function int(name: string, v: unknown): number | undefined {
  if (v === undefined || typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/u.test(v)) return Number(v);
  throw parseError(`${name} must be a non-negative integer`);
}

/** A value that may arrive as JSON text in a query string (`sort=["a","-b"]`) or as JSON in a body. */
function json(name: string, v: unknown): unknown {
  if (typeof v !== 'string' || !/^\s*[[{"]/u.test(v)) return v;
  try {
    return JSON.parse(v);
  } catch (err) {
    throw new RefugeError('query_parse_error', `${name} is not valid JSON`, { cause: err });
  }
}

/** Reads the parameters into a SearchQuery plus the update mode and `include_fields`. */
export function searchParams(params: Readonly<Record<string, unknown>>): {
  query: SearchQuery;
  update: ReturnType<typeof updateMode>;
  includeFields?: string[];
} {
  for (const p of UNSUPPORTED) {
    if (params[p] !== undefined) throw new RefugeError('bad_request', `the search parameter ${p} is not supported`);
  }
  const q = params.q ?? params.query;
  if (typeof q !== 'string' || q === '') throw parseError('the search needs a query string in q (or query)');
  const query: SearchQuery = { q };
  const limit = int('limit', params.limit);
  if (limit !== undefined) query.limit = limit;
  if (params.bookmark !== undefined) {
    if (typeof params.bookmark !== 'string') throw parseError('bookmark must be a string');
    query.bookmark = params.bookmark;
  }
  const sort = json('sort', params.sort);
  if (sort !== undefined) query.sort = sort as string | string[];
  if (bool('include_docs', params.include_docs)) query.includeDocs = true;
  const fields = json('include_fields', params.include_fields);
  if (fields !== undefined && (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string'))) {
    throw parseError('include_fields must be a list of field names');
  }
  return { query, update: updateMode(params.update, params.stale), ...(fields ? { includeFields: fields as string[] } : {}) };
}

/**
 * Answers `GET|POST /{db}/_design/{ddoc}/_search/{index}` from its parameters (strings from a query
 * string or JSON values from a body): `{total_rows, bookmark, rows: [{id, order, fields, doc?}]}`.
 */
export async function searchRequest(
  indexes: SearchIndexes,
  ddocName: string,
  indexName: string,
  params: Readonly<Record<string, unknown>>,
): Promise<SearchResult> {
  const { query, update, includeFields } = searchParams(params);
  const result = await indexes.query(ddocName, indexName, query, { update });
  if (!includeFields) return result;
  const keep = new Set(includeFields);
  for (const row of result.rows) row.fields = Object.fromEntries(Object.entries(row.fields).filter(([k]) => keep.has(k)));
  return result;
}
