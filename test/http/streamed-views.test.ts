// A view's answer streams as it is read: for every option, the bytes sent are the answer the
// library's query gives, whole (small) or streamed (large); a streamed answer is one state of the
// index, read from a snapshot, so the index moves on (writes, other queries) while a client reads.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/documents/index.ts';
import type { ViewQueryOptions } from '../../src/views/index.ts';
import { pausedAfter } from '../helpers/paused-reader.ts';
import { until } from '../helpers/until.ts';
import { newReadWatch } from '../helpers/watched-engine.ts';
import { request, type TestServer } from './server.ts';
import { startWatchedServer } from './watched-server.ts';

const watch = newReadWatch();
let server: TestServer;
let db: Database;
let base: string;
const DDOC = '_design/v';

before(async () => {
  ({ server, db, base } = await startWatchedServer(watch, 'views'));
  const docs = Array.from({ length: 1200 }, (_, i) => ({ _id: `n${String(i).padStart(4, '0')}`, n: i, pad: 'p'.repeat(60) }));
  await db.bulkDocs(docs);
  await db.put({
    _id: DDOC,
    views: {
      byN: { map: 'function (doc) { if (typeof doc.n === "number") emit(doc.n, doc.pad); }' },
      tens: { map: 'function (doc) { if (typeof doc.n === "number") emit(doc.n % 10, doc.n); }', reduce: '_sum' },
      // A group per document: group=true answers are as long as the view, so they stream.
      groups: { map: 'function (doc) { if (typeof doc.n === "number") emit([doc.n, doc.pad], doc.n); }', reduce: 'function (keys, values, rereduce) { return sum(values); }' },
      counted: { map: 'function (doc) { if (typeof doc.n === "number") emit(doc.n % 600, null); }', reduce: '_count' },
      // Level 1 folds every row into three groups, level 2 gives one per document.
      levels: { map: 'function (doc) { if (typeof doc.n === "number") emit([doc.n % 3, doc.pad + doc.n], doc.n); }', reduce: '_sum' },
    },
  });
});
after(() => server.close());

const views = async () => (await server.node.design('views')).views();
const streamedAnswer = (res: { headers: Headers }) => res.headers.get('content-length') === null;
const kinds = new Set<boolean>();

const cases: Array<[string, string, ViewQueryOptions, unknown[]?]> = [
  ['byN', '', {}],
  ['byN', 'include_docs=true', { includeDocs: true }],
  ['byN', 'descending=true&include_docs=true', { descending: true, includeDocs: true }],
  ['byN', 'startkey=100&endkey=900', { startkey: 100, endkey: 900 }],
  ['byN', 'startkey=900&endkey=100&descending=true&inclusive_end=false', { startkey: 900, endkey: 100, descending: true, inclusiveEnd: false }],
  ['byN', 'skip=30&limit=700', { skip: 30, limit: 700 }],
  ['byN', 'skip=1190&limit=5', { skip: 1190, limit: 5 }],
  ['byN', 'limit=0&skip=10', { limit: 0, skip: 10 }],
  ['byN', 'key=5&include_docs=true', { key: 5, includeDocs: true }],
  ['byN', 'key=99999', { key: 99999 }],
  ['byN', 'startkey=500&skip=3&update_seq=true', { startkey: 500, skip: 3, updateSeq: true }],
  ['byN', 'include_docs=true&conflicts=true&limit=900', { includeDocs: true, conflicts: true, limit: 900 }],
  ['byN', 'skip=2&descending=true', { skip: 2, descending: true }, [3, 1000, 'x', 1, 3]],
  ['tens', 'reduce=false', { reduce: false }],
  ['tens', 'reduce=false&key=3&skip=5', { reduce: false, key: 3, skip: 5 }],
  ['tens', 'reduce=false&startkey=2&endkey=7&include_docs=true&limit=400', { reduce: false, startkey: 2, endkey: 7, includeDocs: true, limit: 400 }],
  ['tens', '', {}],
  ['tens', 'group=true&update_seq=true', { group: true, updateSeq: true }],
  ['tens', 'group=true&descending=true&skip=2&limit=5', { group: true, descending: true, skip: 2, limit: 5 }],
  ['groups', 'group=true', { group: true }],
  ['groups', 'group=true&descending=true&skip=5&limit=900', { group: true, descending: true, skip: 5, limit: 900 }],
  ['groups', 'group=true&startkey=[100]&endkey=[900]&update_seq=true', { group: true, startkey: [100], endkey: [900], updateSeq: true }],
  ['groups', 'group_level=1&limit=300', { groupLevel: 1, limit: 300 }],
  ['groups', 'group=true', { group: true }, [[5, 'p'.repeat(60)], [7], [1199, 'p'.repeat(60)]]],
  ['groups', 'group_level=1&startkey=[100]&endkey=[700]', { groupLevel: 1, startkey: [100], endkey: [700] }],
  ['levels', 'group_level=1', { groupLevel: 1 }],
  ['levels', 'group_level=1&descending=true&update_seq=true', { groupLevel: 1, descending: true, updateSeq: true }],
  ['levels', 'group_level=2&skip=5', { groupLevel: 2, skip: 5 }],
  ['levels', 'group_level=2&descending=true&limit=400&update_seq=true', { groupLevel: 2, descending: true, limit: 400, updateSeq: true }],
  ['levels', 'group_level=2&startkey=[1]&endkey=[2]&inclusive_end=false', { groupLevel: 2, startkey: [1], endkey: [2], inclusiveEnd: false }],
  ['levels', '', {}],
  ['counted', 'group=true&skip=10', { group: true, skip: 10 }],
  ['counted', 'group=true&limit=599&descending=true', { group: true, limit: 599, descending: true }],
];

