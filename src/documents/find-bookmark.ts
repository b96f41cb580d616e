// Mango bookmarks: where the last row of a page stands in the answer's order, so the next page starts
// right after it however the rows before it changed since (CouchDB's bookmark keeps the last key and
// document id the same way). A bookmark of an earlier version (an offset) still pages by offset.

import { RefugeError } from '../errors/index.ts';
import { compareStrings, type SortField, type SortKey } from '../query/index.ts';
import { encodeBase64 } from './attachments.ts';

/**
 * A row's place when rows come in an index's order: the section read (a scan's key range, or 0),
 * the row's encoded value or key there, and the document id. Compared element by element.
 */
export type IndexPlace = [section: number, value: string, id: string];

/** The orders a place belongs to: the path index's, documents by id (a full scan), a json index's. */
export type PlaceKind = 'index' | 'docs' | 'view';
const KIND_TAG: Record<PlaceKind, string> = { index: 'i', docs: 'd', view: 'v' };
const TAG_KIND: Record<string, PlaceKind> = { i: 'index', d: 'docs', v: 'view' };

export interface Bookmark {
  /** Rows to pass over first (bookmarks of an earlier version; 0 otherwise). */
  offset: number;
  /** The bookmark as it was given, handed back by a page that ends where it began. */
  raw?: string;
  /** The last row given, when the answer was sorted in memory. */
  sort?: SortKey;
  /** The last row given, when the answer came in an index's order. */
  place?: { kind: PlaceKind; at: IndexPlace };
}

/** Sort values nested deeper than this are no document's (and would take a recursion apart). */
const MAX_DEPTH = 64;

const invalid = (raw: string, why = '', cause?: unknown) =>
  new RefugeError('invalid_bookmark', `Invalid bookmark value: ${JSON.stringify(raw.length > 100 ? raw.slice(0, 100) + '...' : raw)}${why}`, cause === undefined ? undefined : { cause });

function shallow(v: unknown): boolean {
  // Iterative: a value built to be deep must not overflow the stack that checks it.
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length > 0) {
    const [x, depth] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (depth >= MAX_DEPTH) return false;
    for (const y of Object.values(x)) stack.push([y, depth + 1]);
  }
  return true;
}

const isSortKey = (v: unknown): v is SortKey =>
  v !== null &&
  typeof v === 'object' &&
  typeof (v as SortKey).id === 'string' &&
  Array.isArray((v as SortKey).values) &&
  (v as SortKey).values.every((x) => Array.isArray(x) && x.length <= 1) &&
  shallow((v as SortKey).values);

const isIndexPlace = (v: unknown): v is IndexPlace =>
  Array.isArray(v) && v.length === 3 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string' && typeof v[2] === 'string';

export function decodeBookmark(b: unknown): Bookmark {
  if (b === undefined || b === null || b === 'nil' || b === '') return { offset: 0 };
  const raw = String(b);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(raw), (c) => c.charCodeAt(0))));
  } catch (err) {
    throw invalid(raw, '', err);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalid(raw);
  if (json.s !== undefined) {
    if (!isSortKey(json.s)) throw invalid(raw);
    return { offset: 0, raw, sort: json.s };
  }
  for (const [tag, kind] of Object.entries(TAG_KIND)) {
    if (json[tag] === undefined) continue;
    if (!isIndexPlace(json[tag])) throw invalid(raw);
    return { offset: 0, raw, place: { kind, at: json[tag] } };
  }
  // An earlier version's `{o, a}`: the offset, its last id no longer used.
  if (Number.isSafeInteger(json.o) && (json.o as number) >= 0) return { offset: json.o as number, raw };
  throw invalid(raw);
}

/**
 * The bookmark of a page ending at `last`; an empty page hands back the one it was asked with, or
 * CouchDB's "nil" when it was asked with none (mango_json_bookmark:create).
 */
export function encodeBookmark(last: { sort: SortKey } | { kind: PlaceKind; at: IndexPlace } | undefined, asked: Bookmark): string {
  if (last === undefined) return asked.raw ?? 'nil';
  const json = 'sort' in last ? { s: last.sort } : { [KIND_TAG[last.kind]]: last.at };
  // UTF-8 first: btoa takes only Latin-1, and sort values and ids are any text.
  return encodeBase64(new TextEncoder().encode(JSON.stringify(json)));
}

const OTHER_QUERY = ': it does not belong to a query of this kind';

/** The sorted read's anchor; a bookmark of another kind of read, or of another sort, is refused. */
export function sortAnchor(b: Bookmark, sort: readonly SortField[]): SortKey | undefined {
  if (b.place || (b.sort && b.sort.values.length !== sort.length)) throw invalid(b.raw ?? '', OTHER_QUERY);
  return b.sort;
}

/** The anchor of a read in `kind`'s order; a bookmark of another kind of read is refused. */
export function placeAnchor(b: Bookmark, kind: PlaceKind): IndexPlace | undefined {
  if (b.sort || (b.place && b.place.kind !== kind)) throw invalid(b.raw ?? '', OTHER_QUERY);
  return b.place?.at;
}

export function compareIndexPlaces(a: IndexPlace, b: IndexPlace): number {
  return a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : compareStrings(a[1], b[1]) || compareStrings(a[2], b[2]);
}
