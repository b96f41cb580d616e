import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { matchSelector, normalizeSelector } from '../../src/query/selector.ts';

const matches = (doc: unknown, sel: unknown) => matchSelector(doc, normalizeSelector(sel));
const yes = (doc: unknown, sel: unknown) => assert.equal(matches(doc, sel), true, `${JSON.stringify(sel)} should match ${JSON.stringify(doc)}`);
const no = (doc: unknown, sel: unknown) => assert.equal(matches(doc, sel), false, `${JSON.stringify(sel)} should not match ${JSON.stringify(doc)}`);

describe('matchSelector: CouchDB mango_selector:match semantics', () => {
  test('{} matches any document', () => {
    yes({ _id: 'x' }, {});
  });

  test('$eq compares with collation: 1 == 1.0, deep arrays/objects, key order matters', () => {
    yes({ a: 1 }, { a: 1.0 });
    yes({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] });
    yes({ a: { x: 1, y: 2 } }, { a: { $eq: { x: 1, y: 2 } } });
    no({ a: { y: 2, x: 1 } }, { a: { $eq: { x: 1, y: 2 } } });
    no({ a: 1 }, { a: '1' });
    yes({ a: {} }, { a: {} });
  });

  test('CouchDB (unlike MongoDB) does not look into arrays for $eq: {"tags":"a"} misses tags:["a"]', () => {
    no({ tags: ['a'] }, { tags: 'a' });
    yes({ tags: ['a'] }, { tags: ['a'] });
  });

  test('a missing field fails every condition, $ne and $nin included', () => {
    no({}, { a: { $ne: 1 } });
    no({}, { a: { $nin: [1] } });
    no({}, { a: { $nin: [] } });
    no({}, { a: { $lt: 1 } });
    no({}, { a: { $not: { $regex: 'x' } } });
    no({}, { $not: { a: 1 } }); // normalized to a $ne 1
    yes({ a: 2 }, { a: { $ne: 1 } });
    yes({ a: null }, { a: { $ne: 1 } });
  });

  test('inside $elemMatch & co., $not and $nor over selectors are plain negations (CouchDB pushes none down there)', () => {
    // An element without `b`, or not an object at all, is "not {b: 1}".
    yes({ arr: [{ b: 1 }, {}] }, { arr: { $elemMatch: { $not: { b: 1 } } } });
    yes({ arr: [5] }, { arr: { $elemMatch: { $not: { b: 1 } } } });
    no({ arr: [{ b: 1 }] }, { arr: { $elemMatch: { $not: { b: 1 } } } });
    yes({ arr: [{ b: 1 }, {}] }, { arr: { $allMatch: { $not: { b: 2 } } } });
    no({ arr: [{ b: 2 }, {}] }, { arr: { $allMatch: { $not: { b: 2 } } } });
    yes({ arr: [{}] }, { arr: { $elemMatch: { $nor: [{ b: 2 }, { c: 3 }] } } });
    no({ arr: [{ c: 3 }] }, { arr: { $elemMatch: { $nor: [{ b: 2 }, { c: 3 }] } } });
    yes({ m: { x: 1 } }, { m: { $keyMapMatch: { $not: { $eq: 'y' } } } });
    // A field's own $not too: CouchDB lifts it over the field ({"$not": {"b": ...}}) and keeps it.
    yes({ arr: [{}] }, { arr: { $elemMatch: { b: { $not: { $eq: 1 } } } } });
    yes({ arr: [{ b: 2 }] }, { arr: { $elemMatch: { b: { $not: { $eq: 1 } } } } });
    no({ arr: [{ b: 1 }] }, { arr: { $elemMatch: { b: { $not: { $eq: 1 } } } } });
    // A double negation is none.
    no({ arr: [{}] }, { arr: { $elemMatch: { $not: { b: { $not: { $eq: 1 } } } } } });
    // At the top level negations are pushed down, as CouchDB's normalizer does: the field must exist.
    no({}, { $not: { b: 1 } });
    yes({ b: 2 }, { $not: { b: 1 } });
  });

  test('$exists: true needs the key; false matches only a missing key, not a path through a scalar', () => {
    yes({ a: null }, { a: { $exists: true } });
    no({}, { a: { $exists: true } });
    yes({}, { a: { $exists: false } });
    no({ a: 0 }, { a: { $exists: false } });
    yes({ a: {} }, { 'a.b': { $exists: false } });
    no({ a: 5 }, { 'a.b': { $exists: false } }); // CouchDB: bad_path is not "missing"
    no({ a: [1] }, { 'a.b': { $exists: false } });
    yes({}, { $not: { a: { $exists: true } } });
  });

  test('$gt/$gte/$lt/$lte compare across types by collation', () => {
    yes({ a: 'x' }, { a: { $gt: 1 } });
    yes({ a: [0] }, { a: { $gt: 'zzz' } });
    yes({ a: {} }, { a: { $gt: [9] } });
    no({ a: null }, { a: { $gt: false } });
    yes({ a: null }, { a: { $lt: false } });
    yes({ a: 2 }, { a: { $gte: 2, $lte: 2 } });
    no({ a: 2 }, { a: { $gt: 2 } });
    yes({ a: 'b' }, { a: { $lt: 'ba' } });
    yes({ a: [1, 2] }, { a: { $lt: [1, 3] } });
  });

  test('$in: any argument equal to the value, or to one of its elements when it is an array', () => {
    yes({ a: 2 }, { a: { $in: [1, 2] } });
    yes({ a: [5, 2] }, { a: { $in: [1, 2] } });
    no({ a: [1] }, { a: { $in: [[1]] } }); // elements are compared, not the array itself
    yes({ a: [[1]] }, { a: { $in: [[1]] } });
    yes({ a: { b: 1 } }, { a: { $in: [{ b: 1 }] } });
    no({ a: 1 }, { a: { $in: [] } });
  });

  test('$nin: no argument equal (to the value or any element); an empty $nin matches any present value', () => {
    yes({ a: 3 }, { a: { $nin: [1, 2] } });
    no({ a: 2 }, { a: { $nin: [1, 2] } });
    no({ a: [3, 2] }, { a: { $nin: [1, 2] } });
    yes({ a: [3] }, { a: { $nin: [1, 2] } });
    yes({ a: 1 }, { a: { $nin: [] } });
  });

  test('$all: every argument is an element, or a lone array argument equals the value', () => {
    yes({ t: ['a', 'b', 'c'] }, { t: { $all: ['c', 'a'] } });
    no({ t: ['a'] }, { t: { $all: ['a', 'b'] } });
    yes({ t: ['a', 'b'] }, { t: { $all: [['a', 'b']] } });
    yes({ t: [['a', 'b']] }, { t: { $all: [['a', 'b']] } });
    no({ t: 'a' }, { t: { $all: ['a'] } });
    no({ t: ['a'] }, { t: { $all: [] } }); // CouchDB: an empty $all matches nothing
  });

  test('$elemMatch: some element matches the sub-selector; only arrays', () => {
    yes({ s: [70, 82] }, { s: { $elemMatch: { $gte: 80, $lt: 85 } } });
    no({ s: [70, 90] }, { s: { $elemMatch: { $gte: 80, $lt: 85 } } });
    yes({ e: [{ c: 'Moscow' }, { c: 'Paris' }] }, { e: { $elemMatch: { c: 'Paris' } } });
    no({ e: { c: 'Paris' } }, { e: { $elemMatch: { c: 'Paris' } } });
    no({ e: [] }, { e: { $elemMatch: {} } });
    yes({ e: [{}] }, { e: { $elemMatch: {} } }); // {} inside an operator is "equals {}", as in CouchDB
    yes({ e: [[1, 2]] }, { e: { $elemMatch: { $elemMatch: { $eq: 2 } } } });
  });

  test('$allMatch: a non-empty array whose every element matches', () => {
    yes({ s: [1, 2] }, { s: { $allMatch: { $gt: 0 } } });
    no({ s: [1, -2] }, { s: { $allMatch: { $gt: 0 } } });
    no({ s: [] }, { s: { $allMatch: { $gt: 0 } } });
    no({ s: 1 }, { s: { $allMatch: { $gt: 0 } } });
  });

  test('$keyMapMatch: some key of an object matches', () => {
    yes({ m: { fr: 1, de: 2 } }, { m: { $keyMapMatch: { $eq: 'de' } } });
    no({ m: { fr: 1 } }, { m: { $keyMapMatch: { $eq: 'de' } } });
    no({ m: ['de'] }, { m: { $keyMapMatch: { $eq: 'de' } } });
  });

  test('$size: arrays of exactly that length', () => {
    yes({ a: [1, 2] }, { a: { $size: 2 } });
    no({ a: 'ab' }, { a: { $size: 2 } });
    yes({ a: [] }, { a: { $size: 0 } });
  });

  test('$mod: integers only, remainder truncated toward zero like Erlang rem', () => {
    yes({ a: 7 }, { a: { $mod: [3, 1] } });
    yes({ a: -7 }, { a: { $mod: [3, -1] } });
    no({ a: -7 }, { a: { $mod: [3, 2] } });
    no({ a: 7.5 }, { a: { $mod: [3, 1] } });
    no({ a: '7' }, { a: { $mod: [3, 1] } });
  });

  test('$regex: unanchored, only strings; a leading (?i) becomes a flag', () => {
    yes({ a: 'xabcx' }, { a: { $regex: 'abc' } });
    no({ a: 'ABC' }, { a: { $regex: '^abc' } });
    yes({ a: 'ABC' }, { a: { $regex: '(?i)^abc' } });
    no({ a: 123 }, { a: { $regex: '1' } });
    yes({ a: 123 }, { a: { $not: { $regex: '1' } } });
  });

  test('$regex matches in linear time: patterns that backtrack exponentially answer at once; lookarounds are refused', () => {
    // Under a backtracking engine each of these takes minutes (doubling per character); a query
    // from any mesh peer must not stall the node.
    no({ a: 'a'.repeat(60) + '!' }, { a: { $regex: '^(a+)+$' } });
    no({ a: 'x'.repeat(60) }, { a: { $regex: '^(.|.)*!$' } });
    yes({ a: 'a'.repeat(60) }, { a: { $regex: '^(a+)+$' } });
    yes({ a: 'line1\nline2' }, { a: { $regex: '(?m)^line2$' } });
    for (const pattern of ['(?=a)b', '(a)\\1', '(?<!x)y']) {
      assert.throws(() => normalizeSelector({ a: { $regex: pattern } }), (e: Error & { code?: string }) => e.code === 'bad_arg', pattern);
    }
  });

  test('$type: the JSON type of the value', () => {
    for (const [v, t] of [[null, 'null'], [false, 'boolean'], [0, 'number'], ['', 'string'], [[], 'array'], [{}, 'object']] as const) {
      yes({ a: v }, { a: { $type: t } });
      no({ a: v }, { a: { $type: t === 'null' ? 'object' : 'null' } });
    }
  });

  test('$and/$or/$nor/$not combine; empty $and and $or are true', () => {
    yes({ a: 1, b: 2 }, { $and: [{ a: 1 }, { b: 2 }] });
    yes({ a: 1 }, { $or: [{ a: 2 }, { a: 1 }] });
    no({ a: 3 }, { $or: [{ a: 2 }, { a: 1 }] });
    yes({ a: 3 }, { $nor: [{ a: 2 }, { a: 1 }] });
    no({ b: 3 }, { $nor: [{ a: 2 }] }); // $nor becomes $ne, which needs the field
    yes({ a: 1 }, { $and: [] });
    yes({ a: 1 }, { $or: [] });
    yes({ a: 5 }, { a: { $not: { $gt: 6 } } });
    yes({ a: 5 }, { $not: { $or: [{ a: 1 }, { a: 2 }] } });
  });

  test('dotted fields walk objects; numeric segments index arrays; names never enter arrays', () => {
    yes({ a: { b: { c: 1 } } }, { 'a.b.c': 1 });
    yes({ a: [{ b: 1 }, { b: 2 }] }, { 'a.1.b': 2 });
    no({ a: [{ b: 1 }] }, { 'a.b': 1 });
    yes({ a: { '0': 'x' } }, { 'a.0': 'x' });
    no({ a: [1] }, { 'a.5': { $exists: true } });
    yes({ 'a.b': 1 }, { 'a\\.b': 1 });
    yes({ a: { b: 1 } }, { a: { b: 1 } });
  });

  test('_id compares in Erlang term order: a string id is above any non-string', () => {
    yes({ _id: 'a' }, { _id: { $gt: null } });
    yes({ _id: 'a' }, { _id: { $gt: ['z'] } }); // collation would say string < array
    no({ _id: 'a' }, { _id: { $lt: {} } });
    yes({ _id: '\u{10000}' }, { _id: { $gt: '\uffff' } });
  });

  test('a bare operator deeper than the root applies to the value at hand', () => {
    no({ a: 1 }, { $and: [{ $eq: 1 }] }); // the document is not 1
    yes({ a: 1 }, { $and: [{ $type: 'object' }] });
  });
});
