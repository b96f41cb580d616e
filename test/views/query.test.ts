// View queries with CouchDB semantics on exact rows: key ranges with doc ids, inclusive_end,
// descending, keys (order and duplicates), skip/limit/offset, grouping levels, reduces, include_docs
// and CouchDB's query_parse_error reasons.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isRefugeError } from '../../src/errors/index.ts';
import { keyValues, testGroup, triples } from './helpers.ts';

const VIEWS = {
  by_k: { map: 'function(doc){ if (doc.k !== undefined) emit(doc.k, doc.n) }', reduce: '_sum' },
  by_tag: { map: 'function(doc){ (doc.tags || []).forEach(function(t){ emit(t, 1) }) }' },
  date: { map: 'function(doc){ if (doc.d) emit(doc.d, doc.n) }', reduce: '_count' },
  stats: { map: 'function(doc){ if (doc.d) emit(doc.d, doc.n) }', reduce: '_stats' },
  js: { map: 'function(doc){ if (doc.d) emit(doc.d, doc.n) }', reduce: 'function(keys, values, rereduce){ return sum(values) }' },
};

const DOCS = [
  { _id: 'a1', k: 'a', n: 1, tags: ['x', 'y'], d: [2024, 1, 5] },
  { _id: 'a2', k: 'a', n: 2, tags: ['x'], d: [2024, 1, 7] },
  { _id: 'b1', k: 'b', n: 3, d: [2024, 2, 1] },
  { _id: 'B1', k: 'B', n: 4, d: [2025, 1, 1] },
  { _id: 'c1', k: 'c', n: 5, tags: ['y', 'y'], d: [2025, 3] },
  { _id: 'n1', k: 7, n: 6 },
  { _id: 'z1', k: null, n: 7 },
];

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    assert.ok(isRefugeError(e), String(e));
    return `${e.code}: ${e.reason}`;
  }
}

