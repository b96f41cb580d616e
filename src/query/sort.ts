// Mango `sort`: CouchDB's syntax and checks (mango_sort), and an in-memory comparator that orders
// documents by view collation.

import { RefugeError } from '../errors/index.ts';
import { collate, compareStrings, isPlainObject } from './collate.ts';
import { getField, parseField } from './field-path.ts';

export interface SortField {
  field: string;
  dir: 'asc' | 'desc';
}

/** `["a", {"b": "desc"}]` -> fields with directions; undefined means no sort (null is refused, as in CouchDB). */
export function parseSort(sort: unknown): SortField[] {
  if (sort === undefined) return [];
  if (!Array.isArray(sort)) throw new RefugeError('invalid_sort_json', `Sort must be an array of sort specs, not: ${show(sort)}`);
  const out = sort.map(sortField);
  // CouchDB has no mixed-direction sorts.
  if (new Set(out.map((f) => f.dir)).size > 1) {
    throw new RefugeError('unsupported_mixed_sort', 'Sorts currently only support a single direction for all fields.');
  }
  return out;
}

/**
 * A direction other than asc or desc is an invalid_sort_field naming the whole spec, as CouchDB
 * answers it: mango_sort:sort_field's invalid_sort_dir clause matches a 2-tuple `{Name, Dir}`, which
 * no decoded JSON object (`{[{Name, Dir}]}`) ever is, so its catch-all clause is the one that runs.
 */
function sortField(spec: unknown): SortField {
  if (typeof spec === 'string' && spec !== '') return checked({ field: spec, dir: 'asc' });
  if (isPlainObject(spec)) {
    const keys = Object.keys(spec);
    if (keys.length === 1 && keys[0] !== '') {
      const dir = spec[keys[0]!];
      if (dir === 'asc' || dir === 'desc') return checked({ field: keys[0]!, dir });
    }
  }
  throw new RefugeError('invalid_sort_field', `Invalid sort field: ${show(spec)}`);
}

function checked(f: SortField): SortField {
  parseField(f.field); // throws on empty segments ("a..b")
  return f;
}

/** A document's place in a sort: each sort field's value (`[]` when it has none), then its id. */
export interface SortKey {
  values: Array<[unknown] | []>;
  id: string;
}

type Found = { found: boolean; value?: unknown };

/** A missing field counts as lower than every value. */
function compareFound(a: Found, b: Found): number {
  if (!a.found || !b.found) return a.found === b.found ? 0 : a.found ? 1 : -1;
  return collate(a.value, b.value);
}

const idOf = (doc: unknown): unknown => (isPlainObject(doc) ? doc['_id'] : undefined);

function compareIds(a: unknown, b: unknown): number {
  return typeof a === 'string' && typeof b === 'string' ? compareStrings(a, b) : 0;
}

/**
 * Whether `doc` has every sort field. CouchDB answers a sorted query from an index of those fields,
 * which holds no document that lacks one: such documents are never in a sorted answer.
 */
export function hasSortFields(sort: readonly SortField[], doc: unknown): boolean {
  for (const f of sort) if (!getField(doc, parseField(f.field)).found) return false;
  return true;
}

/**
 * Orders documents by the sort fields. A missing field counts as lower than every value
 * (executors leave such documents out first: hasSortFields).
 * Ties fall back to `_id` in the sort's direction, which is also the path index's order.
 */
export function sortComparator(sort: readonly SortField[]): (a: unknown, b: unknown) => number {
  const keys = sort.map((f) => ({ path: parseField(f.field), sign: f.dir === 'desc' ? -1 : 1 }));
  const sign = sort[0]?.dir === 'desc' ? -1 : 1;
  return (a, b) => {
    for (const k of keys) {
      const c = compareFound(getField(a, k.path), getField(b, k.path));
      if (c !== 0) return c * k.sign;
    }
    return compareIds(idOf(a), idOf(b)) * sign;
  };
}

/** `doc`'s sort key (what a bookmark keeps of the last row of a page). */
export function sortKeyOf(sort: readonly SortField[], doc: unknown): SortKey {
  const values = sort.map((f): [unknown] | [] => {
    const v = getField(doc, parseField(f.field));
    return v.found ? [v.value] : [];
  });
  const id = idOf(doc);
  return { values, id: typeof id === 'string' ? id : '' };
}

/** Compares a document with a sort key, in the order sortComparator gives documents. */
export function compareToSortKey(sort: readonly SortField[]): (doc: unknown, key: SortKey) => number {
  const keys = sort.map((f) => ({ path: parseField(f.field), sign: f.dir === 'desc' ? -1 : 1 }));
  const sign = sort[0]?.dir === 'desc' ? -1 : 1;
  return (doc, key) => {
    for (let i = 0; i < keys.length; i++) {
      const at = key.values[i]!;
      const c = compareFound(getField(doc, keys[i]!.path), at.length === 1 ? { found: true, value: at[0] } : { found: false });
      if (c !== 0) return c * keys[i]!.sign;
    }
    return compareIds(idOf(doc), key.id) * sign;
  };
}

const show = (v: unknown) => JSON.stringify(v) ?? String(v);
