import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { collate } from '../../src/query/collate.ts';
import {
  ARRAY,
  decodeIndexValue,
  encodeContainerMarker,
  encodeIndexValue,
  encodePathSegment,
  fieldToPath,
  indexEntries,
  joinPath,
  makeIndexKey,
  MAX_INDEXED_PATH,
  parseIndexKey,
} from '../../src/query/index-keys.ts';
import { compareBytes, isWellFormed, sign } from './helpers.ts';

// Strings from every corner that matters: separators, escapes, lone surrogates, astral characters.
const trickyChar = fc.constantFrom('\u0000', '\u0001', '\u0002', 'a', 'é', '\ud7ff', '\ud800', '\udbff', '\udc00', '\udfff', '\ue000', '\uffff', '\u{10000}', '\u{10FFFF}');
const trickyString = fc.oneof(
  fc.array(trickyChar, { maxLength: 6 }).map((cs) => cs.join('')),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const trickyNumber = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, -1, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 53, 0.1),
  fc.integer(),
);
export const scalar = fc.oneof(fc.constant(null), fc.boolean(), trickyNumber, trickyString);

describe('encodeIndexValue', () => {
  test('property: encoded order (UTF-8 bytes) equals collation order for scalars', () => {
    fc.assert(
      fc.property(scalar, scalar, (a, b) => {
        assert.equal(compareBytes(encodeIndexValue(a), encodeIndexValue(b)), sign(collate(a, b)));
      }),
      { numRuns: 3000 },
    );
  });

  test('property: order survives the separator and a doc id after it (prefix case)', () => {
    fc.assert(
      fc.property(scalar, scalar, fc.string(), fc.string(), (a, b, ida, idb) => {
        const c = sign(collate(a, b));
        if (c === 0) return;
        assert.equal(compareBytes(makeIndexKey('p', encodeIndexValue(a), ida), makeIndexKey('p', encodeIndexValue(b), idb)), c);
      }),
      { numRuns: 2000 },
    );
  });

  test('property: decode inverts encode, and encodings hold no 0x00 and no lone surrogate', () => {
    fc.assert(
      fc.property(scalar, (v) => {
        const e = encodeIndexValue(v);
        assert.ok(!e.includes('\u0000'));
        assert.ok(isWellFormed(e));
        assert.deepEqual(decodeIndexValue(e), Object.is(v, -0) ? 0 : v);
      }),
      { numRuns: 3000 },
    );
  });

  test('container markers sort after all strings, arrays before objects', () => {
    const arr = encodeContainerMarker('array');
    const obj = encodeContainerMarker('object');
    assert.equal(encodeIndexValue([1, 2]), arr);
    assert.equal(encodeIndexValue({ a: 1 }), obj);
    assert.equal(compareBytes(encodeIndexValue('\u{10FFFF}\u{10FFFF}'), arr), -1);
    assert.equal(compareBytes(arr, obj), -1);
    assert.deepEqual(decodeIndexValue(arr), []);
    assert.deepEqual(decodeIndexValue(obj), {});
  });

  test('1 and 1.0 and -0/0 encode alike', () => {
    assert.equal(encodeIndexValue(1), encodeIndexValue(1.0));
    assert.equal(encodeIndexValue(-0), encodeIndexValue(0));
  });
});