describe('map queries', async () => {
  const t = await testGroup(VIEWS, DOCS);
  const q = (view: string, o: Record<string, unknown>) => t.group.query(view, o, t.fetchDocs);

  test('all rows in collation order (key, then doc id), total_rows, offset', async () => {
    const r = await q('by_k', { reduce: false });
    assert.deepEqual(triples(r), [
      ['z1', null, 7],
      ['n1', 7, 6],
      ['a1', 'a', 1],
      ['a2', 'a', 2],
      ['b1', 'b', 3],
      ['B1', 'B', 4],
      ['c1', 'c', 5],
    ]);
    assert.equal((r as { total_rows: number }).total_rows, 7);
    assert.equal((r as { offset: number }).offset, 0);
  });

  test('key, startkey/endkey with doc ids, inclusive_end', async () => {
    assert.deepEqual(triples(await q('by_k', { reduce: false, key: 'a' })).map((x) => x[0]), ['a1', 'a2']);
    assert.deepEqual(triples(await q('by_k', { reduce: false, startkey: 'a', startkeyDocid: 'a2', endkey: 'b' })).map((x) => x[0]), ['a2', 'b1']);
    assert.deepEqual(triples(await q('by_k', { reduce: false, startkey: 'a', endkey: 'b', inclusiveEnd: false })).map((x) => x[0]), ['a1', 'a2']);
    assert.deepEqual(triples(await q('by_k', { reduce: false, startkey: 'a', endkey: 'a', endkeyDocid: 'a1' })).map((x) => x[0]), ['a1']);
    assert.deepEqual(
      triples(await q('by_k', { reduce: false, startkey: 'a', endkey: 'a', endkeyDocid: 'a2', inclusiveEnd: false })).map((x) => x[0]),
      ['a1'],
    );
    const r = await q('by_k', { reduce: false, startkey: 'b' });
    assert.equal((r as { offset: number }).offset, 4);
  });

  test('descending swaps the ends; offset counts from the end', async () => {
    const r = await q('by_k', { reduce: false, descending: true, startkey: 'b', endkey: 'a', inclusiveEnd: false });
    assert.deepEqual(triples(r).map((x) => x[0]), ['b1']);
    const all = await q('by_k', { reduce: false, descending: true, limit: 2, skip: 1 });
    assert.deepEqual(triples(all).map((x) => x[0]), ['B1', 'b1']);
    assert.equal((all as { offset: number }).offset, 1);
    const from = await q('by_k', { reduce: false, descending: true, startkey: 'a' });
    assert.deepEqual(triples(from).map((x) => x[0]), ['a2', 'a1', 'n1', 'z1']);
    assert.equal((from as { offset: number }).offset, 3);
  });

  test('keys: rows in the order of the keys, duplicates and missing keys allowed', async () => {
    const r = await q('by_k', { reduce: false, keys: ['c', 'a', 'missing', 'c', 7] });
    assert.deepEqual(triples(r).map((x) => x[0]), ['c1', 'a1', 'a2', 'c1', 'n1']);
    const d = await q('by_k', { reduce: false, keys: ['c', 'a'], descending: true });
    assert.deepEqual(triples(d).map((x) => x[0]), ['a2', 'a1', 'c1']);
    const l = await q('by_k', { reduce: false, keys: ['c', 'a'], skip: 1, limit: 1 });
    assert.deepEqual(triples(l).map((x) => x[0]), ['a1']);
  });

  test('a document may emit the same key twice; deleted and updated docs lose their rows', async () => {
    const g = await testGroup(VIEWS, DOCS);
    assert.deepEqual(triples(await g.group.query('by_tag', { key: 'y' })).map((x) => x[0]), ['a1', 'c1', 'c1']);
    await g.write([{ _id: 'c1', tags: ['x'] }, { _id: 'a1', _deleted: true }]);
    assert.deepEqual(triples(await g.group.query('by_tag', {})), [
      ['a2', 'x', 1],
      ['c1', 'x', 1],
    ]);
    assert.equal((await g.group.query('by_tag', {}) as { total_rows: number }).total_rows, 2);
    assert.deepEqual(triples(await g.group.query('by_k', { reduce: false, key: 'a' })).map((x) => x[0]), ['a2']);
  });

  test("one document's rows with equal keys come in value order, whatever order they were emitted in", async () => {
    const multi = { m: { map: "function(doc){ emit(doc.bar); emit(doc.bar, 'multiple values!'); emit(doc.bar, 'crayon!'); emit(doc.bar, 2); }" } };
    const g = await testGroup(multi, [{ _id: 'd1', bar: 'bar' }, { _id: 'd2', bar: 'bar' }]);
    assert.deepEqual(triples(await g.group.query('m', {})), [
      ['d1', 'bar', null], ['d1', 'bar', 2], ['d1', 'bar', 'crayon!'], ['d1', 'bar', 'multiple values!'],
      ['d2', 'bar', null], ['d2', 'bar', 2], ['d2', 'bar', 'crayon!'], ['d2', 'bar', 'multiple values!'],
    ]);
  });

  test('include_docs, with {_id} values loading the linked document', async () => {
    const g = await testGroup({ link: { map: 'function(doc){ emit(doc._id, null); if (doc.other) emit("L", {_id: doc.other}) }' } }, [
      { _id: 'p', other: 'q' },
      { _id: 'q', v: 1 },
    ]);
    const r = (await g.group.query('link', { includeDocs: true }, g.fetchDocs)) as { rows: Array<{ id: string; doc?: { _id: string } | null }> };
    assert.deepEqual(
      r.rows.map((row) => [row.id, row.doc?._id]),
      [
        ['p', 'q'],
        ['p', 'p'],
        ['q', 'q'],
      ],
    );
  });

  test('include_docs: an {_id} that is no string links to no document (fabric_view:possibly_embed_doc)', async () => {
    const g = await testGroup({ link: { map: 'function(doc){ emit(doc._id, {_id: doc.to}) }' } }, [
      { _id: '5', to: 5 },
      { _id: 'a', to: ['a'] },
      { _id: 'o', to: { x: 1 } },
      { _id: 't', to: true },
      { _id: 'u' },
    ]);
    const r = (await g.group.query('link', { includeDocs: true }, g.fetchDocs)) as { rows: Array<{ id: string; doc?: { _id: string } | null }> };
    // Only a value without _id (`to` undefined is left out of the value) is the row's own document.
    assert.deepEqual(
      r.rows.map((row) => [row.id, row.doc === null ? null : row.doc?._id]),
      [['5', null], ['a', null], ['o', null], ['t', null], ['u', 'u']],
    );
  });

  test('options.local_seq hands map functions _local_seq', async () => {
    const plain = await testGroup({ seqs: { map: 'function(doc){ emit(doc._local_seq === undefined ? null : "seq", null) }' } }, [{ _id: 'a' }, { _id: 'b' }]);
    assert.deepEqual(triples(await plain.group.query('seqs', {})).map((x) => x[1]), [null, null]);
    const withSeq = await testGroup({ seqs: { map: 'function(doc){ emit(doc._local_seq, null) }' } }, [{ _id: 'a' }, { _id: 'b' }], { options: { local_seq: true } });
    const keys = triples(await withSeq.group.query('seqs', {})).map((x) => x[1]);
    assert.ok(keys.every((k) => typeof k === 'number' && k > 0), JSON.stringify(keys));
    assert.equal(new Set(keys).size, 2);
  });

  test('design documents are mapped only with options.include_design', async () => {
    const docs = [{ _id: '_design/x' }, { _id: 'a' }];
    const plain = await testGroup({ ids: { map: 'function(doc){ emit(doc._id, null) }' } }, docs);
    assert.deepEqual(triples(await plain.group.query('ids', {})).map((x) => x[0]), ['a']);
    const incl = await testGroup({ ids: { map: 'function(doc){ emit(doc._id, null) }' } }, docs, { options: { include_design: true } });
    assert.deepEqual(triples(await incl.group.query('ids', {})).map((x) => x[0]), ['_design/x', 'a']);
  });

  test('update_seq reports the indexed sequence', async () => {
    const r = (await q('by_k', { reduce: false, limit: 0, updateSeq: true })) as { update_seq: number; rows: unknown[] };
    assert.equal(r.update_seq, 7);
    assert.deepEqual(r.rows, []);
  });
});

