// View query options (the library's camelCase form of CouchDB's parameters) and their validation
// into a plan, with CouchDB's checks in CouchDB's order and its exact reasons (couch_mrview_util
// validate_args and check_range), all query_parse_error (400).

import { RefugeError } from '../errors/index.ts';
import { compareStrings } from '../query/index.ts';
import type { UpdateMode } from '../indexers/index.ts';
import { compareKeys } from './key-codec.ts';

export interface ViewQueryOptions {
  key?: unknown;
  keys?: unknown[];
  startkey?: unknown;
  endkey?: unknown;
  startkeyDocid?: string;
  endkeyDocid?: string;
  /** Default true. */
  inclusiveEnd?: boolean;
  descending?: boolean;
  limit?: number;
  skip?: number;
  /** Default true when the view has a reduce. */
  reduce?: boolean;
  group?: boolean;
  groupLevel?: number;
  includeDocs?: boolean;
  conflicts?: boolean;
  /** With include_docs: attachments' data inline (base64), as a document read with attachments=true. */
  attachments?: boolean;
  /** Add `update_seq` (the indexed sequence the rows reflect) to the result. */
  updateSeq?: boolean;
  /** How a lagging index is treated (CouchDB's `update`/`stale`): used by ViewIndexes. */
  update?: UpdateMode;
  /** CouchDB's partition of a partitioned view: none exists here, so any is refused. */
  partition?: string;
}

export interface KeyBound {
  key: unknown;
  docid?: string;
}

export interface QueryPlan {
  /** Rows are reduced (the view has a reduce and `reduce` is not false). */
  reduce: boolean;
  /** 0: one row for everything; n: arrays truncated to n elements; 'exact': group=true. */
  groupLevel: number | 'exact';
  keys?: unknown[];
  start?: KeyBound;
  end?: KeyBound;
  /** Doc id bounds, also applied to each of `keys`. */
  startDocid?: string;
  endDocid?: string;
  inclusiveEnd: boolean;
  descending: boolean;
  limit: number;
  skip: number;
  includeDocs: boolean;
  conflicts: boolean;
  attachments: boolean;
  updateSeq: boolean;
}

const parseError = (reason: string) => new RefugeError('query_parse_error', reason);
const has = (o: object, k: string) => Object.hasOwn(o, k) && (o as Record<string, unknown>)[k] !== undefined;

