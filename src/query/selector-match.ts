// Evaluates a normalized selector against a document, with CouchDB's semantics
// (mango_selector:match): comparisons use view collation across types, a missing field fails every
// condition but {"$exists": false}, and plain conditions never reach into arrays.

import { collate, compareStrings, isPlainObject, jsonType } from './collate.ts';
import { getField } from './field-path.ts';
import type { Condition, Selector } from './selector-types.ts';

type Cmp = (a: unknown, b: unknown) => number;

export function matchSelector(doc: unknown, sel: Selector): boolean {
  switch (sel.kind) {
    case 'and':
      return sel.clauses.every((c) => matchSelector(doc, c));
    case 'or':
      // CouchDB treats an empty $or as true, like an empty $and.
      return sel.clauses.length === 0 || sel.clauses.some((c) => matchSelector(doc, c));
    case 'not':
      return !matchSelector(doc, sel.clause);
    case 'field': {
      const got = getField(doc, sel.path);
      if (!got.found) {
        // Only a missing key counts as "does not exist": walking into a scalar (`bad_path`) fails.
        return got.why === 'not_found' && sel.cond.op === '$exists' && !sel.cond.value;
      }
      return matchCondition(got.value, sel.cond, sel.field === '_id' ? rawCompare : collate);
    }
  }
}

/**
 * CouchDB compares `_id` with Erlang term order, not collation: for strings that is bytewise UTF-8
 * (code point) order, and a string id is greater than any non-string argument.
 */
function rawCompare(a: unknown, b: unknown): number {
  const sa = typeof a === 'string';
  const sb = typeof b === 'string';
  if (sa && sb) return compareStrings(a, b);
  if (sa !== sb) return sa ? 1 : -1;
  return collate(a, b);
}

export function matchCondition(value: unknown, cond: Condition, cmp: Cmp = collate): boolean {
  switch (cond.op) {
    case '$eq':
      return cmp(value, cond.value) === 0;
    case '$ne':
      return cmp(value, cond.value) !== 0;
    case '$gt':
      return cmp(value, cond.value) > 0;
    case '$gte':
      return cmp(value, cond.value) >= 0;
    case '$lt':
      return cmp(value, cond.value) < 0;
    case '$lte':
      return cmp(value, cond.value) <= 0;
    case '$in':
      return matchIn(value, cond.values, cmp);
    case '$nin':
      if (cond.values.length === 0) return true;
      if (Array.isArray(value)) return !matchIn(value, cond.values, cmp);
      return cond.values.every((arg) => cmp(value, arg) !== 0);
    case '$all':
      return matchAll(value, cond.values);
    case '$exists':
      return cond.value; // the field was found
    case '$type':
      return jsonType(value) === cond.value;
    case '$size':
      return Array.isArray(value) && value.length === cond.value;
    case '$mod':
      // CouchDB: integers only; `rem` truncates toward zero like JS `%`.
      return Number.isInteger(value) && (value as number) % cond.divisor === cond.remainder;
    case '$regex':
      return typeof value === 'string' && cond.regex.test(value);
    case '$beginsWith':
      return typeof value === 'string' && value.startsWith(cond.prefix);
    case '$elemMatch':
      return Array.isArray(value) && value.some((v) => matchSelector(v, cond.selector));
    case '$allMatch':
      return Array.isArray(value) && value.length > 0 && value.every((v) => matchSelector(v, cond.selector));
    case '$keyMapMatch':
      return isPlainObject(value) && Object.keys(value).some((k) => matchSelector(k, cond.selector));
    case '$not':
      return !matchCondition(value, cond.cond, cmp);
  }
}

// On an array, $in looks at the elements (never at the array as a whole); on anything else at the value.
function matchIn(value: unknown, args: unknown[], cmp: Cmp): boolean {
  if (Array.isArray(value)) return args.some((arg) => value.some((v) => cmp(v, arg) === 0));
  return args.some((arg) => cmp(value, arg) === 0);
}

// Every argument must be an element; or, as a special case, a single array argument equal to the
// whole value. An empty $all matches nothing.
function matchAll(value: unknown, args: unknown[]): boolean {
  if (!Array.isArray(value) || args.length === 0) return false;
  if (args.every((arg) => value.some((v) => collate(v, arg) === 0))) return true;
  return args.length === 1 && Array.isArray(args[0]) && collate(args[0], value) === 0;
}
