// Request parameters with CouchDB's conventions: query-string keys are JSON-encoded, booleans are the
// words true/false, numbers are integers (anything else is a 400 naming the parameter); and the
// content type that bodiless POSTs must still declare.

import { RefugeError } from '../errors/index.ts';
import { badContentType } from './errors.ts';

export type Query = Record<string, string | string[] | undefined>;

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export function bool(q: Query, name: string, dflt = false): boolean {
  const v = one(q, name);
  if (v === undefined) return dflt;
  // Any case, as CouchDB's view options take it (couch_mrview_http lowercases): Python's
  // `requests` sends `True` for `params={'include_docs': True}`.
  const lower = v.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw new RefugeError('bad_request', `Invalid boolean parameter: "${name}"`);
}

/**
 * A flag of `_changes` or of a document read, as CouchDB's parse_changes_query and parse_doc_query
 * read one: on for the exact word `true`, and any other value ignored (off), not refused as a
 * view option's is (`revs=1` is no error, and no `_revisions`).
 */
export function trueFlag(q: Query, name: string): boolean {
  return one(q, name) === 'true';
}

/**
 * A document write's `new_edits`, as CouchDB's parse_doc_query reads it: off for the exact word
 * `false` alone. `False` (Python's `requests` spelling) is an interactive edit there, judged
 * against the document's revisions, not a replicated write storing the rev it is given.
 */
export function newEditsParam(q: Query): boolean {
  return one(q, 'new_edits') !== 'false';
}

export function int(q: Query, name: string): number | undefined {
  const v = one(q, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(v)) throw new RefugeError('bad_request', `Invalid integer parameter: "${name}"`);
  return Number(v);
}

export function json(q: Query, name: string): unknown {
  const v = one(q, name);
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch (err) {
    throw new RefugeError('bad_request', `Invalid JSON in parameter "${name}"`, { cause: err });
  }
}

export function str(q: Query, name: string): string | undefined {
  return one(q, name);
}

export function jsonStringArray(value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new RefugeError('bad_request', `${name} must be an array of strings`);
  }
  return value;
}

/** A request body that must be a JSON object. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RefugeError('bad_request', 'Request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/**
 * The longest delay Node's timers take (2^31-1 ms, about 24.8 days): a longer one fires after 1 ms
 * instead, with a warning, so `heartbeat=9999999999` sent a heartbeat every millisecond and a
 * longpoll's `timeout` ended it at once. Durations from a request are held to it (as good as for ever).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** An integer parameter that is a duration in milliseconds, at most MAX_TIMER_MS. */
export function msParam(q: Query, name: string): number | undefined {
  const ms = int(q, name);
  return ms === undefined ? undefined : Math.min(ms, MAX_TIMER_MS);
}

/** CouchDB's `changes_timeout`: a feed's heartbeat comes at least this often (couch_changes:get_changes_timeout). */
const MAX_HEARTBEAT_MS = 60_000;

/**
 * A feed's `heartbeat`: `true` (60 s) or a positive number of milliseconds, at most 60 s as CouchDB
 * caps it (a proxy that drops a connection idle for 90 s keeps a feed asked for `heartbeat=120000`).
 */
export function heartbeatParam(q: Query): number | undefined {
  const raw = str(q, 'heartbeat');
  if (raw === undefined) return undefined;
  if (raw === 'true') return MAX_HEARTBEAT_MS;
  if (!/^-?[0-9]+$/.test(raw)) throw new RefugeError('bad_request', 'Invalid heartbeat value. Expecting a positive integer value (in milliseconds).');
  const ms = Number(raw);
  if (!(ms > 0) || !Number.isSafeInteger(ms)) throw new RefugeError('bad_request', 'The heartbeat value should be a positive integer (in milliseconds).');
  return Math.min(ms, MAX_HEARTBEAT_MS);
}

/**
 * CouchDB's check on POSTs that act without a body (`_compact`, `_view_cleanup`): the request must
 * say application/json, which a page on another site cannot send without the browser asking first.
 */
export function requireJsonType(headers: { 'content-type'?: string | undefined }): void {
  const type = headers['content-type']?.split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw badContentType();
}