describe('reduce queries', async () => {
  const t = await testGroup(VIEWS, DOCS);
  const q = (view: string, o: Record<string, unknown>) => t.group.query(view, o);

  test('reduce by default, group=true per key, reduce=false for rows', async () => {
    assert.deepEqual(keyValues(await q('by_k', {})), [[null, 28]]);
    assert.deepEqual(keyValues(await q('by_k', { group: true })), [
      [null, 7],
      [7, 6],
      ['a', 3],
      ['b', 3],
      ['B', 4],
      ['c', 5],
    ]);
    assert.deepEqual(keyValues(await q('by_k', { startkey: 'a', endkey: 'b' })), [[null, 6]]);
    assert.deepEqual(keyValues(await q('by_k', { startkey: 'x' })), []);
  });

  test('group_level truncates array keys; group_level=0 is one row', async () => {
    assert.deepEqual(keyValues(await q('date', { groupLevel: 1 })), [
      [[2024], 3],
      [[2025], 2],
    ]);
    assert.deepEqual(keyValues(await q('date', { groupLevel: 2 })), [
      [[2024, 1], 2],
      [[2024, 2], 1],
      [[2025, 1], 1],
      [[2025, 3], 1],
    ]);
    assert.deepEqual(keyValues(await q('date', { groupLevel: 0, group: true })), [[null, 5]]);
    assert.deepEqual(keyValues(await q('date', { groupLevel: 1, descending: true, limit: 1 })), [[[2025], 2]]);
    assert.deepEqual(keyValues(await q('date', { groupLevel: 1, skip: 1 })), [[[2025], 2]]);
    assert.deepEqual(keyValues(await q('stats', { groupLevel: 1, startkey: [2025] })), [[[2025], { sum: 9, count: 2, min: 4, max: 5, sumsqr: 41 }]]);
  });

  test('keys with group=true keep the given order, even descending', async () => {
    assert.deepEqual(keyValues(await q('by_k', { keys: ['c', 'a', 'nope', 'a'], group: true, descending: true })), [
      ['c', 5],
      ['a', 3],
      ['a', 3],
    ]);
  });

  test('a JavaScript reduce runs in the sandbox, with rereduce across chunks', async () => {
    assert.deepEqual(keyValues(await q('js', {})), [[null, 15]]);
    assert.deepEqual(keyValues(await q('js', { groupLevel: 1 })), [
      [[2024], 6],
      [[2025], 9],
    ]);
  });

  test('large groups reduce in chunks and whole blocks reuse their cached reductions', async () => {
    const docs = Array.from({ length: 5000 }, (_, i) => ({ _id: `d${String(i).padStart(5, '0')}`, k: i % 3 === 0 ? 'x' : 'y', n: i }));
    const g = await testGroup({ v: { map: 'function(doc){ emit([doc.k, doc.n % 10], doc.n) }', reduce: 'function(k, v){ return sum(v) }' } }, docs);
    const total = (4999 * 5000) / 2;
    assert.deepEqual(keyValues(await g.group.query('v', {})), [[null, total]]);
    assert.deepEqual(keyValues(await g.group.query('v', {})), [[null, total]]);
    const byK = keyValues(await g.group.query('v', { groupLevel: 1 }));
    const x = docs.filter((d) => d.k === 'x').reduce((s, d) => s + d.n, 0);
    assert.deepEqual(byK, [
      [['x'], x],
      [['y'], total - x],
    ]);
    await g.write([{ _id: 'd00000', k: 'x', n: 1000000 }]);
    assert.deepEqual(keyValues(await g.group.query('v', {})), [[null, total + 1000000]]);
    assert.equal(keyValues(await g.group.query('v', { group: true })).length, 20);
  });
});

