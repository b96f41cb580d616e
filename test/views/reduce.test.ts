// Built-in reduces with CouchDB's semantics: _count, _sum over numbers/arrays/objects and its inline
// error value, _stats with pre-aggregated input and its errors, _approx_count_distinct's error bound.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinName, builtinReducer, encodeKey, SUM_ERROR, type ReduceRow } from '../../src/views/index.ts';
import { isRefugeError } from '../../src/errors/index.ts';

const rows = (values: unknown[], keys?: unknown[]): ReduceRow[] =>
  values.map((value, i) => ({ key: keys?.[i] ?? i, enc: encodeKey(keys?.[i] ?? i), id: `d${i}`, value }));

function run(name: '_count' | '_sum' | '_stats' | '_approx_count_distinct', values: unknown[], keys?: unknown[]): unknown {
  const r = builtinReducer(name);
  return r.finalize(r.reduce(rows(values, keys)));
}

/** Reduces in chunks of `size` then rereduces, as queries do. */
function chunked(name: '_count' | '_sum' | '_stats', values: unknown[], size: number): unknown {
  const r = builtinReducer(name);
  const parts: unknown[] = [];
  for (let i = 0; i < values.length; i += size) parts.push(r.reduce(rows(values.slice(i, i + size))));
  return r.finalize(r.rereduce(parts));
}

describe('builtin reduces', () => {
  test('names: exact, by prefix as CouchDB, unknown builtins refused, JS source passes', () => {
    assert.equal(builtinName('_count'), '_count');
    assert.equal(builtinName('_sum_anything'), '_sum');
    assert.equal(builtinName('function(k,v){return 1}'), undefined);
    assert.throws(() => builtinName('_median'), (e) => isRefugeError(e, 'invalid_design_doc') && e.reason === '`_median` is not a supported reduce function.');
  });

  test('_count counts rows, rereduce sums counts', () => {
    assert.equal(run('_count', ['x', null, {}]), 3);
    assert.equal(chunked('_count', new Array(2500).fill(1), 1000), 2500);
  });

  test('_sum: numbers, arrays element-wise with differing lengths, nested objects', () => {
    assert.equal(run('_sum', [1, 2.5, -3]), 0.5);
    assert.deepEqual(run('_sum', [[1, 2], [10], [1, 1, 1]]), [12, 3, 1]);
    assert.deepEqual(run('_sum', [1, [10, 20]]), [11, 20]);
    assert.deepEqual(run('_sum', [{ a: 1, b: { c: 2 } }, { a: 2, b: { c: 3, d: [1] } }, { e: 5 }]), { a: 3, b: { c: 5, d: [1] }, e: 5 });
    assert.equal(chunked('_sum', Array.from({ length: 3001 }, (_, i) => i), 1000), (3000 * 3001) / 2);
    assert.equal(run('_sum', []), 0);
  });

  test('_sum: a bad value becomes an inline builtin_reduce_error value, and travels through rereduce', () => {
    const bad = run('_sum', [1, 'abc', 2]) as Record<string, unknown>;
    assert.deepEqual(bad, { error: 'builtin_reduce_error', reason: SUM_ERROR, caused_by: 'abc' });
    // One array value is never checked (sum_arrays([0], V) keeps V's tail as it is), as in CouchDB.
    assert.deepEqual(run('_sum', [[1, 'x']]), [1, 'x']);
    assert.equal((run('_sum', [[1, 2], [1, 'x']]) as Record<string, unknown>).error, 'builtin_reduce_error');
    assert.deepEqual((run('_sum', [[1, 2], [1, 'x']]) as Record<string, unknown>).caused_by, [2]);
    assert.equal((run('_sum', [3, { a: 1 }]) as Record<string, unknown>).error, 'builtin_reduce_error');
    const r = builtinReducer('_sum');
    assert.deepEqual(r.rereduce([5, bad, 6]), bad);
  });

  test('_stats: numbers, arrays, pre-aggregated objects, rereduce', () => {
    assert.deepEqual(run('_stats', [1, 2, 3, 4]), { sum: 10, count: 4, min: 1, max: 4, sumsqr: 30 });
    assert.deepEqual(run('_stats', [[1, 10], [3, 30]]), [
      { sum: 4, count: 2, min: 1, max: 3, sumsqr: 10 },
      { sum: 40, count: 2, min: 10, max: 30, sumsqr: 1000 },
    ]);
    assert.deepEqual(run('_stats', [{ sum: 5, count: 2, min: 1, max: 4, sumsqr: 17 }, 3]), { sum: 8, count: 3, min: 1, max: 4, sumsqr: 26 });
    assert.deepEqual(chunked('_stats', [5, 1, 9, 2, 7], 2), { sum: 24, count: 5, min: 1, max: 9, sumsqr: 160 });
    assert.deepEqual(run('_stats', []), { sum: 0, count: 0, min: 0, max: 0, sumsqr: 0 });
  });

  test('_stats: errors with CouchDB reasons', () => {
    const reason = (values: unknown[]) => {
      try {
        run('_stats', values);
        return 'no error';
      } catch (e) {
        assert.ok(isRefugeError(e, 'invalid_value'));
        assert.equal(e.status, 500);
        return e.reason;
      }
    };
    assert.equal(reason([1, 'abc']), "The _stats function requires that map values be numbers or arrays of numbers, not '\"abc\"'");
    assert.equal(reason(['abc', 1]), 'non-numeric _stats input: "abc"');
    assert.equal(reason([{ sum: 1, count: 1, min: 1, max: 1 }]), 'user _stats input missing required field sumsqr ({"sum":1,"count":1,"min":1,"max":1})');
    assert.equal(reason([{ sum: 'x', count: 1, min: 1, max: 1, sumsqr: 1 }]), 'non-numeric _stats input received for sum: "x"');
    assert.match(reason([1, [1, 2]]), /requires that map values be numbers or arrays of numbers/);
  });

  test('_approx_count_distinct: exact for small sets, within 3 sigma (±7%) for large ones, mergeable', () => {
    assert.equal(run('_approx_count_distinct', [null, null, null], ['a', 'b', 'a']), 2);
    for (const n of [1000, 20000, 100000]) {
      const keys = Array.from({ length: n }, (_, i) => ['k', i]);
      const est = run('_approx_count_distinct', keys.map(() => null), keys) as number;
      assert.ok(Math.abs(est - n) / n < 0.07, `estimate ${est} for ${n}`);
    }
    const r = builtinReducer('_approx_count_distinct');
    const a = r.reduce(rows([null, null], ['x', 'y']));
    const b = r.reduce(rows([null, null], ['y', 'z']));
    assert.equal(r.finalize(r.rereduce([a, b])), 3);
  });
});
