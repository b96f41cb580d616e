// A `_find`/`_explain` body read as CouchDB's mango_opts:validate_find reads it: each option's type
// checked in mango_opts' order, so that of several bad options the same one is named; keys it does
// not know refused only once every known one has passed. A partition, in the body or the query
// string, is checked as CouchDB checks one; no database is partitioned here, so `_find` refuses it
// when it runs (design's find), and `_explain` shows it.

import { RefugeError } from '../errors/index.ts';
import { parseUseIndex, type MangoFindRequest } from '../design/index.ts';
import { normalizeFindSelector, parseFields, parseSort } from '../query/index.ts';
import { isIntegerText, numberTextOf } from './json-number-text.ts';
import type { Query } from './params.ts';

type Body = Record<string, unknown>;

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/** A float as Erlang's ~w writes the usual ones (2.0, 2.5, 1.0e21), for CouchDB's reasons. */
function erlangFloat(v: number): string {
  const [mantissa, exponent] = String(v).split('e');
  const m = mantissa!.includes('.') ? mantissa! : `${mantissa}.0`;
  return exponent === undefined ? m : `${m}e${exponent.replace('+', '')}`;
}

/**
 * A count (`limit`, `skip`: at least 0; `r`: at least 1) as CouchDB's decoder and mango_opts read
 * it: written with a fraction or an exponent it is a float, refused even when whole (2.0); an
 * integer of any size is taken, held here to the largest safe integer (past any index's end).
 * Without the body's text (a request made in code) a whole number is taken as it is.
 */
function countOf(body: Body, source: object, name: string, min: 0 | 1): number | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  const refuse = (shown: string) =>
    min === 0
      ? new RefugeError('invalid_non_neg_integer', `${shown} is not an integer greater than or equal to zero`)
      : new RefugeError('invalid_pos_integer', `${shown} is not an integer greater than zero`);
  if (typeof v !== 'number') throw refuse(show(v));
  const text = numberTextOf(source, name);
  if (text === undefined ? !Number.isSafeInteger(v) : !isIntegerText(text)) throw refuse(erlangFloat(v));
  if (v < min) throw refuse(text ?? show(v));
  return Math.min(v, Number.MAX_SAFE_INTEGER);
}
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
const VALIDATORS: Array<[string, (v: unknown, body: Body, source: object) => void]> = [
  ['selector', () => undefined], // its own step: required, and normalized for its errors
  ['use_index', (v) => parseUseIndex(v)],
  ['bookmark', (v) => {
    // CouchDB refuses a non-string bookmark too, but with an error mango_error has no clause for
    // (a 500 "unknown_error"): a client's mistake is answered as one here, invalid_bookmark.
    if (v !== null && typeof v !== 'string') throw new RefugeError('invalid_bookmark', `Invalid bookmark value: ${show(v)}`);
  }],
  ['limit', (_v, body, source) => countOf(body, source, 'limit', 0)],
  ['skip', (_v, body, source) => countOf(body, source, 'skip', 0)],
  ['sort', (v) => parseSort(v)],
  ['fields', (v) => parseFields(v)],
  ['partition', partition],
  ['r', (_v, body, source) => countOf(body, source, 'r', 1)],
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

/** `source`: the object the body was parsed into, whose number texts were kept. */
function checkFindBody(body: Body, source: object): void {
  if (body.selector === undefined) throw new RefugeError('missing_required_key', 'Missing required key: selector');
  normalizeFindSelector(body.selector);
  for (const [key, validate] of VALIDATORS) if (body[key] !== undefined) validate(body[key], body, source);
  for (const key of Object.keys(body)) {
    if (!KNOWN.has(key)) throw new RefugeError('invalid_key', `Invalid key ${key} for this request.`);
  }
}

/**
 * A `partition` in the query string goes into a body that names none (mango_httpd's
 * maybe_set_partition), so `POST /db/_find?partition=p` is the body's `"partition": "p"`. Where
 * the body names one too CouchDB answers an error of its own; the body's is kept here.
 */
function withQueryPartition(body: Body, query: Query): Body {
  const given = query.partition;
  // chttpd:qs_value reads the first of repeated names.
  const first = Array.isArray(given) ? given[0] : given;
  return first === undefined || body.partition !== undefined ? body : { ...body, partition: first };
}

/** The library request for a checked `_find`/`_explain` body (and its query string's partition). */
export function findRequest(given: Body, query: Query = {}): MangoFindRequest {
  const body = withQueryPartition(given, query);
  checkFindBody(body, given);
  return {
    selector: body.selector,
    fields: body.fields,
    sort: body.sort,
    limit: countOf(body, given, 'limit', 0),
    skip: countOf(body, given, 'skip', 0),
    bookmark: body.bookmark as string | undefined,
    conflicts: body.conflicts as boolean | undefined,
    executionStats: body.execution_stats === true,
    allowFallback: body.allow_fallback as boolean | undefined,
    useIndex: body.use_index,
    update: body.update as boolean | undefined,
    // Nothing to wait for or agree on with one node, but `_explain` echoes them as CouchDB does.
    r: countOf(body, given, 'r', 1),
    stale: body.stale === 'ok' ? 'ok' : body.stale === undefined ? undefined : false,
    stable: body.stable as boolean | undefined,
    ...(body.partition ? { partition: body.partition as string } : {}),
  };
}
