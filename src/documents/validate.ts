// Input checks for documents, ids and database names, with CouchDB's errors and wording.
// Everything a caller hands us passes through here before it can reach storage.

import { RefugeError } from '../errors/index.ts';
import { isForeignRev, isValidRev, isValidRevHash, MAX_GENERATION, type Rev } from './rev-tree.ts';
import type { JsonObject } from './types.ts';
import { checkAttachmentName } from './attachments.ts';

/** Special fields a client may send; CouchDB ignores the read-only ones on write. */
const ACCEPTED_SPECIAL = new Set([
  '_id',
  '_rev',
  '_deleted',
  '_revisions',
  '_attachments',
  '_revs_info',
  '_conflicts',
  '_deleted_conflicts',
  '_local_seq',
]);

/**
 * The state CouchDB's replicator writes into `_replicator` documents. CouchDB accepts them in any
 * database and keeps them in the body, so such documents replicate in from CouchDB unchanged.
 */
const REPLICATION_FIELDS = new Set([
  '_replication_state',
  '_replication_state_time',
  '_replication_state_reason',
  '_replication_id',
  '_replication_stats',
]);

const DB_NAME_RE = /^[a-z][a-z0-9_$()+/-]*$/;

/**
 * CouchDB's system databases that a client may create, the only names allowed to start with `_`
 * (`_global_changes` is CouchDB's optional feed of database events; nothing here writes it).
 */
const SYSTEM_DBS = new Set(['_replicator', '_users', '_global_changes']);

export const isSystemDbName = (name: string): boolean => SYSTEM_DBS.has(name);

export function validateDbName(name: unknown): string {
  if (typeof name === 'string' && SYSTEM_DBS.has(name)) return name;
  if (typeof name !== 'string' || !DB_NAME_RE.test(name) || name.length > 238) {
    throw new RefugeError(
      'illegal_database_name',
      "Name: '" + String(name) + "'. Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are allowed. Must begin with a letter.",
      { status: 400 },
    );
  }
  return name;
}

/**
 * How many document ids past 16,383 characters one request may name. V8 hashes longer strings by
 * their length alone, so many such ids of one length turn every Map and Set keyed by them into a
 * list: 2,000 of them held a bulk write for 10 s. A few cost nothing, and ids are not bounded
 * otherwise (CouchDB's max_document_id_length is unbounded by default, and a database written
 * before keeps what it holds).
 */
export const LONG_IDS_ALLOWED = 64;
/** V8's String::kMaxHashCalcLength: strings longer than this hash by their length alone. */
export const HASHED_LENGTH = 16_383;

/** Refuses a request naming more than LONG_IDS_ALLOWED ids past V8's hashing length (see above). */
export function checkLongIds(ids: Iterable<unknown>): void {
  let n = 0;
  for (const id of ids) {
    if (typeof id === 'string' && id.length > HASHED_LENGTH && ++n > LONG_IDS_ALLOWED) {
      throw new RefugeError('bad_request', `more than ${LONG_IDS_ALLOWED} document ids longer than ${HASHED_LENGTH} characters in one request`);
    }
  }
}

export function validateDocId(id: unknown): string {
  // CouchDB 3 names these failures illegal_docid (400).
  if (typeof id !== 'string') throw new RefugeError('illegal_docid', 'Document id must be a string');
  if (id.length === 0) throw new RefugeError('illegal_docid', 'Document id must not be empty');
  if (id.includes('\u0000')) throw new RefugeError('illegal_docid', 'Document id must not contain NUL');
  if (id.startsWith('_') && !id.startsWith('_design/') && !id.startsWith('_local/')) {
    throw new RefugeError('illegal_docid', 'Only reserved document ids may start with underscore.');
  }
  if (id === '_design/' || id === '_local/') throw new RefugeError('illegal_docid', 'Document id must not be empty');
  if (!isWellFormedUtf16(id)) throw new RefugeError('illegal_docid', 'Document id must be valid UTF-8');
  return id;
}

/**
 * No lone surrogate: one cannot be stored as UTF-8 and would silently change a key. (ES2024's
 * String.prototype.isWellFormed, in Node 20 and current browsers; answered at once for strings V8
 * holds one byte a character, where a regular expression scanned every id.)
 */
