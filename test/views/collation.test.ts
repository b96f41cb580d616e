// View collation: CouchDB's documented type order, the ICU-like string order, and the invariant the
// on-disk index rests on: encoded keys compare (by code point = UTF-8 bytes) exactly as the
// comparator does, and are equal exactly when keys collate equal.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareStrings } from '../../src/query/index.ts';
import { compareKeys, encodeKey, groupKey } from '../../src/views/index.ts';
import { groupEncoded } from '../../src/views/key-codec.ts';
import { isRefugeError } from '../../src/errors/index.ts';

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
const encCmp = (a: unknown, b: unknown) => sign(compareStrings(encodeKey(a), encodeKey(b)));

/** Asserts `keys` are strictly ascending by both the comparator and the encoding. */
function assertAscending(keys: readonly unknown[]): void {
  for (let i = 0; i < keys.length; i++) {
    for (let j = 0; j < keys.length; j++) {
      const want = sign(i - j);
      assert.equal(sign(compareKeys(keys[i], keys[j])), want, `compare ${JSON.stringify(keys[i])} ${JSON.stringify(keys[j])}`);
      assert.equal(encCmp(keys[i], keys[j]), want, `encoded ${JSON.stringify(keys[i])} ${JSON.stringify(keys[j])}`);
    }
  }
}

describe('view collation', () => {
  test("CouchDB's documented collation specification, in order", () => {
    assertAscending([
      null,
      false,
      true,
      1,
      2,
      3.5,
      4,
      'a',
      'A',
      'aa',
      'b',
      'B',
      'ba',
      'bb',
      ['a'],
      ['b'],
      ['b', 'c'],
      ['b', 'c', 'a'],
      ['b', 'd'],
      ['b', 'd', 'e'],
      { a: 1 },
      { a: 2 },
      { b: 1 },
      { b: 2 },
      { b: 2, a: 1 },
      { b: 2, c: 2 },
    ]);
  });

  test('numbers: numeric order, negatives, fractions, huge and tiny, -0 equals 0, 1 equals 1.0', () => {
    assertAscending([-Number.MAX_VALUE, -1e21, -2, -1.5, -1, -Number.MIN_VALUE, 0, Number.MIN_VALUE, 1e-7, 0.5, 1, 1.0000001, 2, 10, 1e21, Number.MAX_VALUE]);
    assert.equal(compareKeys(-0, 0), 0);
    assert.equal(encodeKey(-0), encodeKey(0));
    assert.equal(encodeKey(3), encodeKey(3.0));
  });

  test('ASCII characters in ICU (DUCET) order: symbols before digits before letters, lowercase first', () => {
    const order = ' _ - , ; : ! ? . \' " ( ) [ ] { } @ * / \\ & # % ` ^ + < = > | ~ $ 0 1 2 3 4 5 6 7 8 9'.split(' ');
    order[0] = ' ';
    const letters = 'abcdefghijklmnopqrstuvwxyz'.split('').flatMap((c) => [c, c.toUpperCase()]);
    assertAscending([...order.filter((c, i) => c !== '' || i === 0), ...letters]);
  });

  test('strings: case, accents and length compare at ICU levels', () => {
    assertAscending(['a', 'A', 'á', 'Á', 'aa', 'Aa', 'AA', 'ab', 'b']);
    assertAscending(['resume', 'Resume', 'résumé', 'Résumé', 'resumes']);
    assertAscending(['abc', 'Abc', 'ABC', 'abc1', 'AbcZZZZZ']);
    assertAscending(['', ' ', '-', '0', '10', '9', 'a', 'z', 'α', 'б', '日本']);
    // Earlier accents weigh more (UCA secondary order).
    assert.ok(compareKeys('ab\u0301', 'a\u0301b') < 0);
    // Compatibility characters sort with their decomposition, a tertiary step after it.
    assertAscending(['fi', 'ﬁ', 'fj']);
    assertAscending(['ss', 'SS', 'ß', 'st']);
    assertAscending(['1', '½', '10']);
  });

  test('canonically equivalent strings are equal; ignorable differences still order', () => {
    assert.equal(compareKeys('é', 'e\u0301'), 0);
    assert.equal(encodeKey(['é']), encodeKey(['e\u0301']));
    assert.ok(compareKeys('a', 'a\u0001') < 0);
    assert.ok(compareKeys('a\u0001', 'A') < 0);
    assert.notEqual(encodeKey('a\u200b'), encodeKey('a'));
  });

  test('the startkey/endkey idioms of the docs hold', () => {
    assert.ok(compareKeys(['XYZ', 'x', ['bar']], ['XYZ', {}]) < 0);
    assert.ok(compareKeys(['foo', { an: 'object' }], ['foo', {}]) > 0);
    assert.ok(compareKeys('abc\u4e00', 'abc\ufff0') < 0);
    assert.ok(compareKeys('abcZZZ', 'abc\ufff0') < 0);
  });

  test('group keys: arrays truncated to the level, other keys as they are', () => {
    assert.deepEqual(groupKey([1, 2, 3], 2), [1, 2]);
    assert.deepEqual(groupKey([1], 2), [1]);
    assert.equal(groupKey('x', 1), 'x');
    assert.deepEqual(groupKey([1, 2, 3], 'exact'), [1, 2, 3]);
  });
});

