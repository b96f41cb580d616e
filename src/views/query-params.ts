// CouchDB's view request parameters into ViewQueryOptions: query strings (values are JSON text for
// keys, `true`/`false` for flags, integers for counts; couch_mrview_http:parse_param with its
// reasons) and POST bodies (the same names with JSON values, `keys`, or `queries` for several
// queries at once). Unknown parameters are ignored, as CouchDB does.

import { RefugeError } from '../errors/index.ts';
import type { UpdateMode } from '../indexers/index.ts';
import type { ViewQueryOptions } from './query-options.ts';

type Params = URLSearchParams | Record<string, string | string[] | undefined>;

const parseError = (reason: string) => new RefugeError('query_parse_error', reason);

function entries(params: Params): Array<[string, string]> {
  if (params instanceof URLSearchParams) {
    const all: Array<[string, string]> = [];
    params.forEach((v, k) => all.push([k, v]));
    return all;
  }
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, one]);
  }
  return out;
}

/** Parses query-string parameters (raw text values); later duplicates win, as in CouchDB. */
export function parseViewParams(params: Params): ViewQueryOptions {
  const o: ViewQueryOptions = {};
  for (const [name, raw] of entries(params)) setParam(o, name, raw, false);
  return o;
}

/**
 * A request: the POST body's members (JSON values), then the query string on top, as in CouchDB
 * (the query string wins). A body with `queries` gives several queries, each on top of the query
 * string.
 */
export function parseViewRequest(params: Params, body?: unknown): { queries: ViewQueryOptions[] } | { options: ViewQueryOptions } {
  const base = parseViewParams(params);
  if (body === undefined || body === null) return { options: base };
  if (typeof body !== 'object' || Array.isArray(body)) throw new RefugeError('bad_request', 'Request body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (b.queries !== undefined) {
    if (!Array.isArray(b.queries)) throw new RefugeError('bad_request', '`queries` member must be an array.');
    return { queries: b.queries.map((q) => applyBody({ ...base }, q)) };
  }
  const o = applyBody({}, b);
  for (const [name, raw] of entries(params)) setParam(o, name, raw, false);
  return { options: o };
}

function applyBody(o: ViewQueryOptions, body: unknown): ViewQueryOptions {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RefugeError('bad_request', 'Each query must be a JSON object');
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (name === 'keys' && !Array.isArray(value)) throw new RefugeError('bad_request', '`keys` member must be an array.');
    setParam(o, name, value, true);
  }
  return o;
}

/** One parameter; `decoded` values come from a JSON body (already typed), others are raw text. */
function setParam(o: ViewQueryOptions, name: string, value: unknown, decoded: boolean): void {
  const json = (): unknown => (decoded ? value : parseJson(value as string));
  switch (name) {
    case 'key':
      o.key = json();
      break;
    case 'keys':
      o.keys = json() as unknown[];
      break;
    case 'startkey':
    case 'start_key':
      o.startkey = json();
      break;
    case 'endkey':
    case 'end_key':
      o.endkey = json();
      break;
    case 'startkey_docid':
    case 'start_key_doc_id':
      o.startkeyDocid = String(value);
      break;
    case 'endkey_docid':
    case 'end_key_doc_id':
      o.endkeyDocid = String(value);
      break;
    case 'limit':
      o.limit = posInt(value);
      break;
    case 'skip':
      o.skip = posInt(value);
      break;
    case 'group_level':
      o.groupLevel = posInt(value);
      break;
    case 'descending':
      o.descending = bool(value);
      break;
    case 'reduce':
      o.reduce = bool(value);
      break;
    case 'group':
      o.group = bool(value);
      break;
    case 'inclusive_end':
      o.inclusiveEnd = bool(value);
      break;
    case 'include_docs':
      o.includeDocs = bool(value);
      break;
    case 'conflicts':
      o.conflicts = bool(value);
      break;
    case 'attachments':
      o.attachments = bool(value);
      break;
    case 'update_seq':
      o.updateSeq = bool(value);
      break;
    case 'update':
      o.update = update(value);
      break;
    case 'stale':
      if (value === 'ok') o.update = 'false';
      else if (value === 'update_after') o.update = 'lazy';
      else throw parseError('Invalid value for `stale`.');
      break;
    // Without effect on one node (rows are always sorted, every read is from the one copy), but
    // checked as CouchDB checks them.
    case 'stable':
      if (!['true', 'false', true, false].includes(value as string | boolean)) throw parseError('Invalid value for `stable`.');
      break;
    case 'partition':
      o.partition = String(value);
      break;
    case 'sorted':
    case 'att_encoding_info':
      bool(value);
      break;
    default:
      break; // callback, unknown names...: accepted and without effect here
  }
}

// CouchDB's decoder throws invalid_json, which chttpd answers for any request the same way
// (chttpd:catch_error): no parameter named, no query_parse_error.
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RefugeError('bad_request', 'invalid UTF-8 JSON', { cause: err });
  }
}

function bool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw parseError(`Invalid boolean parameter: ${JSON.stringify(String(v))}`);
}

/**
 * A count (limit, skip, group_level). CouchDB's are Erlang integers, of any size: one past 2^53 is
 * taken, and held here to the largest safe integer, which counts as far as any index reaches.
 */
function posInt(v: unknown): number {
  const n = typeof v === 'number' ? v : /^[+-]?\d+$/.test(String(v)) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n)) throw parseError(`Invalid value for integer: ${JSON.stringify(String(v))}`);
  if (n < 0) throw parseError(`Invalid value for positive integer: ${JSON.stringify(String(v))}`);
  return Math.min(n, Number.MAX_SAFE_INTEGER);
}

function update(v: unknown): UpdateMode {
  const s = String(v);
  if (s === 'true' || s === 'false' || s === 'lazy') return s;
  throw parseError('Invalid value for `update`.');
}