export function isWellFormedUtf16(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

export interface SplitDoc {
  id: string | undefined;
  rev: Rev | undefined;
  deleted: boolean;
  revisions: { start: number; ids: string[] } | undefined;
  body: JsonObject;
}

/**
 * Deepest nesting a body may have. Every walk over a body (this check, canonical JSON, the index,
 * edits) recurses; a body nested a few thousand levels deep overflowed the stack, and the whole
 * write group failed with an internal error instead of that one document with a clear one.
 */
const MAX_DEPTH = 1000;

/**
 * Refuses what JSON cannot carry (NaN, Infinity, functions, symbols, bigints, holes or `undefined`
 * in arrays, class instances such as Date): stored, it would come back as something else, and the
 * path index and revision id could not name it. Object properties holding `undefined` are dropped,
 * as JSON drops them. Also strings and member names holding a lone UTF-16 surrogate (JSON text may
 * write one as an escape, `"\ud800"`): no UTF-8 carries it, and CouchDB refuses such a document.
 */
export function checkJsonValue(v: unknown, field: string, depth = 1): void {
  switch (typeof v) {
    case 'string':
      if (!isWellFormedUtf16(v)) throw loneSurrogate(field);
      return;
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(v)) return;
      break;
    case 'object': {
      if (v === null) return;
      if (depth > MAX_DEPTH) throw new RefugeError('bad_request', `field ${JSON.stringify(field)} nests deeper than ${MAX_DEPTH} levels`);
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if (v[i] === undefined) throw notJson(undefined, field);
          checkJsonValue(v[i], field, depth + 1);
        }
        return;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) break;
      for (const k of Object.keys(v)) {
        if (!isWellFormedUtf16(k)) throw loneSurrogate(field);
        const x = (v as JsonObject)[k];
        if (x !== undefined) checkJsonValue(x, field, depth + 1);
      }
      return;
    }
  }
  throw notJson(v, field);
}

/**
 * Refuses an option that should be a boolean and is something else (`'false'` is truthy: taken
 * as it is, it would turn a replicated write into a new edit, or a listing the wrong way round).
 */
export function checkBooleanOptions<T extends object>(options: T, names: ReadonlyArray<keyof T & string>): void {
  // Every call's options pass here first: a null (a default `= {}` takes only undefined) is refused as such.
  if (options === null || typeof options !== 'object') throw new RefugeError('bad_request', 'options must be an object');
  for (const name of names) {
    const v = options[name];
    if (v !== undefined && typeof v !== 'boolean') throw new RefugeError('bad_request', `${name} must be a boolean`);
  }
}

function loneSurrogate(field: string): RefugeError {
  return new RefugeError('bad_request', `field ${JSON.stringify(field)} holds a lone UTF-16 surrogate, which is no Unicode character`);
}

/** What a value JSON cannot carry is, for an error's reason: `a Date object`, `NaN`, `function`... */
function kindOf(v: unknown): string {
  return typeof v === 'object' ? `a ${Object.getPrototypeOf(v)?.constructor?.name ?? 'non-plain'} object` : typeof v === 'number' ? String(v) : typeof v;
}

function notJson(v: unknown, field: string): RefugeError {
  return new RefugeError('bad_request', `field ${JSON.stringify(field)} holds a value JSON cannot carry (${kindOf(v)})`);
}

/**
 * Separates CouchDB's special fields from the body, rejecting unknown `_` fields and bad types.
 * `newEdits: false` (replication) refuses a rev Refuge cannot store (see isForeignRev); an edit
 * naming such a rev is a conflict, since no such revision exists here.
 */
/** CouchDB refuses a `_` member it does not know (`doc_validation`), local documents' included. */
export function checkSpecialMember(key: string): void {
  if (!ACCEPTED_SPECIAL.has(key) && !REPLICATION_FIELDS.has(key)) throw new RefugeError('doc_validation', `Bad special document member: ${key}`);
}

export function splitDoc(doc: unknown, newEdits = true): SplitDoc {
  return readDoc(doc, newEdits, {});
}

/**
 * splitDoc's checks and errors alone, without the body copy: a request checked whole before any of
 * it is written (a bulk write over HTTP) then writes each document, which splits it.
 */