// JSON values with strings drawn to hit the interesting corners: case, accents (composed and not),
// ignorables, astral characters, lone surrogates, controls and compatibility characters.
const tricky = fc.constantFrom('a', 'A', 'á', 'a\u0301', 'b', 'ß', 'ss', 'ﬁ', '\u0000', '\u0001', '\ud800', '\udc00', '😀', '\ue000', '1', '½', ' ', '~', 'İ', 'Ω', 'Ω', '\u200b');
const str = fc.oneof(fc.array(tricky, { maxLength: 4 }).map((a) => a.join('')), fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ maxLength: 6 }));
const num = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 1.5, 1e300, -1e-300));
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    num,
    str,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(str, tie('value'), { maxKeys: 3 }),
  ),
})).value;

describe('view collation properties', () => {
  test('encoded order equals comparator order; equal encodings exactly when equal keys', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        const c = sign(compareKeys(a, b));
        assert.equal(encCmp(a, b), c);
        assert.equal(encodeKey(a) === encodeKey(b), c === 0);
      }),
      { numRuns: 3000 },
    );
  });

  test('strings are equal exactly when their NFD forms are', () => {
    fc.assert(
      fc.property(str, str, (a, b) => {
        assert.equal(compareKeys(a, b) === 0, a.normalize('NFD') === b.normalize('NFD'));
      }),
      { numRuns: 3000 },
    );
  });

  test('the comparator is a total order (transitive, antisymmetric)', () => {
    fc.assert(
      fc.property(json, json, json, (a, b, c) => {
        assert.equal(sign(compareKeys(a, b)) + sign(compareKeys(b, a)), 0);
        if (compareKeys(a, b) <= 0 && compareKeys(b, c) <= 0) assert.ok(compareKeys(a, c) <= 0);
      }),
      { numRuns: 2000 },
    );
  });

  test('encodings are storable: well-formed UTF-16, no U+0000', () => {
    fc.assert(
      fc.property(json, (a) => {
        const e = encodeKey(a);
        assert.ok(!e.includes('\u0000'));
        assert.ok((e as string & { isWellFormed(): boolean }).isWellFormed());
      }),
      { numRuns: 2000 },
    );
  });

  test('grouping from the encoding matches grouping the key', () => {
    fc.assert(
      fc.property(fc.array(json, { maxLength: 5 }), fc.integer({ min: 0, max: 6 }), (key, level) => {
        assert.equal(groupEncoded(encodeKey(key), level), encodeKey(groupKey(key, level)));
      }),
      { numRuns: 2000 },
    );
  });
});

test('a key nested past 1024 levels is refused with bad_request, not a stack overflow; one as deep as a document may be is encoded', () => {
  const nested = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n));
  assert.throws(() => encodeKey(nested(20_000)), (e) => isRefugeError(e, 'bad_request'));
  assert.throws(() => encodeKey({ a: nested(1100) }), (e) => isRefugeError(e, 'bad_request'));
  assert.equal(encodeKey(nested(1000)).length, 2000);
});
