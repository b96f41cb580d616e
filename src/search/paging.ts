// Ordering, limits and bookmarks of search results. Every row has a total order key ending with
// its id, so a bookmark (the last key of a page) continues exactly after it even when scores tie.
import { RefugeError } from '../errors/index.ts';
import { parseError } from './query-parser.ts';
import { ownField, TOKEN_SEP } from './query-compile.ts';

export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 200;

export interface SortKey {
  /** Stored field name, or null for the score. */
  field: string | null;
  descending: boolean;
  type?: 'string' | 'number';
}

export function checkLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) throw parseError('limit must be a non-negative integer');
  if (limit > MAX_LIMIT) throw parseError(`limit ${limit} is above the maximum of ${MAX_LIMIT}`);
  return limit;
}

/** CouchDB's sort syntax: "field", "-field", "field<number>", "<score>" (one or a list). */
export function parseSort(sort: unknown): SortKey[] | undefined {
  if (sort === undefined || sort === null) return undefined;
  const list = typeof sort === 'string' ? [sort] : sort;
  if (!Array.isArray(list) || list.length === 0) throw parseError('sort must be a field name or a non-empty list of them');
  return list.map((s) => {
    if (typeof s !== 'string') throw parseError('sort must be a field name or a non-empty list of them');
    const m = /^(-?)(.+?)(?:<(string|number)>)?$/u.exec(s);
    if (!m || m[2] === '-') throw parseError(`invalid sort field ${JSON.stringify(s)}`);
    if (m[2] === '<score>') return { field: null, descending: m[1] !== '-' };
    return { field: m[2]!, descending: m[1] === '-', ...(m[3] ? { type: m[3] as 'string' | 'number' } : {}) };
  });
}

/**
 * One sort value of a document's field: the first of several, typed when asked; null when absent.
 * A stored field gives its value. A field only indexed gives its first value's indexed text (what
 * Lucene sorts an indexed field by): a number when it reads as one, else its terms, space-joined.
 */
export function sortValue(
  stored: Record<string, unknown> | undefined,
  key: SortKey,
  score: number,
  texts?: Record<string, string[]>,
  numbers?: Record<string, number>,
): unknown {
  if (key.field === null) return score;
  let v: unknown = ownField(stored, key.field) ?? ownField(numbers, key.field);
  if (v === undefined) v = indexedValue(ownField(texts, key.field)?.[0]);
  if (Array.isArray(v)) v = v[0];
  if (key.type === 'number') v = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : null;
  else if (key.type === 'string' && v !== undefined && v !== null) v = String(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : null;
}

function indexedValue(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  const terms = text.split(TOKEN_SEP).join(' ');
  const n = Number(terms);
  return terms.trim() !== '' && Number.isFinite(n) ? n : terms;
}

const rank = (v: unknown): number => (typeof v === 'boolean' ? 0 : typeof v === 'number' ? 1 : 2);

function compareValues(a: unknown, b: unknown): number {
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  return a! < b! ? -1 : a! > b! ? 1 : 0;
}

/**
 * Compares order keys: the sort values (missing ones last, whatever the direction), then the id.
 * Without a sort the key is [score, id], best score first.
 */
export function orderComparator(sort: readonly SortKey[] | undefined): (a: readonly unknown[], b: readonly unknown[]) => number {
  const keys = sort ?? [{ field: null, descending: true }];
  return (a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const x = a[i];
      const y = b[i];
      if (x === null || y === null) {
        if (x !== y) return x === null ? 1 : -1;
        continue;
      }
      const c = compareValues(x, y);
      if (c !== 0) return keys[i]!.descending ? -c : c;
    }
    const ia = a[keys.length] as string;
    const ib = b[keys.length] as string;
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  };
}

function toBase64Url(text: string): string {
  let bin = '';
  for (const byte of new TextEncoder().encode(text)) bin += String.fromCharCode(byte);
  return btoa(bin).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/u, '');
}

function fromBase64Url(s: string): string {
  const bin = atob(s.replaceAll('-', '+').replaceAll('_', '/'));
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

export function encodeBookmark(order: readonly unknown[] | null): string {
  return toBase64Url(JSON.stringify(order));
}

/** The order key a bookmark carries (null: from the start); `width` is the key length this query uses. */
export function decodeBookmark(bookmark: unknown, width: number): unknown[] | null {
  if (bookmark === undefined || bookmark === null || bookmark === '') return null;
  let order: unknown;
  try {
    if (typeof bookmark !== 'string') throw new TypeError('not a string');
    order = JSON.parse(fromBase64Url(bookmark));
  } catch (err) {
    throw new RefugeError('bad_request', 'Invalid bookmark', { cause: err });
  }
  if (order === null) return null;
  if (!Array.isArray(order) || order.length !== width || typeof order[width - 1] !== 'string') {
    throw new RefugeError('bad_request', 'Invalid bookmark: it does not belong to a query with this sort');
  }
  return order;
}