export function checkDoc(doc: unknown, newEdits = true): void {
  readDoc(doc, newEdits, undefined);
}

/** Checks `doc`, and copies its body into `body` when one is given. */
function readDoc(doc: unknown, newEdits: boolean, body: JsonObject | undefined): SplitDoc {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new RefugeError('bad_request', 'Document must be a JSON object');
  }
  // A class instance (a Date, a Map) is refused as it is inside a document: stored, it would be `{}`.
  const proto = Object.getPrototypeOf(doc);
  if (proto !== Object.prototype && proto !== null) throw new RefugeError('bad_request', `Document must be a JSON object, not ${kindOf(doc)}`);
  let id: string | undefined;
  let rev: Rev | undefined;
  let deleted = false;
  let revisions: SplitDoc['revisions'];
  for (const key of Object.keys(doc)) {
    const value = (doc as JsonObject)[key];
    if (key.charCodeAt(0) !== 95 /* _ */ || REPLICATION_FIELDS.has(key)) {
      if (!isWellFormedUtf16(key)) throw loneSurrogate(key);
      if (value !== undefined) {
        checkJsonValue(value, key);
        if (body !== undefined) body[key] = value;
      }
      continue;
    }
    checkSpecialMember(key);
    switch (key) {
      case '_id':
        if (value !== undefined) id = validateDocId(value);
        break;
      case '_rev':
        if (value !== undefined && value !== null) {
          if (newEdits && isForeignRev(value)) throw new RefugeError('conflict', 'Document update conflict.');
          if (!isValidRev(value)) throw new RefugeError('bad_request', 'Invalid rev format');
          rev = value;
        }
        break;
      case '_deleted':
        if (value !== undefined && typeof value !== 'boolean') {
          throw new RefugeError('doc_validation', '_deleted must be a boolean');
        }
        deleted = value === true;
        break;
      case '_revisions':
        if (value !== undefined) revisions = validateRevisions(value);
        break;
      case '_attachments':
        if (value === undefined || value === null) break;
        // Contents are checked (and inline data stored as blobs) before the write is queued.
        if (typeof value !== 'object' || Array.isArray(value)) throw new RefugeError('doc_validation', '_attachments must be an object');
        for (const name of Object.keys(value)) checkAttachmentName(name);
        break;
      default:
        // Read-only fields (_revs_info, _conflicts, ...) are ignored on write, as CouchDB does.
        break;
    }
  }
  return { id, rev, deleted, revisions, body: body ?? {} };
}

function validateRevisions(value: unknown): { start: number; ids: string[] } {
  const v = value as { start?: unknown; ids?: unknown };
  if (
    value === null ||
    typeof value !== 'object' ||
    !Number.isSafeInteger(v.start) ||
    (v.start as number) < 1 ||
    (v.start as number) > MAX_GENERATION ||
    !Array.isArray(v.ids) ||
    v.ids.length === 0 ||
    v.ids.length > (v.start as number) ||
    !v.ids.every(isValidRevHash)
  ) {
    throw new RefugeError('doc_validation', '_revisions must be {start: positive integer, ids: [revision hashes]}');
  }
  return { start: v.start as number, ids: v.ids as string[] };
}

export function validateRevsLimit(limit: unknown): number {
  if (!Number.isSafeInteger(limit) || (limit as number) < 1) {
    throw new RefugeError('bad_request', 'revs_limit must be a positive integer');
  }
  return limit as number;
}

/**
 * Refuses open options of the wrong kind: a misspelt durability (`'Durable'`) taken as not
 * 'durable' would write without syncing, and a string `autoIndex` would be stored as the switch.
 */
export function checkOpenOptions(options: { durability?: unknown; autoIndex?: unknown }): void {
  if (options === null || typeof options !== 'object') throw new RefugeError('bad_request', 'the open options must be an object');
  if (options.durability !== undefined && options.durability !== 'durable' && options.durability !== 'fast') {
    throw new RefugeError('bad_request', `durability must be 'durable' or 'fast', not ${JSON.stringify(options.durability)}`);
  }
  checkBooleanOptions(options, ['autoIndex']);
}