describe('paths', () => {
  test('encodePathSegment escapes \\, /, a key "[]", U+0000 and lone surrogates', () => {
    assert.equal(encodePathSegment('a/b'), 'a\\/b');
    assert.equal(encodePathSegment('a\\b'), 'a\\\\b');
    assert.equal(encodePathSegment('[]'), '\\[]');
    assert.equal(encodePathSegment('[]x'), '[]x');
    assert.equal(encodePathSegment('a\u0000'), 'a\\0');
    assert.equal(encodePathSegment('\ud800'), '\\ud800');
    assert.equal(encodePathSegment('\u{1F600}'), '\u{1F600}');
  });

  test('property: joinPath is injective and never holds 0x00', () => {
    const seg = fc.oneof(fc.constant(ARRAY), fc.string({ unit: 'binary', maxLength: 4 }), fc.constantFrom('[]', '/', '\\', '\\/', '\u0000'));
    const path = fc.array(seg, { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(path, path, (a, b) => {
        const pa = joinPath(a);
        assert.ok(!pa.includes('\u0000') && isWellFormed(pa));
        const same = a.length === b.length && a.every((s, i) => s === b[i]);
        assert.equal(pa === joinPath(b), same);
      }),
      { numRuns: 3000 },
    );
  });

  test('fieldToPath follows Mango field syntax (dots, \\. for a literal dot)', () => {
    assert.equal(fieldToPath('exports.city'), 'exports/city');
    assert.equal(fieldToPath('a\\.b.c'), 'a.b/c');
    assert.equal(fieldToPath('x/y'), 'x\\/y');
    assert.throws(() => fieldToPath('a..b'), { code: 'bad_request' });
  });
});

describe('indexEntries', () => {
  test('paths longer than MAX_INDEXED_PATH are left out, with everything below them', () => {
    const long = 'k'.repeat(MAX_INDEXED_PATH - 1);
    const doc = { a: { [long]: 1 }, [long + 'x']: { b: [1, { c: 2 }] }, [long + 'xy']: { b: 1 }, s: 'x' };
    const paths = indexEntries(doc).map(([p]) => p);
    // `a/<long>` is one character past the bound; `<long>x` is exactly at it, its children past.
    assert.deepEqual(paths.sort(), ['a', long + 'x', 's'].sort());
    // A key past V8's hashing limit over many fields costs nothing beyond its own entry's absence.
    const flood = { [('p'.repeat(16_400))]: Object.fromEntries(Array.from({ length: 4000 }, (_, i) => [`f${i}`, i])) };
    assert.deepEqual(indexEntries(flood), []);
  });

  const values = (doc: Record<string, unknown>) =>
    indexEntries(doc).map(([p, e]) => [p, decodeIndexValue(e)] as const);

  test('design example: {"exports":[{"city":"Moscow"}]} is findable as exports/[]/city', () => {
    assert.deepEqual(values({ _id: 'x', _rev: '1-a', exports: [{ city: 'Moscow' }] }), [
      ['exports', []],
      ['exports/[]', {}],
      ['exports/[]/city', 'Moscow'],
    ]);
  });

  test('scalars in arrays are entries of path/[]; duplicates are dropped', () => {
    assert.deepEqual(values({ tags: ['a', 'b', 'a', 1, 1.0] }), [
      ['tags', []],
      ['tags/[]', 'a'],
      ['tags/[]', 'b'],
      ['tags/[]', 1],
    ]);
  });

  test('property: entries are the distinct (path, encoded value) pairs, however many repeat in arrays', () => {
    // Arrays long enough to pass the duplicate check's switch from a linear scan to a map.
    const item = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom('a', 'b', null, true), fc.record({ k: fc.integer({ min: 0, max: 5 }) }));
    const doc = fc.record({ xs: fc.array(item, { maxLength: 80 }), ys: fc.array(fc.array(item, { maxLength: 30 }), { maxLength: 4 }) });
    // Every path and encoded value the brute force sees, in first-seen order.
    const brute = (v: unknown, path: string, out: string[]): void => {
      if (Array.isArray(v)) {
        out.push(path + '\u0000' + encodeContainerMarker('array'));
        for (const x of v) brute(x, path + '/[]', out);
      } else if (v !== null && typeof v === 'object') {
        out.push(path + '\u0000' + encodeContainerMarker('object'));
        for (const [k, x] of Object.entries(v)) brute(x, path + '/' + encodePathSegment(k), out);
      } else out.push(path + '\u0000' + encodeIndexValue(v as never));
    };
    fc.assert(
      fc.property(doc, (d) => {
        const want: string[] = [];
        for (const [k, v] of Object.entries(d)) brute(v, encodePathSegment(k), want);
        const got = indexEntries(d).map(([p, e]) => p + '\u0000' + e);
        assert.deepEqual(got, [...new Set(want)]);
      }),
    );
  });

  test('nested arrays, empty containers and escaped keys', () => {
    assert.deepEqual(values({ m: [[1], []], e: {}, 'a/b': { '[]': null } }), [
      ['m', []],
      ['m/[]', []],
      ['m/[]/[]', 1],
      ['e', {}],
      ['a\\/b', {}],
      ['a\\/b/\\[]', null],
    ]);
  });

  test('only top-level fields starting with _ are skipped', () => {
    assert.deepEqual(values({ _x: 1, y: { _z: 2 } }), [
      ['y', {}],
      ['y/_z', 2],
    ]);
  });

  test('makeIndexKey / parseIndexKey round-trip', () => {
    const key = makeIndexKey('a/b', encodeIndexValue('v'), 'doc\u0000id');
    assert.deepEqual(parseIndexKey(key), { path: 'a/b', encodedValue: encodeIndexValue('v'), docId: 'doc\u0000id' });
  });
});
