// The guard against JSON bodies that V8 parses in quadratic time (many object keys past 16,383
// characters): it finds such keys exactly (escapes read, values left alone) in linear time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLongKeys, LONG_KEY_SCAN_FROM, LONG_KEYS_ALLOWED } from '../../src/http/long-keys.ts';
import { isRefugeError } from '../../src/errors/index.ts';

const refused = (e: unknown) => isRefugeError(e, 'bad_request') && /object keys longer than 16383/.test(e.reason);
const pad = (s: string) => (s.length >= LONG_KEY_SCAN_FROM ? s : s.slice(0, -1) + `,"pad":"${'p'.repeat(LONG_KEY_SCAN_FROM - s.length)}"}`);
const keysDoc = (n: number, key: (i: number) => string) => pad('{' + Array.from({ length: n }, (_, i) => `${JSON.stringify(key(i))}:${i}`).join(',') + '}');

test('more than the allowed long keys are refused; up to it, or keys at the limit, are not', () => {
  const long = (i: number) => 'k'.repeat(16_400) + i;
  assert.throws(() => checkLongKeys(keysDoc(LONG_KEYS_ALLOWED + 1, long)), refused);
  checkLongKeys(keysDoc(LONG_KEYS_ALLOWED, long));
  checkLongKeys(keysDoc(300, (i) => String(i).padStart(16_383, 'k')));
  // Whitespace before the colon still makes a key.
  const spaced = pad('{' + Array.from({ length: LONG_KEYS_ALLOWED + 1 }, (_, i) => `"${long(i)}" \n :1`).join(',') + '}');
  assert.throws(() => checkLongKeys(spaced), refused);
});

test('keys are measured as V8 holds them: escapes read, escaped quotes inside them skipped', () => {
  // 3,301 characters written as \uXXXX escapes: 16,505 raw, 3,301 decoded.
  const escapedKey = (i: number) => '\\u0041'.repeat(3_300) + i;
  const doc = pad('{' + Array.from({ length: 100 }, (_, i) => `"${escapedKey(i)}":1`).join(',') + '}');
  checkLongKeys(doc);
  assert.equal(Object.keys(JSON.parse(doc)).length, 101);
  // A long key holding escaped quotes and backslashes is one key.
  const tricky = (i: number) => 'a\\"b\\\\'.repeat(5_000) + i;
  assert.throws(() => checkLongKeys(pad('{' + Array.from({ length: LONG_KEYS_ALLOWED + 1 }, (_, i) => `"${tricky(i)}":1`).join(',') + '}')), refused);
});

test('long string values, however many and whatever they hold, are not keys; the scan stays linear', () => {
  // A 6 M-character value (a regular expression overflowed its stack on this) and values full of escaped quotes.
  checkLongKeys(JSON.stringify({ a: 'x'.repeat(6_000_000) }));
  // (The backtracking scan this replaces took 10 s on a tenth of this one.)
  const embedded = JSON.stringify({ a: JSON.stringify(Array.from({ length: 400_000 }, (_, i) => ({ k: i }))) });
  assert.ok(embedded.length > LONG_KEY_SCAN_FROM);
  checkLongKeys(embedded);
  checkLongKeys(JSON.stringify(Array.from({ length: 300 }, () => ['v'.repeat(16_400)])));
});
