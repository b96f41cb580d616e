import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { collate, compareStrings, jsonType } from '../../src/query/collate.ts';
import { compareBytes, sign } from './helpers.ts';

describe('collate (CouchDB view collation)', () => {
  // The table from CouchDB's "Views Collation" documentation, in ascending order.
  const table: unknown[] = [
    null,
    false,
    true,
    -1e300,
    -2,
    -0.5,
    0,
    1,
    2,
    1e300,
    '',
    'A',
    'B',
    'a',
    'aa',
    'b',
    '\u00e9', // é after ASCII in code point order (ICU would put it next to "e")
    '\uffff',
    '\u{1F600}', // astral after the whole BMP, though its UTF-16 units start with 0xD83D
    [],
    [null],
    [false],
    [1],
    [1, 2],
    [2],
    ['a'],
    [[]],
    [{}],
    {},
    { a: 1 },
    { a: 1, b: 2 },
    { a: 2 },
    { b: 0 },
  ];

  test('the collation table sorts in order, each element only equal to itself', () => {
    for (let i = 0; i < table.length; i++) {
      for (let j = 0; j < table.length; j++) {
        assert.equal(sign(collate(table[i], table[j])), sign(i - j), `${JSON.stringify(table[i])} vs ${JSON.stringify(table[j])}`);
      }
    }
  });

  test('numbers compare numerically: 1 equals 1.0, -0 equals 0', () => {
    assert.equal(collate(1, 1.0), 0);
    assert.equal(collate(-0, 0), 0);
    assert.equal(collate(10, 9), 1);
  });

  test('objects compare key by key in their key order, then by number of keys', () => {
    assert.equal(collate({ a: 1, b: 2 }, { b: 2, a: 1 }), -1);
    assert.equal(collate({ a: 1 }, { a: 1, b: 0 }), -1);
    assert.equal(collate({ a: [1] }, { a: [1] }), 0);
  });

  test('strings compare by code point, i.e. by UTF-8 bytes (not UTF-16 units)', () => {
    assert.equal(compareStrings('\u{10000}', '\uffff'), 1);
    assert.ok('\u{10000}' < '\uffff', 'JS < disagrees, which is why compareStrings exists');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        assert.equal(sign(compareStrings(a, b)), compareBytes(a, b));
      }),
    );
  });

  test('lone surrogates order by their unit value, between U+D7FF and U+E000', () => {
    assert.equal(compareStrings('\ud800', '\ud7ff'), 1);
    assert.equal(compareStrings('\udfff', '\ue000'), -1);
    assert.equal(compareStrings('\ud800x', '\u{10000}'), -1); // lone lead vs a pair starting with a lead
    assert.equal(compareStrings('a\ud800', 'a\ud800\udc00'), -1);
  });

  test('jsonType names the $type of a value', () => {
    assert.deepEqual([null, true, 1, 's', [], {}].map(jsonType), ['null', 'boolean', 'number', 'string', 'array', 'object']);
  });
});
