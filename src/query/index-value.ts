// Order-preserving string encoding of JSON scalars for the path index: encoded values compared as
// UTF-8 bytes (LevelDB's order) sort exactly as `collate` sorts the values.

import { RefugeError } from '../errors/index.ts';

/** What the caller puts after an encoded value; no encoded value contains it. */
export const INDEX_VALUE_SEPARATOR = '\u0000';

// One type character first, in collation order; arrays and objects are indexed only as markers.
const NULL = '1';
const FALSE = '2';
const TRUE = '3';
const NUMBER = '4';
const STRING = '5';
const ARRAY = '6';
const OBJECT = '7';

export type ContainerKind = 'array' | 'object';

/** Type characters by `$type` name, for scans restricted to one type. */
export const TYPE_CHARS = {
  null: [NULL],
  boolean: [FALSE, TRUE],
  number: [NUMBER],
  string: [STRING],
  array: [ARRAY],
  object: [OBJECT],
} as const;

export function encodeContainerMarker(kind: ContainerKind): string {
  return kind === 'array' ? ARRAY : OBJECT;
}

/**
 * Encodes a scalar; arrays and objects become their container marker (every array encodes alike:
 * after all strings, before every object).
 */
export function encodeIndexValue(v: unknown): string {
  if (v === null) return NULL;
  switch (typeof v) {
    case 'boolean':
      return v ? TRUE : FALSE;
    case 'number':
      return NUMBER + encodeNumber(v);
    case 'string':
      return STRING + escapeString(v);
    case 'object':
      return Array.isArray(v) ? ARRAY : OBJECT;
    default:
      throw new RefugeError('bad_request', `Not a JSON value: ${String(v)}`);
  }
}

/** The inverse of `encodeIndexValue`; markers decode to `[]` and `{}`. */
export function decodeIndexValue(s: string): unknown {
  switch (s[0]) {
    case NULL:
      return null;
    case FALSE:
      return false;
    case TRUE:
      return true;
    case NUMBER:
      return decodeNumber(s.slice(1));
    case STRING:
      return unescapeString(s.slice(1));
    case ARRAY:
      return [];
    case OBJECT:
      return {};
    default:
      throw new RefugeError('bad_request', 'Not an encoded index value');
  }
}

// IEEE-754 bits read as an unsigned big-endian integer sort positives correctly and negatives in
// reverse: setting the sign bit of positives and flipping every bit of negatives makes the whole
// line ascend. -0 is folded into 0 since collation treats them as equal.
/** One scratch buffer for number conversions: they are synchronous, so it is never shared mid-use. */
const scratch = new DataView(new ArrayBuffer(8));

function encodeNumber(n: number): string {
  if (!Number.isFinite(n)) throw new RefugeError('bad_request', `Not a JSON number: ${n}`);
  const view = scratch;
  view.setFloat64(0, n === 0 ? 0 : n);
  let hi = view.getUint32(0);
  let lo = view.getUint32(4);
  if (hi & 0x80000000) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else {
    hi = (hi | 0x80000000) >>> 0;
  }
  return hex8(hi) + hex8(lo);
}

function decodeNumber(s: string): number {
  let hi = parseInt(s.slice(0, 8), 16);
  let lo = parseInt(s.slice(8, 16), 16);
  if (hi & 0x80000000) {
    hi = (hi & 0x7fffffff) >>> 0;
  } else {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  }
  const view = scratch;
  view.setUint32(0, hi);
  view.setUint32(4, lo);
  return view.getFloat64(0);
}

/** Two hex digits per byte value: a table lookup per byte is several times faster than toString(16). */
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex8 = (n: number) => HEX2[n >>> 24]! + HEX2[(n >>> 16) & 255]! + HEX2[(n >>> 8) & 255]! + HEX2[n & 255]!;

// Each code point maps to a code that is prefix-free, ascends with the code point, and never starts
// with (or contains) byte 0x00. Concatenated codes therefore compare like the code point sequences,
// and a shorter string followed by the 0x00 separator sorts before any extension of it.
//   U+0000 -> 01 01      U+0001 -> 01 02      U+0002..: its own UTF-8
//   U+D7FF -> U+D7FF 01  lone surrogate s -> U+D7FF 02 hi lo   (hi, lo: ASCII '@'..)
// Lone surrogates are legal in JSON strings but have no UTF-8 form (TextEncoder would turn them
// into U+FFFD, out of place); in code point order they sit between U+D7FF and U+E000, which is
// where U+D7FF followed by 02 lands in bytes.
function escapeString(s: string): string {
  if (!/[\u0000\u0001\ud7ff-\udfff]/.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) out += '\u0001\u0001';
    else if (c === 1) out += '\u0001\u0002';
    else if (c === 0xd7ff) out += '\ud7ff\u0001';
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isTrail(s.charCodeAt(i + 1))) {
      out += s[i]! + s[i + 1]!;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const v = c - 0xd800;
      out += '\ud7ff\u0002' + String.fromCharCode(0x40 + (v >> 6), 0x40 + (v & 63));
    } else out += s[i]!;
  }
  return out;
}

const isTrail = (u: number) => u >= 0xdc00 && u <= 0xdfff;

function unescapeString(s: string): string {
  if (!/[\u0001\ud7ff]/.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 1) {
      out += s.charCodeAt(i + 1) === 1 ? '\u0000' : '\u0001';
      i++;
    } else if (c === 0xd7ff) {
      if (s.charCodeAt(i + 1) === 1) {
        out += '\ud7ff';
        i++;
      } else {
        out += String.fromCharCode(0xd800 + ((s.charCodeAt(i + 2) - 0x40) << 6) + (s.charCodeAt(i + 3) - 0x40));
        i += 3;
      }
    } else out += s[i]!;
  }
  return out;
}
