// The document ids a selector's `_id` clauses allow, as CouchDB's `_all_docs` index reads them
// (mango_cursor_special, from mango_idx_view:field_ranges): some ids, or a range of them. Like a
// path-index scan it only has to hold every match; the executor checks the whole selector again.
// withIdReads decides when find reads them instead of the path index.

import { compareStrings } from './collate.ts';
import { nextPrefix, type FindPlan } from './plan.ts';
import type { Condition, Selector } from './selector-types.ts';
import type { SortField } from './sort.ts';

/** Ids in code point order (that of the stored keys), or bounds on them. */
export type IdBounds = { keys: string[] } | { gt?: string; gte?: string; lt?: string; lte?: string };

type Bound = { id: string; inclusive: boolean };
interface Collected {
  keys?: string[];
  lower?: Bound;
  upper?: Bound;
  /** No string can meet the clauses (e.g. `_id` below a number, which every string is above). */
  none: boolean;
}

/** The ids the `_id` clauses of `selector` (at its top, or under `$and`) allow; undefined when they allow any. */
export function idBounds(selector: Selector): IdBounds | undefined {
  const c: Collected = { none: false };
  collect(selector, c);
  if (c.none) return { keys: [] };
  if (c.keys !== undefined) return { keys: c.keys.filter((id) => within(id, c.lower, c.upper)) };
  if (c.lower === undefined && c.upper === undefined) return undefined;
  return {
    ...(c.lower && (c.lower.inclusive ? { gte: c.lower.id } : { gt: c.lower.id })),
    ...(c.upper && (c.upper.inclusive ? { lte: c.upper.id } : { lt: c.upper.id })),
  };
}

function collect(sel: Selector, c: Collected): void {
  if (sel.kind === 'and' || (sel.kind === 'or' && sel.clauses.length === 1)) {
    for (const clause of sel.clauses) collect(clause, c);
    return;
  }
  if (sel.kind === 'field' && sel.path.length === 1 && sel.path[0] === '_id') fromCondition(sel.cond, c);
}

function fromCondition(cond: Condition, c: Collected): void {
  switch (cond.op) {
    case '$eq':
      return addKeys(typeof cond.value === 'string' ? [cond.value] : [], c);
    case '$in':
      // An id is a string: other values name none.
      return addKeys(cond.values.filter((v): v is string => typeof v === 'string'), c);
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte': {
      const lower = cond.op === '$gt' || cond.op === '$gte';
      const inclusive = cond.op === '$gte' || cond.op === '$lte';
      if (typeof cond.value === 'string') return lower ? raiseLower(c, { id: cond.value, inclusive }) : lowerUpper(c, { id: cond.value, inclusive });
      // `_id` compares in Erlang's term order (selector-match.ts): a string above any other value.
      if (!lower) c.none = true;
      return;
    }
    case '$beginsWith': {
      raiseLower(c, { id: cond.prefix, inclusive: true });
      const upper = nextPrefix(cond.prefix);
      if (upper !== undefined) lowerUpper(c, { id: upper, inclusive: false });
      return;
    }
    default:
      return;
  }
}

function addKeys(keys: string[], c: Collected): void {
  const named = new Set(keys);
  c.keys = c.keys === undefined ? [...named].sort(compareStrings) : c.keys.filter((k) => named.has(k));
}

function raiseLower(c: Collected, b: Bound): void {
  const cmp = c.lower === undefined ? 1 : compareStrings(b.id, c.lower.id);
  if (cmp > 0 || (cmp === 0 && !b.inclusive)) c.lower = b;
}

function lowerUpper(c: Collected, b: Bound): void {
  const cmp = c.upper === undefined ? -1 : compareStrings(b.id, c.upper.id);
  if (cmp < 0 || (cmp === 0 && !b.inclusive)) c.upper = b;
}

function within(id: string, lower: Bound | undefined, upper: Bound | undefined): boolean {
  if (lower) {
    const cmp = compareStrings(id, lower.id);
    if (cmp < 0 || (cmp === 0 && !lower.inclusive)) return false;
  }
  if (upper) {
    const cmp = compareStrings(id, upper.id);
    if (cmp > 0 || (cmp === 0 && !upper.inclusive)) return false;
  }
  return true;
}

/**
 * The plan, with CouchDB's `_all_docs` reads where `_id` clauses or an `_id` sort make them the
 * better read (they need no path index): named ids are looked up, fewer than any scan reads; an
 * `_id` sort is read in id order, so a limit ends the read, unless one value of the path index
 * gives that order itself; a range of ids bounded at both ends is read rather than the path index.
 * It depends on the query alone, so every page of one query reads as its first did.
 */
export function withIdReads(plan: FindPlan, selector: Selector, sort: readonly SortField[], raw: unknown): FindPlan {
  if (emptyAnd(raw)) return { scan: null, ids: { keys: [] }, sortedByIndex: false, reason: 'a top-level $and of no clauses matches nothing, as in CouchDB' };
  const ids = idBounds(selector);
  const idSort = sort.length === 1 && sort[0]!.field === '_id';
  if (ids !== undefined && 'keys' in ids) {
    return { scan: null, ids, sortedByIndex: idSort, reason: `_id lookups (${ids.keys.length} id${ids.keys.length === 1 ? '' : 's'})` };
  }
  if (idSort) {
    if (plan.scan?.kind === 'eq' && plan.scan.values.length === 1 && !plan.scan.elements) return { ...plan, sortedByIndex: true, reason: `${plan.reason}, in _id order` };
    return { scan: null, ...(ids && { ids }), sortedByIndex: true, reason: `${ids ? 'a range of _id' : 'every document'}, in _id order` };
  }
  // A range bounded at both ends (an id prefix, say) is taken to be narrower than the path index's
  // reads; one open at an end only beats reading every document.
  if (ids === undefined) return plan;
  const closed = (ids.gt ?? ids.gte) !== undefined && (ids.lt ?? ids.lte) !== undefined;
  if (closed) return { scan: null, ids, sortedByIndex: false, reason: 'a range of _id' };
  if (plan.scan === null) return { scan: null, ids, sortedByIndex: false, reason: `a range of _id (${plan.reason})` };
  return plan;
}

/** CouchDB runs no read for `{"$and": []}` (mango_cursor's maybe_noop_range), though `{}` reads everything. */
function emptyAnd(raw: unknown): boolean {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return false;
  const keys = Object.keys(raw);
  const value = (raw as Record<string, unknown>).$and;
  return keys.length === 1 && keys[0] === '$and' && Array.isArray(value) && value.length === 0;
}