for (const [view, query, options, keys] of cases) {
  test(`_view/${view}?${query}${keys ? ' with keys' : ''}: the library's answer, byte for byte`, async () => {
    const url = `${base}/${DDOC}/_view/${view}?${query}`;
    const res = keys ? await request(url, { method: 'POST', body: { keys } }) : await request(url);
    assert.equal(res.status, 200, res.text);
    kinds.add(streamedAnswer(res));
    const expected = await (await views()).query(DDOC, view, keys ? { ...options, keys } : options);
    assert.equal(res.text, JSON.stringify(expected));
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  });
}

test('the cases above had answers both sent whole and streamed', () => {
  assert.deepEqual([...kinds].sort(), [false, true]);
});

test('a group level answer streams when it has more groups than a whole answer holds, not for its rows alone', async () => {
  const long = await request(`${base}/${DDOC}/_view/levels?group_level=2`);
  assert.equal(long.body.rows.length, 1200);
  assert.ok(streamedAnswer(long), 'the long answer is streamed');
  const few = await request(`${base}/${DDOC}/_view/levels?group_level=1`);
  assert.equal(few.body.rows.length, 3);
  assert.ok(!streamedAnswer(few), 'the short answer is whole');
  assert.equal(watch.openSnapshots, 0);
});

test('a HEAD of a large view answers its headers and no row', async () => {
  const res = await fetch(`${base}/${DDOC}/_view/byN?include_docs=true`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(await res.text(), '');
  assert.equal(watch.openSnapshots, 0);
});

test('a streamed answer is the index as it was asked: writes and updated queries go on while it is read', { timeout: 30_000 }, async () => {
  const before = await (await views()).query(DDOC, 'byN', {});
  let stepped = 0;
  let during: unknown;
  watch.between = async (_space, chunks) => {
    if (chunks !== 3 || stepped > 0) return;
    stepped++;
    // Between two chunks of the answer: documents change, and a query brings the index up to them,
    // which needs the index's write lock: a reader holding the read lock would wait here for ever.
    await db.bulkDocs([{ _id: 'late1', n: -5, pad: 'x' }, { _id: 'late2', n: 5000, pad: 'y' }]);
    during = await (await views()).query(DDOC, 'byN', { startkey: -10, endkey: -1 });
  };
  try {
    const res = await request(`${base}/${DDOC}/_view/byN`);
    assert.equal(res.status, 200);
    assert.ok(streamedAnswer(res), 'the answer is streamed');
    assert.equal(stepped, 1, 'the step ran while the answer was read');
    assert.deepEqual((during as { rows: unknown[] }).rows, [{ id: 'late1', key: -5, value: 'x' }]);
    assert.equal(res.text, JSON.stringify(before), 'the answer holds none of what was written meanwhile');
  } finally {
    watch.between = undefined;
    await db.bulkDocs([{ _id: 'late1', _deleted: true, _rev: (await db.get('late1'))._rev }, { _id: 'late2', _deleted: true, _rev: (await db.get('late2'))._rev }]);
  }
  const now = await request(`${base}/${DDOC}/_view/byN`);
  assert.equal(now.text, JSON.stringify(await (await views()).query(DDOC, 'byN', {})));
  assert.equal(watch.openSnapshots, 0);
});

test('a client that leaves in the middle of a streamed answer releases its snapshot and its read', async () => {
  // 20 MB of rows: more than the sockets' buffers hold, so the answer is still being read when the client goes.
  const bigDocs = Array.from({ length: 1000 }, (_, i) => ({ _id: `big${i}`, b: i, big: 'b'.repeat(20_000) }));
  await db.bulkDocs(bigDocs);
  await db.put({ _id: '_design/big', views: { big: { map: 'function (doc) { if (doc.big) emit(doc.b, doc.big); }' } } });
  assert.equal((await request(`${base}/_design/big/_view/big?limit=1`)).status, 200);
  const socket = await pausedAfter(new URL(`${base}/_design/big/_view/big`), 1_000_000, { Accept: 'application/json' });
  assert.equal(watch.openSnapshots, 1, 'the answer is being read from its snapshot');
  socket.destroy();
  await until(() => watch.openSnapshots === 0 && watch.openScans === 0);
  // And the group is not held for ever: the view answers and updates as before.
  await db.put({ _id: 'big-after', b: -1, big: 'a' });
  const res = await request(`${base}/_design/big/_view/big?key=-1`);
  assert.deepEqual(res.body.rows, [{ id: 'big-after', key: -1, value: 'a' }]);
});

test('`queries`: each answer streamed in turn, byte for byte the library answers in order; one bad query is a 400 before any row', async () => {
  const queries: Array<[Record<string, unknown>, ViewQueryOptions]> = [
    [{ include_docs: true }, { includeDocs: true }],
    [{ key: 5 }, { key: 5 }],
    [{ keys: [7, 3, 99999] }, { keys: [7, 3, 99999] }],
    [{ startkey: 1100, update_seq: true }, { startkey: 1100, updateSeq: true }],
    [{ limit: 0 }, { limit: 0 }],
    [{ descending: true, skip: 1000 }, { descending: true, skip: 1000 }],
  ];
  const res = await request(`${base}/${DDOC}/_view/byN/queries`, { method: 'POST', body: { queries: queries.map(([wire]) => wire) } });
  assert.equal(res.status, 200, res.text);
  assert.ok(streamedAnswer(res), 'the answer is streamed');
  const v = await views();
  const results = [];
  for (const [, options] of queries) results.push(await v.query(DDOC, 'byN', options));
  assert.equal(res.text, JSON.stringify({ results }));
  const reduced = await request(`${base}/${DDOC}/_view/tens/queries`, { method: 'POST', body: { queries: [{ group: true }, { reduce: false, key: 4 }, {}] } });
  assert.equal(reduced.text, JSON.stringify({ results: [await v.query(DDOC, 'tens', { group: true }), await v.query(DDOC, 'tens', { reduce: false, key: 4 }), await v.query(DDOC, 'tens', {})] }));
  const bad = await request(`${base}/${DDOC}/_view/byN/queries`, { method: 'POST', body: { queries: [{ include_docs: true }, { limit: -1 }] } });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.body.error, 'query_parse_error');
  assert.equal(watch.openSnapshots, 0);
});

test('a group=true answer as long as the view streams too, from one state of the index', { timeout: 30_000 }, async () => {
  const v = await views();
  const before = await v.query(DDOC, 'groups', { group: true });
  let stepped = 0;
  watch.between = async (_space, chunks) => {
    if (chunks !== 2 || stepped > 0) return;
    stepped++;
    await db.put({ _id: 'late-group', n: -1, pad: 'q' });
    assert.deepEqual((await v.query(DDOC, 'groups', { group: true, endkey: [0] })).rows, [{ key: [-1, 'q'], value: -1 }]);
  };
  try {
    const res = await request(`${base}/${DDOC}/_view/groups?group=true`);
    assert.equal(res.status, 200);
    assert.ok(streamedAnswer(res), 'the answer is streamed');
    assert.equal(stepped, 1, 'the step ran while the answer was read');
    assert.equal(res.text, JSON.stringify(before));
  } finally {
    watch.between = undefined;
    await db.remove('late-group', (await db.get('late-group'))._rev!);
  }
  assert.equal(watch.openSnapshots, 0);
});