export function planQuery(options: ViewQueryOptions, hasReduce: boolean): QueryPlan {
  const o = options ?? {};
  if (o.reduce !== undefined && typeof o.reduce !== 'boolean') throw parseError('Invalid `reduce` value.');
  if (!hasReduce && o.reduce === true) throw parseError('Reduce is invalid for map-only views.');
  const reduce = hasReduce && o.reduce !== false;
  const groupLevel = determineGroupLevel(o);
  // CouchDB's spelling ("fetchs"), kept: clients match reasons as sent.
  if (reduce && o.keys !== undefined && groupLevel !== 'exact') throw parseError('Multi-key fetchs for reduce views must use `group=true`');
  if (o.keys !== undefined && !Array.isArray(o.keys)) throw parseError('`keys` must be an array of strings.');
  // An empty `keys` asks for nothing, so CouchDB lets key bounds stand beside it.
  if (o.keys !== undefined && o.keys.length > 0 && (has(o, 'key') || has(o, 'startkey') || has(o, 'endkey'))) {
    throw parseError('`keys` is incompatible with `key`, `start_key` and `end_key`');
  }
  if (o.startkeyDocid !== undefined && typeof o.startkeyDocid !== 'string') throw parseError('`start_key_docid` must be a string.');
  if (o.endkeyDocid !== undefined && typeof o.endkeyDocid !== 'string') throw parseError('`end_key_docid` must be a string.');
  if (o.descending !== undefined && typeof o.descending !== 'boolean') throw parseError('Invalid direction.');
  if (o.limit !== undefined && !(Number.isSafeInteger(o.limit) && o.limit >= 0)) throw parseError('`limit` must be a positive integer.');
  if (o.skip !== undefined && !(Number.isSafeInteger(o.skip) && o.skip >= 0)) throw parseError('`skip` must be >= 0');
  if (groupLevel !== 0) {
    if (!reduce) throw parseError('Invalid use of grouping on a map view.');
    if (groupLevel !== 'exact' && !(Number.isSafeInteger(groupLevel) && groupLevel >= 0)) throw parseError('`group_level` must be >= 0');
  }
  if (o.inclusiveEnd !== undefined && typeof o.inclusiveEnd !== 'boolean') throw parseError('Invalid value for `inclusive_end`.');
  if (reduce && o.includeDocs === true) throw parseError('`include_docs` is invalid for reduce');
  if (o.includeDocs !== undefined && typeof o.includeDocs !== 'boolean') throw parseError('Invalid value for `include_docs`');
  if (o.conflicts !== undefined) {
    if (reduce) throw parseError('`conflicts` is invalid for reduce views.');
    if (typeof o.conflicts !== 'boolean') throw parseError('Invalid value for `conflicts`.');
  }
  checkPartition(o.partition, '`partition` parameter is not supported in this design doc');
  const plan: QueryPlan = {
    reduce,
    groupLevel,
    inclusiveEnd: o.inclusiveEnd !== false,
    descending: o.descending === true,
    limit: o.limit ?? Number.POSITIVE_INFINITY,
    skip: o.skip ?? 0,
    includeDocs: o.includeDocs === true,
    conflicts: o.conflicts === true,
    attachments: o.attachments === true,
    updateSeq: o.updateSeq === true,
  };
  if (o.keys !== undefined) plan.keys = o.keys;
  if (o.startkeyDocid !== undefined) plan.startDocid = o.startkeyDocid;
  if (o.endkeyDocid !== undefined) plan.endDocid = o.endkeyDocid;
  const start = has(o, 'key') ? o.key : o.startkey;
  const end = has(o, 'key') ? o.key : o.endkey;
  if (has(o, 'key') || has(o, 'startkey')) plan.start = { key: start, ...(o.startkeyDocid !== undefined ? { docid: o.startkeyDocid } : {}) };
  if (has(o, 'key') || has(o, 'endkey')) plan.end = { key: end, ...(o.endkeyDocid !== undefined ? { docid: o.endkeyDocid } : {}) };
  checkRange(plan);
  return plan;
}

/**
 * No database is partitioned here, nor any design document. CouchDB's validate_args refuses an
 * empty partition as invalid, then validate_args/2 (views) and validate_all_docs_args (_all_docs)
 * refuse any other on a view or database that is not partitioned, each with its own reason.
 */
export function checkPartition(partition: unknown, notSupported: string): void {
  if (partition === undefined) return;
  if (typeof partition !== 'string' || partition === '') throw parseError('Invalid value for `partition`.');
  throw parseError(notSupported);
}

// group=false with group_level>0 is refused; group=true means exact unless a level is given.
function determineGroupLevel(o: ViewQueryOptions): number | 'exact' {
  if (o.group !== undefined && typeof o.group !== 'boolean') throw parseError(`Invalid boolean parameter: ${JSON.stringify(o.group)}`);
  if (o.groupLevel !== undefined && typeof o.groupLevel !== 'number') throw parseError('`group_level` must be >= 0');
  if (o.group === false && o.groupLevel !== undefined && o.groupLevel > 0) {
    throw parseError("Can't specify group=false and group_level>0 at the same time");
  }
  if (o.groupLevel !== undefined) return o.groupLevel;
  return o.group === true ? 'exact' : 0;
}

// Docid defaults stand for "before every id" and "after every id" (CouchDB's <<>> and <<255>>).
const LOW = '';
const HIGH = '\u{10ffff}\u{10ffff}';

function checkRange(plan: QueryPlan): void {
  const { start, end } = plan;
  if (start === undefined || end === undefined) return;
  // CouchDB skips the check when both keys are the same term.
  if (JSON.stringify(start.key) === JSON.stringify(end.key)) return;
  const sd = start.docid ?? (plan.descending ? HIGH : LOW);
  const ed = end.docid ?? (plan.descending ? LOW : HIGH);
  let c = compareKeys(start.key, end.key);
  if (c === 0) c = compareStrings(sd, ed);
  if (!plan.descending && c >= 0) {
    throw parseError('No rows can match your key range, reverse your start_key and end_key or set descending=true');
  }
  if (plan.descending && c < 0) {
    throw parseError('No rows can match your key range, reverse your start_key and end_key or set descending=false');
  }
}
