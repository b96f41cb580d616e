import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isRefugeError } from '../../src/errors/index.ts';
import { normalizeSelector } from '../../src/query/selector.ts';

const field = (f: string, cond: object) => ({ kind: 'field', field: f, path: f === '' ? [] : f.split('.'), cond });
const norm = (s: unknown) => JSON.parse(JSON.stringify(normalizeSelector(s)));

describe('normalizeSelector: CouchDB mango_selector:normalize', () => {
  test('a selector nested past 200 levels is refused (every walk over it recurses), one within is taken', () => {
    const nest = (n: number) => {
      let sel: Record<string, unknown> = { a: 1 };
      for (let i = 0; i < n; i++) sel = { $and: [sel] };
      return sel;
    };
    assert.throws(() => normalizeSelector(nest(20_000)), (e) => isRefugeError(e, 'invalid_selector_json'));
    assert.throws(() => normalizeSelector({ a: { $eq: JSON.parse('['.repeat(500) + ']'.repeat(500)) } }), (e) => isRefugeError(e, 'invalid_selector_json'));
    assert.doesNotThrow(() => normalizeSelector(nest(90)));
  });

  test('{} matches everything (an empty $and)', () => {
    assert.deepEqual(norm({}), { kind: 'and', clauses: [] });
  });

  test('a bare value is an implicit $eq, several fields an implicit $and', () => {
    assert.deepEqual(norm({ a: 1, b: 'x' }), {
      kind: 'and',
      clauses: [field('a', { op: '$eq', value: 1 }), field('b', { op: '$eq', value: 'x' })],
    });
  });

  test('nested objects become dotted fields: {"a":{"b":1}} is a.b $eq 1', () => {
    assert.deepEqual(norm({ a: { b: 1 } }), field('a.b', { op: '$eq', value: 1 }));
    assert.deepEqual(norm({ 'a.b': 1 }), field('a.b', { op: '$eq', value: 1 }));
  });

  test('an empty object value means equality with {}', () => {
    assert.deepEqual(norm({ a: {} }), field('a', { op: '$eq', value: {} }));
  });

  test('operator arguments are literal: {"a":{"$eq":{"b":1}}} compares with the object', () => {
    assert.deepEqual(norm({ a: { $eq: { b: 1 } } }), field('a', { op: '$eq', value: { b: 1 } }));
  });

  test('several operators on a field are an $and; a field name pushes into $and/$or', () => {
    assert.deepEqual(norm({ a: { $gt: 1, $lt: 5 } }), {
      kind: 'and',
      clauses: [field('a', { op: '$gt', value: 1 }), field('a', { op: '$lt', value: 5 })],
    });
    assert.deepEqual(norm({ a: { $or: [{ b: 1 }, 2] } }), {
      kind: 'or',
      clauses: [field('a.b', { op: '$eq', value: 1 }), field('a', { op: '$eq', value: 2 })],
    });
  });

  test('negations are pushed down: $not of $gt is $lte, De Morgan over $and/$or, $nor', () => {
    assert.deepEqual(norm({ $not: { a: { $gt: 10 } } }), field('a', { op: '$lte', value: 10 }));
    assert.deepEqual(norm({ a: { $not: { $in: [1] } } }), field('a', { op: '$nin', values: [1] }));
    assert.deepEqual(norm({ $not: { $and: [{ a: 1 }, { b: { $exists: true } }] } }), {
      kind: 'or',
      clauses: [field('a', { op: '$ne', value: 1 }), field('b', { op: '$exists', value: false })],
    });
    assert.deepEqual(norm({ $nor: [{ a: 1 }, { b: 2 }] }), {
      kind: 'and',
      clauses: [field('a', { op: '$ne', value: 1 }), field('b', { op: '$ne', value: 2 })],
    });
    assert.deepEqual(norm({ $not: { $not: { a: 1 } } }), field('a', { op: '$eq', value: 1 }));
  });

  test('operators without an opposite keep a $not around them', () => {
    const s = norm({ a: { $not: { $size: 2 } } });
    assert.deepEqual(s, field('a', { op: '$not', cond: { op: '$size', value: 2 } }));
  });

  test('$elemMatch sub-selectors are normalized on their own, fields relative to the element', () => {
    assert.deepEqual(norm({ a: { $elemMatch: { $gte: 80, b: 1 } } }), field('a', {
      op: '$elemMatch',
      selector: { kind: 'and', clauses: [field('', { op: '$gte', value: 80 }), field('b', { op: '$eq', value: 1 })] },
    }));
  });

  test('escaped dots stay in the field name; the path unescapes them', () => {
    const s = normalizeSelector({ 'a\\.b': 1 });
    assert.equal(s.kind === 'field' && s.field, 'a\\.b');
    assert.deepEqual(s.kind === 'field' && s.path, ['a.b']);
  });

  // Mango's error names (mango_error), each for its kind of mistake.
  const CODES: Array<[RegExp, string]> = [
    [/^Selector must be/, 'invalid_selector_json'],
    [/^Invalid operator/, 'invalid_operator'],
    [/^Unsupported operator/, 'not_supported'],
    [/^One or more conditions/, 'invalid_selector'],
    [/^Invalid field name/, 'bad_request'],
  ];
  const rejects = (sel: unknown, reason: string | RegExp) =>
    assert.throws(() => normalizeSelector(sel), (err: any) => {
      assert.equal(err.code, CODES.find(([re]) => re.test(err.reason))?.[1] ?? 'bad_arg', err.reason);
      if (typeof reason === 'string') assert.equal(err.reason, reason);
      else assert.match(err.reason, reason);
      return true;
    });

  test("invalid selectors get Mango's error names and CouchDB's reasons", () => {
    rejects([], 'Selector must be a JSON object, not: []');
    rejects('x', 'Selector must be a JSON object, not: "x"');
    rejects(null, /Selector must be a JSON object/);
    rejects({ a: { $foo: 1 } }, 'Invalid operator: $foo');
    rejects({ $where: 'x' }, 'Unsupported operator: $where');
    rejects({ $gt: 1 }, 'One or more conditions is missing a field name.');
    rejects({ '': 1 }, 'One or more conditions is missing a field name.');
    rejects({ 'a..b': 1 }, 'Invalid field name: a..b');
    rejects({ $and: {} }, 'Bad argument for operator $and: {}');
    rejects({ $or: 1 }, /\$or/);
    rejects({ $nor: 'x' }, /\$nor/);
    rejects({ $not: [] }, /\$not/);
    rejects({ a: { $in: 1 } }, 'Bad argument for operator $in: 1');
    rejects({ a: { $nin: {} } }, /\$nin/);
    rejects({ a: { $all: 'x' } }, /\$all/);
    rejects({ a: { $exists: 1 } }, /\$exists/);
    rejects({ a: { $type: 1 } }, /\$type/);
    rejects({ a: { $size: -1 } }, /\$size/);
    rejects({ a: { $size: 1.5 } }, /\$size/);
    rejects({ a: { $mod: [2] } }, /\$mod/);
    rejects({ a: { $mod: [2, 1.5] } }, /\$mod/);
    rejects({ a: { $mod: [0, 1] } }, /\$mod/);
    rejects({ a: { $regex: 1 } }, /\$regex/);
    rejects({ a: { $regex: '(' } }, 'Bad argument for operator $regex: "("');
    rejects({ a: { $elemMatch: 1 } }, /\$elemMatch/);
    rejects({ a: { $allMatch: [] } }, /\$allMatch/);
    rejects({ a: { $keyMapMatch: 'x' } }, /\$keyMapMatch/);
    rejects({ a: { $elemMatch: { $bad: 1 } } }, 'Invalid operator: $bad');
  });

  test('valid arguments of every operator are accepted', () => {
    for (const sel of [
      { a: { $in: [] } },
      { a: { $mod: [-3, -1] } },
      { a: { $size: 0 } },
      { a: { $regex: '(?i)^ab' } },
      { a: { $type: 'object' } },
      { a: { $all: [[1]] } },
      { a: { $keyMapMatch: { $eq: 'k' } } },
      { $and: [] },
      { $or: [] },
    ]) {
      normalizeSelector(sel);
    }
  });
});
