// Paths in the path index: object keys joined by "/", one "[]" per array level, escaped so that
// distinct JSON paths never share a path string and no path contains the 0x00 separator.

import { parseField } from './field-path.ts';

/** Stands for one array level in `joinPath`. */
export const ARRAY = Symbol('[]');
export const ARRAY_SEGMENT = '[]';
export const PATH_SEPARATOR = '/';

/**
 * The longest path (encoded) the index holds: longer ones, and everything below them, are left
 * out, and queries on them scan instead of reading the index. Without a bound a document with one
 * long key over many fields costs key length x fields in index paths (a 470 KB document held a
 * node for minutes), and paths past V8's 16,383-character hashing limit all hash alike.
 */
export const MAX_INDEXED_PATH = 256;

export const isIndexedPath = (path: string): boolean => path.length <= MAX_INDEXED_PATH;

/**
 * `\` -> `\\`, `/` -> `\/`, a key exactly "[]" -> `\[]`, U+0000 -> `\0`, a lone surrogate ->
 * `\uXXXX` (it has no UTF-8 form, so two different ones would collide once stored as bytes).
 */
export function encodePathSegment(key: string): string {
  if (key === ARRAY_SEGMENT) return '\\[]';
  if (!/[\\/\u0000\ud800-\udfff]/.test(key)) return key;
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x5c) out += '\\\\';
    else if (c === 0x2f) out += '\\/';
    else if (c === 0) out += '\\0';
    else if (c >= 0xd800 && c <= 0xdbff && isTrail(key.charCodeAt(i + 1))) {
      out += key[i]! + key[i + 1]!;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) out += '\\u' + c.toString(16);
    else out += key[i]!;
  }
  return out;
}

const isTrail = (u: number) => u >= 0xdc00 && u <= 0xdfff;

export function joinPath(segments: ReadonlyArray<string | typeof ARRAY>): string {
  return segments.map((s) => (s === ARRAY ? ARRAY_SEGMENT : encodePathSegment(s))).join(PATH_SEPARATOR);
}

/** Appends one array level to a (non-root) encoded path. */
export function elementsPath(path: string): string {
  return path + PATH_SEPARATOR + ARRAY_SEGMENT;
}

/** Appends object keys to a (non-root) encoded path. */
export function appendPath(path: string, keys: readonly string[]): string {
  return keys.length === 0 ? path : path + PATH_SEPARATOR + joinPath(keys);
}

/** The index path of a Mango field reached through objects only ("a.b" -> "a/b"). */
export function fieldToPath(field: string): string {
  return joinPath(parseField(field));
}
