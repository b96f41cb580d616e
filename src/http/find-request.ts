// A `_find`/`_explain` body read as CouchDB's mango_opts:validate_find reads it: each option's type
// checked in mango_opts' order, so that of several bad options the same one is named; keys it does
// not know refused only once every known one has passed. A partition, in the body or the query
// string, is checked as CouchDB checks one; no database is partitioned here, so `_find` refuses it
// when it runs (design's find), and `_explain` shows it.

import { RefugeError } from '../errors/index.ts';
import { nonNegative } from '../documents/index.ts';
import { parseUseIndex, type MangoFindRequest } from '../design/index.ts';
import { normalizeFindSelector, parseFields, parseSort } from '../query/index.ts';
import type { Query } from './params.ts';

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

const posInteger = (v: unknown) => {
  if (!(Number.isSafeInteger(v) && (v as number) > 0)) throw new RefugeError('invalid_pos_integer', `${show(v)} is not an integer greater than zero`);
};
const boolean = (v: unknown) => {
  if (typeof v !== 'boolean') throw new RefugeError('invalid_boolean', `Invalid boolean value: ${show(v)}`);
};
/** mango_opts:validate_partition: "" is no partition, anything else what couch_partition:validate_partition allows. */
const partition = (v: unknown) => {
  if (v === '') return;
  const illegal = (reason: string) => new RefugeError('illegal_partition', reason);
  if (typeof v !== 'string') throw illegal('Partition must be a string');
  if (v.startsWith('_')) throw illegal('Partition must not start with an underscore');
  if (v.includes(':')) throw illegal('Partition must not contain a colon');
};

/**
 * mango_opts:validate_find's options in its order, each with its validator (undefined: absent).
 * `allow_fallback` (CouchDB 3.4) is checked after the others. A bookmark's type is checked here;
 * what it holds is read when the query runs, as mango's cursors read it.
 */
const VALIDATORS: Array<[string, (v: unknown) => void]> = [
  ['selector', () => undefined], // its own step: required, and normalized for its errors
  ['use_index', (v) => parseUseIndex(v)],
  ['bookmark', (v) => {
    // CouchDB refuses a non-string bookmark too, but with an error mango_error has no clause for
    // (a 500 "unknown_error"): a client's mistake is answered as one here, invalid_bookmark.
    if (v !== null && typeof v !== 'string') throw new RefugeError('invalid_bookmark', `Invalid bookmark value: ${show(v)}`);
  }],
  ['limit', (v) => nonNegative(v, 0)],
  ['skip', (v) => nonNegative(v, 0)],
  ['sort', (v) => parseSort(v)],
  ['fields', (v) => parseFields(v)],
  ['partition', partition],
  ['r', posInteger],
  ['conflicts', boolean],
  ['stale', (v) => {
    if (v !== 'ok' && v !== 'false' && v !== false) throw new RefugeError('invalid_ok_or_false_value', `Invalid value for stale: ${show(v)}`);
  }],
  ['update', boolean],
  ['stable', boolean],
  ['execution_stats', boolean],
  ['allow_fallback', boolean],
];

const KNOWN = new Set(VALIDATORS.map(([key]) => key));

function checkFindBody(body: Record<string, unknown>): void {
  if (body.selector === undefined) throw new RefugeError('missing_required_key', 'Missing required key: selector');
  normalizeFindSelector(body.selector);
  for (const [key, validate] of VALIDATORS) if (body[key] !== undefined) validate(body[key]);
  for (const key of Object.keys(body)) {
    if (!KNOWN.has(key)) throw new RefugeError('invalid_key', `Invalid key ${key} for this request.`);
  }
}

/**
 * A `partition` in the query string goes into a body that names none (mango_httpd's
 * maybe_set_partition), so `POST /db/_find?partition=p` is the body's `"partition": "p"`. Where
 * the body names one too CouchDB answers an error of its own; the body's is kept here.
 */
function withQueryPartition(body: Record<string, unknown>, query: Query): Record<string, unknown> {
  const given = query.partition;
  // chttpd:qs_value reads the first of repeated names.
  const first = Array.isArray(given) ? given[0] : given;
  return first === undefined || body.partition !== undefined ? body : { ...body, partition: first };
}

/** The library request for a checked `_find`/`_explain` body (and its query string's partition). */
export function findRequest(given: Record<string, unknown>, query: Query = {}): MangoFindRequest {
  const body = withQueryPartition(given, query);
  checkFindBody(body);
  return {
    selector: body.selector,
    fields: body.fields,
    sort: body.sort,
    limit: body.limit as number | undefined,
    skip: body.skip as number | undefined,
    bookmark: body.bookmark as string | undefined,
    conflicts: body.conflicts as boolean | undefined,
    executionStats: body.execution_stats === true,
    allowFallback: body.allow_fallback as boolean | undefined,
    useIndex: body.use_index,
    update: body.update as boolean | undefined,
    // Nothing to wait for or agree on with one node, but `_explain` echoes them as CouchDB does.
    r: body.r as number | undefined,
    stale: body.stale === 'ok' ? 'ok' : body.stale === undefined ? undefined : false,
    stable: body.stable as boolean | undefined,
    ...(body.partition ? { partition: body.partition as string } : {}),
  };
}
