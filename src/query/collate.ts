// CouchDB view collation of JSON values (couch_ejson_compare): the one ordering that selectors,
// sorts and the path index agree on.

import { compareStrings } from '../platform/compare-strings.ts';

export { compareStrings };

/** Rank of each JSON type in CouchDB's collation. */
export function typeRank(v: unknown): number {
  if (v === null || v === undefined) return 1;
  switch (typeof v) {
    case 'boolean':
      return v ? 3 : 2;
    case 'number':
      return 4;
    case 'string':
      return 5;
    default:
      return Array.isArray(v) ? 6 : 7;
  }
}

/**
 * null < false < true < numbers < strings < arrays < objects. Arrays compare element-wise then by
 * length; objects key by key in their own key order (key, then value), then by number of keys.
 * Objects get JS key order, which puts integer-like keys first: an unavoidable JS difference.
 */
export function collate(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 4:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 5:
      return compareStrings(a as string, b as string);
    case 6:
      return compareArrays(a as unknown[], b as unknown[]);
    case 7:
      return compareObjects(a as Record<string, unknown>, b as Record<string, unknown>);
    default:
      return 0; // null, false, true: the rank said everything
  }
}

function compareArrays(a: unknown[], b: unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = collate(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const k = compareStrings(ka[i]!, kb[i]!);
    if (k !== 0) return k;
    const v = collate(a[ka[i]!], b[kb[i]!]);
    if (v !== 0) return v;
  }
  return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
}

/** The JSON type name Mango's `$type` uses. */
export type JsonType = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

export function jsonType(v: unknown): JsonType {
  const names: JsonType[] = ['null', 'null', 'boolean', 'boolean', 'number', 'string', 'array', 'object'];
  return names[typeRank(v)]!;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
