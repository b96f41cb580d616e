// A guard before JSON.parse: V8 hashes strings longer than 16,383 characters by their length alone,
// so a body whose objects hold many such keys of one length makes JSON.parse quadratic (4,000 of
// them, a 64 MB body, held the event loop for 11 s). Bodies too small to hold enough for that are
// not scanned; larger ones may hold at most LONG_KEYS_ALLOWED such keys.

import { HASHED_LENGTH } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';

/** Below this, a body holds at most ~250 such keys: well under a second of parsing. */
export const LONG_KEY_SCAN_FROM = 4 * 1024 * 1024;
export const LONG_KEYS_ALLOWED = 64;

const BACKSLASH = 0x5c;
const COLON = 0x3a;

const isJsonSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Throws bad_request when `text` (JSON, over LONG_KEY_SCAN_FROM) has more than LONG_KEYS_ALLOWED
 * object keys longer than 16,383 characters once decoded. Linear: it jumps from quote to quote
 * with indexOf (escaped quotes are told by the backslashes before them) and decodes only a long
 * string followed by a colon, to measure it as V8 will hold it.
 */
export function checkLongKeys(text: string): void {
  if (text.length < LONG_KEY_SCAN_FROM) return;
  let found = 0;
  let i = text.indexOf('"');
  while (i >= 0) {
    // `i` opens a string: find the quote that closes it.
    let end = text.indexOf('"', i + 1);
    while (end >= 0 && escaped(text, end)) end = text.indexOf('"', end + 1);
    if (end < 0) return; // unterminated: JSON.parse says so
    if (end - i - 1 > HASHED_LENGTH && followedByColon(text, end + 1) && decodedLength(text, i, end) > HASHED_LENGTH) {
      if (++found > LONG_KEYS_ALLOWED) {
        throw new RefugeError('bad_request', `more than ${LONG_KEYS_ALLOWED} object keys longer than ${HASHED_LENGTH} characters in one body`);
      }
    }
    i = text.indexOf('"', end + 1);
  }
}

/** Whether the quote at `at` is escaped: an odd run of backslashes before it. */
function escaped(text: string, at: number): boolean {
  let n = 0;
  for (let k = at - 1; k >= 0 && text.charCodeAt(k) === BACKSLASH; k--) n++;
  return n % 2 === 1;
}

function followedByColon(text: string, from: number): boolean {
  let k = from;
  while (k < text.length && isJsonSpace(text.charCodeAt(k))) k++;
  return text.charCodeAt(k) === COLON;
}

/** The length of the string literal from `open` to `close` (its quotes) once its escapes are read. */
function decodedLength(text: string, open: number, close: number): number {
  const literal = text.slice(open, close + 1);
  if (!literal.includes('\\')) return close - open - 1;
  try {
    return (JSON.parse(literal) as string).length;
  } catch {
    return 0; // not a valid literal: JSON.parse of the whole body says so
  }
}
