// A JavaScript reduce over many groups: the groups' reductions are computed a batch at a time (one
// sandbox call per batch, not per key), with the answers the one-by-one path gave: group levels,
// skip, limit, descending, keys, a throwing reduce (null) and a reduction that overflows.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testGroup } from './helpers.ts';

const SUM = 'function (keys, values, rereduce) { return sum(values); }';
const VIEWS = {
  js: { map: 'function (doc) { emit(doc.k, doc.n); }', reduce: SUM },
  builtin: { map: 'function (doc) { emit(doc.k, doc.n); }', reduce: '_sum' },
  picky: { map: 'function (doc) { emit(doc.k, doc.n); }', reduce: 'function (keys, values, rereduce) { if (!rereduce && keys[0][0][0] === 3) throw new Error("no threes"); return sum(values); }' },
  big: { map: 'function (doc) { emit(doc.k, doc.n); }', reduce: 'function (keys, values, rereduce) { if (!rereduce && keys[0][0][0] === 4) { var a = []; for (var i = 0; i < 2000; i++) a.push(i); return a; } return sum(values); }' },
};

// 750 keys [a, b], two rows each.
const DOCS = Array.from({ length: 1500 }, (_, i) => ({ _id: `d${String(i).padStart(4, '0')}`, k: [Math.floor(i / 2) % 5, Math.floor(i / 2)], n: i }));

describe('a JavaScript reduce over many groups', async () => {
  const t = await testGroup(VIEWS, DOCS);
  const q = (view: string, o: Record<string, unknown>) => t.group.query(view, o, t.fetchDocs);

  test('group=true answers as _sum does, in a few sandbox calls', async () => {
    const want = await q('builtin', { group: true });
    t.sandbox.reduceCalls = 0;
    const got = await q('js', { group: true });
    assert.equal(got.rows.length, 750);
    assert.deepEqual(got.rows, want.rows);
    assert.ok(t.sandbox.reduceCalls <= 4, `${t.sandbox.reduceCalls} reduce calls for 750 groups`);
  });

  test('group levels, skip, limit, descending and keys', async () => {
    for (const o of [
      { group_level: 1 },
      { group: true, skip: 250, limit: 300 },
      { group: true, limit: 7 },
      { group: true, descending: true, skip: 3, limit: 400 },
      { group: true, startkey: [2, 50], endkey: [3, 10] },
      { group: true, keys: [[1, 1], [4, 4], [1, 1], [0, 119]] },
      { group_level: 1, descending: true },
      {},
    ]) {
      assert.deepEqual((await q('js', o)).rows, (await q('builtin', o)).rows, JSON.stringify(o));
    }
  });

  test('a group whose reduce throws gives null, one that overflows an error row; the others their sums', async () => {
    const picky = await q('picky', { group: true });
    const sums = new Map((await q('builtin', { group: true })).rows.map((r) => [JSON.stringify(r.key), (r as { value: unknown }).value]));
    for (const row of picky.rows as Array<{ key: number[]; value: unknown }>) {
      assert.deepEqual(row.value, row.key[0] === 3 ? null : sums.get(JSON.stringify(row.key)), JSON.stringify(row.key));
    }
    const big = (await q('big', { group: true })).rows as Array<{ key: number[]; value?: unknown; error?: string }>;
    for (const row of big) {
      if (row.key[0] === 4) assert.equal(row.error, 'reduce_overflow_error');
      else assert.deepEqual(row.value, sums.get(JSON.stringify(row.key)));
    }
  });
});
