// Mango bookmarks: where the last row of a page stands in the answer's order, so the next page starts
// right after it however the rows before it changed since (CouchDB's bookmark keeps the last key and
// document id the same way). A bookmark of an earlier version (an offset) still pages by offset.

import { RefugeError } from '../errors/index.ts';
import { compareStrings, compareToSortKey, sortComparator, type SortField, type SortKey } from '../query/index.ts';
import { encodeBase64 } from './attachments.ts';

/**
 * A row's place when rows come in an index's order: the section read (a scan's key range, or 0),
 * the row's encoded value or key there, and the document id. Compared element by element.
 */
export type IndexPlace = [section: number, value: string, id: string];

export interface Bookmark {
  /** Rows to pass over first (bookmarks of an earlier version; 0 otherwise). */
  offset: number;
  /** The last row given, when the answer was sorted in memory. */
  sort?: SortKey;
  /** The last row given, when the answer came in an index's order. */
  index?: IndexPlace;
}

const invalid = (b: unknown, why = '') => new RefugeError('invalid_bookmark', `Invalid bookmark value: ${JSON.stringify(b)}${why}`);

const isSortKey = (v: unknown): v is SortKey =>
  v !== null &&
  typeof v === 'object' &&
  typeof (v as SortKey).id === 'string' &&
  Array.isArray((v as SortKey).values) &&
  (v as SortKey).values.every((x) => Array.isArray(x) && x.length <= 1);

const isIndexPlace = (v: unknown): v is IndexPlace =>
  Array.isArray(v) && v.length === 3 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string' && typeof v[2] === 'string';

export function decodeBookmark(b: unknown): Bookmark {
  if (b === undefined || b === null || b === 'nil' || b === '') return { offset: 0 };
  let raw: { o?: unknown; s?: unknown; i?: unknown };
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(String(b)), (c) => c.charCodeAt(0))));
  } catch (err) {
    throw new RefugeError('invalid_bookmark', `Invalid bookmark value: ${JSON.stringify(b)}`, { cause: err });
  }
  if (raw === null || typeof raw !== 'object') throw invalid(b);
  if (raw.s !== undefined) {
    if (!isSortKey(raw.s)) throw invalid(b);
    return { offset: 0, sort: raw.s };
  }
  if (raw.i !== undefined) {
    if (!isIndexPlace(raw.i)) throw invalid(b);
    return { offset: 0, index: raw.i };
  }
  // An earlier version's `{o, a}`: the offset, its last id no longer used.
  if (Number.isSafeInteger(raw.o) && (raw.o as number) >= 0) return { offset: raw.o as number };
  throw invalid(b);
}

/** The bookmark of a page ending at `last` (or, for an empty page, the one it was asked with). */
export function encodeBookmark(last: { sort: SortKey } | { index: IndexPlace } | undefined, asked: Bookmark): string {
  const place = last ?? (asked.sort ? { sort: asked.sort } : asked.index ? { index: asked.index } : undefined);
  const json = place === undefined ? { o: asked.offset } : 'sort' in place ? { s: place.sort } : { i: place.index };
  // UTF-8 first: btoa takes only Latin-1, and sort values and ids are any text.
  return encodeBase64(new TextEncoder().encode(JSON.stringify(json)));
}

/** The sorted read's anchor; a bookmark of another kind of read, or of another sort, is refused. */
export function sortAnchor(b: Bookmark, sort: readonly SortField[]): SortKey | undefined {
  if (b.index) throw invalid(b.index, ': it does not belong to a query with this sort');
  if (b.sort && b.sort.values.length !== sort.length) throw invalid(b.sort, ': it does not belong to a query with this sort');
  return b.sort;
}

/** The index read's anchor; a bookmark of a sorted read is refused. */
export function indexAnchor(b: Bookmark): IndexPlace | undefined {
  if (b.sort) throw invalid(b.sort, ': it does not belong to a query with this sort');
  return b.index;
}

export function compareIndexPlaces(a: IndexPlace, b: IndexPlace): number {
  return a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : compareStrings(a[1], b[1]) || compareStrings(a[2], b[2]);
}

/** `matches` sorted by `sort` in place, then those up to `from` (a bookmark's sort key) left out. */
export function sortPast<D>(matches: D[], sort: readonly SortField[], from: SortKey | undefined): D[] {
  matches.sort(sortComparator(sort));
  if (from === undefined) return matches;
  const cmp = compareToSortKey(sort);
  const at = matches.findIndex((d) => cmp(d, from) > 0);
  return at < 0 ? [] : matches.slice(at);
}