describe('query errors (query_parse_error, CouchDB reasons)', async () => {
  const t = await testGroup(VIEWS, DOCS);
  const e = (view: string, o: Record<string, unknown>) => errorOf(t.group.query(view, o));

  test('each invalid combination is refused with its reason', async () => {
    assert.equal(await e('by_k', { includeDocs: true }), 'query_parse_error: `include_docs` is invalid for reduce');
    assert.equal(await e('by_tag', { group: true }), 'query_parse_error: Invalid use of grouping on a map view.');
    assert.equal(await e('by_k', { reduce: false, groupLevel: 1 }), 'query_parse_error: Invalid use of grouping on a map view.');
    assert.equal(await e('by_k', { groupLevel: -1 }), 'query_parse_error: `group_level` must be >= 0');
    assert.equal(await e('by_k', { reduce: false, key: 'a', keys: ['a'] }), 'query_parse_error: `keys` is incompatible with `key`, `start_key` and `end_key`');
    assert.equal(await e('by_k', { reduce: false, key: 'a', keys: [] }), 'no error');
    assert.equal(
      await e('by_k', { reduce: false, startkey: 'b', endkey: 'a' }),
      'query_parse_error: No rows can match your key range, reverse your start_key and end_key or set descending=true',
    );
    assert.equal(
      await e('by_k', { reduce: false, startkey: 'a', endkey: 'b', descending: true }),
      'query_parse_error: No rows can match your key range, reverse your start_key and end_key or set descending=false',
    );
    assert.equal(await e('by_tag', { reduce: true }), 'query_parse_error: Reduce is invalid for map-only views.');
    assert.equal(await e('by_k', { keys: ['a'] }), 'query_parse_error: Multi-key fetchs for reduce views must use `group=true`');
    assert.equal(await e('by_k', { group: false, groupLevel: 2 }), "query_parse_error: Can't specify group=false and group_level>0 at the same time");
    assert.equal(await e('by_k', { reduce: false, limit: -1 }), 'query_parse_error: `limit` must be a positive integer.');
    assert.equal(await e('by_k', { reduce: false, skip: -1 }), 'query_parse_error: `skip` must be >= 0');
    assert.equal(await e('by_k', { conflicts: true }), 'query_parse_error: `conflicts` is invalid for reduce views.');
    assert.equal(await e('nope', {}), 'not_found: missing_named_view');
    // The same key at both ends is never "reversed".
    assert.equal(await e('by_k', { reduce: false, startkey: 'a', endkey: 'a' }), 'no error');
  });

  test('_stats errors surface as invalid_value (500), as CouchDB throws them', async () => {
    const g = await testGroup({ s: { map: 'function(doc){ emit(doc._id, doc.v) }', reduce: '_stats' } }, [{ _id: 'a', v: 1 }, { _id: 'b', v: 'x' }]);
    assert.match(await errorOf(g.group.query('s', {})), /^invalid_value: The _stats function requires/);
  });

  test('a map that runs out of memory fails the query, as the death of CouchDB\'s map process does', async () => {
    // The test group indexes its documents as it is made.
    const made = testGroup({ v: { map: 'function(doc){ if (doc.forever) { while (true) emit(doc, doc); } emit(doc._id, 1) }' } }, [{ _id: 'a' }, { _id: 'b', forever: true }]);
    assert.match(await errorOf(made), /^sandbox_error: out of memory/);
  });

  test("a JavaScript reduce that grows too fast is CouchDB's reduce_overflow_error row", async () => {
    const g = await testGroup(
      {
        big: { map: 'function(doc){ emit(doc.n, doc.n) }', reduce: "function(keys, values){ var chars = []; for (var i = 0; i < 1000; i++) chars.push('wazzap'); return chars; }" },
        small: { map: 'function(doc){ emit(doc.n, doc.n) }', reduce: 'function(keys, values){ return sum(values); }' },
      },
      Array.from({ length: 30 }, (_, i) => ({ _id: `d${i}`, n: i })),
    );
    const over = (await g.group.query('big', {})) as { rows: Array<Record<string, unknown>> };
    assert.equal(over.rows.length, 1);
    assert.equal(over.rows[0]!.error, 'reduce_overflow_error');
    assert.match(String(over.rows[0]!.reason), /^Reduce output must shrink more rapidly/);
    const grouped = (await g.group.query('big', { group: true, limit: 2 })) as { rows: Array<Record<string, unknown>> };
    assert.deepEqual(grouped.rows.map((r) => r.error), ['reduce_overflow_error', 'reduce_overflow_error']);
    assert.deepEqual(keyValues(await g.group.query('small', {})), [[null, 435]]);
  });

  test('a JavaScript reduce that throws gives null, as CouchDB logs it and goes on', async () => {
    const g = await testGroup({ v: { map: 'function(doc){ emit(doc.name) }', reduce: 'function(keys){ return keys[0].foo.bar }' } }, [{ _id: '1', name: 'bar' }]);
    assert.deepEqual(keyValues(await g.group.query('v', { group: true })), [['bar', null]]);
    assert.deepEqual(keyValues(await g.group.query('v', {})), [[null, null]]);
  });

  test('a map that throws skips that document only', async () => {
    const g = await testGroup({ v: { map: 'function(doc){ if (doc.bad) throw new Error("boom"); emit(doc._id, 1) }' } }, [{ _id: 'a' }, { _id: 'b', bad: true }, { _id: 'c' }]);
    assert.deepEqual(triples(await g.group.query('v', {})).map((x) => x[0]), ['a', 'c']);
  });
});
