// The ids a selector's `_id` clauses allow (the `_all_docs` reads of find): never one less than
// the matcher takes, checked on random selectors; and as narrow as the clauses say.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { idBounds, type IdBounds } from '../../src/query/id-bounds.ts';
import { compareStrings } from '../../src/query/collate.ts';
import { matchSelector, normalizeSelector } from '../../src/query/selector.ts';

const allows = (b: IdBounds | undefined, id: string): boolean => {
  if (b === undefined) return true;
  if ('keys' in b) return b.keys.includes(id);
  const c = (x: string) => compareStrings(id, x);
  return (b.gt === undefined || c(b.gt) > 0) && (b.gte === undefined || c(b.gte) >= 0) && (b.lt === undefined || c(b.lt) < 0) && (b.lte === undefined || c(b.lte) <= 0);
};

const bounds = (selector: unknown) => idBounds(normalizeSelector(selector));

describe('idBounds', () => {
  test('the clauses as ids or a range; other values and fields leave it open or empty', () => {
    assert.deepEqual(bounds({ _id: 'k1' }), { keys: ['k1'] });
    assert.deepEqual(bounds({ _id: { $in: ['b', 'a', 'b', 3] } }), { keys: ['a', 'b'] });
    assert.deepEqual(bounds({ _id: { $gt: 'a', $lte: 'm' } }), { gt: 'a', lte: 'm' });
    assert.deepEqual(bounds({ $and: [{ _id: { $gte: 'a' } }, { _id: { $gt: 'a' } }, { _id: { $lt: 'z' } }, { _id: { $lt: 'y' } }] }), { gt: 'a', lt: 'y' });
    assert.deepEqual(bounds({ _id: { $beginsWith: 'doc' } }), { gte: 'doc', lt: 'dod' });
    assert.deepEqual(bounds({ _id: { $in: ['a', 'b', 'c'] }, $and: [{ _id: { $gt: 'a' } }] }), { keys: ['b', 'c'] });
    assert.deepEqual(bounds({ _id: 'a', $and: [{ _id: 'b' }] }), { keys: [] });
    // `_id` compares in Erlang's term order, where a string is above any other value.
    assert.equal(bounds({ _id: { $gt: 5 } }), undefined);
    assert.equal(bounds({ _id: { $gte: [] } }), undefined);
    assert.deepEqual(bounds({ _id: { $lt: 5 } }), { keys: [] });
    assert.deepEqual(bounds({ _id: { $lte: {} } }), { keys: [] });
    assert.deepEqual(bounds({ _id: 5 }), { keys: [] });
    // Nothing to bound by: other fields, $or of several clauses, negations, sub-fields of _id.
    assert.equal(bounds({ a: 1 }), undefined);
    assert.equal(bounds({ $or: [{ _id: 'a' }, { _id: 'b' }] }), undefined);
    assert.equal(bounds({ _id: { $ne: 'a' } }), undefined);
    assert.equal(bounds({ '_id.x': 'a' }), undefined);
    assert.deepEqual(bounds({ $or: [{ _id: 'a' }] }), { keys: ['a'] });
  });

  test('property: every id the selector matches is one the bounds allow', () => {
    const id = fc.constantFrom('', 'a', 'ab', 'b', 'ba', 'doc1', 'doc2', 'z', '\u{10000}', '\uffff', '\u00e9');
    const value = fc.oneof(id, fc.constantFrom<unknown>(null, true, 0, 5, [], ['a'], {}));
    const cond = fc.oneof(
      fc.constantFrom('$eq', '$gt', '$gte', '$lt', '$lte', '$ne').chain((op) => value.map((v) => ({ [op]: v }))),
      fc.array(value, { maxLength: 4 }).map((vs) => ({ $in: vs })),
      id.map((p) => ({ $beginsWith: p })),
      value.map((v) => v),
    );
    const clause = fc.oneof(cond.map((c) => ({ _id: c })), fc.constantFrom({ x: 1 }, { x: { $exists: false } }));
    const selector = fc.array(clause, { minLength: 1, maxLength: 4 }).chain((cs) =>
      fc.constantFrom({ $and: cs }, { $or: cs }, { $or: [{ $and: cs }] }, cs.length === 1 ? cs[0]! : { $and: cs }),
    );
    fc.assert(
      fc.property(selector, fc.array(id, { minLength: 1 }), (sel, ids) => {
        const normalized = normalizeSelector(sel);
        const b = idBounds(normalized);
        for (const i of ids) if (matchSelector({ _id: i }, normalized)) assert.ok(allows(b, i), `${JSON.stringify(sel)} matches ${JSON.stringify(i)} but ${JSON.stringify(b)} leaves it out`);
      }),
      { numRuns: 2000 },
    );
  });
});
