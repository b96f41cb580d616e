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

function sortField(spec: unknown): SortField {
  if (typeof spec === 'string' && spec !== '') return checked({ field: spec, dir: 'asc' });
  if (isPlainObject(spec)) {
    const keys = Object.keys(spec);
    if (keys.length === 1 && keys[0] !== '') {
      const dir = spec[keys[0]!];
      if (dir === 'asc' || dir === 'desc') return checked({ field: keys[0]!, dir });
      throw new RefugeError('invalid_sort_dir', `Invalid sort direction: ${show(dir)}`);
    }
  }
  throw new RefugeError('invalid_sort_field', `Invalid sort field: ${show(spec)}`);
}

function checked(f: SortField): SortField {
  parseField(f.field); // throws on empty segments ("a..b")
  return f;
}

/**
 * Orders documents by the sort fields. A missing field counts as lower than every value
 * (an executor that wants CouchDB's behaviour of leaving such documents out filters them first).
 * Ties fall back to `_id` in the sort's direction, which is also the path index's order.
 */
export function sortComparator(sort: readonly SortField[]): (a: unknown, b: unknown) => number {
  const keys = sort.map((f) => ({ path: parseField(f.field), sign: f.dir === 'desc' ? -1 : 1 }));
  const sign = sort[0]?.dir === 'desc' ? -1 : 1;
  return (a, b) => {
    for (const k of keys) {
      const va = getField(a, k.path);
      const vb = getField(b, k.path);
      let c: number;
      if (!va.found || !vb.found) c = va.found === vb.found ? 0 : va.found ? 1 : -1;
      else c = collate(va.value, vb.value);
      if (c !== 0) return c * k.sign;
    }
    const ia = isPlainObject(a) ? a['_id'] : undefined;
    const ib = isPlainObject(b) ? b['_id'] : undefined;
    return typeof ia === 'string' && typeof ib === 'string' ? compareStrings(ia, ib) * sign : 0;
  };
}

const show = (v: unknown) => JSON.stringify(v) ?? String(v);
