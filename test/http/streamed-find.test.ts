// `_find` answers stream as they are read: for every kind of read (path index, every document, a
// json index, in their order or sorted in memory), the bytes sent are the answer the library's find
// gives, whole (small) or streamed (large); a streamed answer is read from one snapshot, and a
// client that leaves releases what it was read from.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/documents/index.ts';
import type { MangoFindRequest } from '../../src/design/index.ts';
import { pausedAfter } from '../helpers/paused-reader.ts';
import { until } from '../helpers/until.ts';
import { newReadWatch } from '../helpers/watched-engine.ts';
import { request, type TestServer } from './server.ts';
import { startWatchedServer } from './watched-server.ts';

const watch = newReadWatch();
let server: TestServer;
let db: Database;
let base: string;
const PAD = 'p'.repeat(60);

before(async () => {
  ({ server, db, base } = await startWatchedServer(watch, 'finds'));
  const docs = Array.from({ length: 1200 }, (_, i) => ({ _id: `n${String(i).padStart(4, '0')}`, n: i, m: (i * 7) % 1200, tag: i % 3 === 0 ? 'a' : 'b', pad: PAD }));
  await db.bulkDocs(docs);
  // A conflict, for `conflicts: true`.
  await db.bulkDocs([{ _id: 'n0005', _rev: '1-ffffffffffffffffffffffffffffffff', n: 5, m: 35, tag: 'b', pad: 'q' }], { newEdits: false });
  // Design documents are never answered.
  await db.put({ _id: '_design/plain', n: 3, views: {} });
  const made = await request(`${base}/_index`, { method: 'POST', body: { index: { fields: ['n'] }, ddoc: 'idx', name: 'byn' } });
  assert.equal(made.status, 200, made.text);
});
after(() => server.close());

/** The library's whole answer, laid out as CouchDB names its parts. */
async function libraryAnswer(req: MangoFindRequest): Promise<string> {
  const r = await (await server.node.design('finds')).find(req);
  return JSON.stringify({ docs: r.docs, bookmark: r.bookmark, ...(r.warning ? { warning: r.warning } : {}) });
}

const streamedAnswer = (res: { headers: Headers }) => res.headers.get('content-length') === null;
const kinds = new Set<boolean>();

const cases: Array<[string, Record<string, unknown>, MangoFindRequest]> = [
  ['path index, in its order', { selector: { m: { $gte: 0 } }, limit: 1000 }, { selector: { m: { $gte: 0 } }, limit: 1000 }],
  ['path index, descending, skip and fields', { selector: { m: { $gt: 100 } }, sort: [{ m: 'desc' }], skip: 20, limit: 900, fields: ['_id', 'm'] }, { selector: { m: { $gt: 100 } }, sort: [{ m: 'desc' }], skip: 20, limit: 900, fields: ['_id', 'm'] }],
  ['path index, sorted in memory', { selector: { tag: 'b' }, sort: [{ m: 'asc' }], limit: 2000 }, { selector: { tag: 'b' }, sort: [{ m: 'asc' }], limit: 2000 }],
  ['path index, the default limit', { selector: { m: { $lt: 50 } } }, { selector: { m: { $lt: 50 } } }],
  ['every document (no index clause)', { selector: { $or: [{ pad: PAD }, { m: -1 }] }, limit: 5000, conflicts: true }, { selector: { $or: [{ pad: PAD }, { m: -1 }] }, limit: 5000, conflicts: true }],
  ['every document, nothing matches', { selector: { $or: [{ pad: 'z' }, { m: -1 }] }, limit: 5000 }, { selector: { $or: [{ pad: 'z' }, { m: -1 }] }, limit: 5000 }],
  ['json index, in its order', { selector: { n: { $gt: 10 } }, use_index: 'idx', limit: 1000 }, { selector: { n: { $gt: 10 } }, useIndex: 'idx', limit: 1000 }],
  ['json index, descending with skip', { selector: { n: { $gt: 10 } }, use_index: 'idx', sort: [{ n: 'desc' }], skip: 7, limit: 1100 }, { selector: { n: { $gt: 10 } }, useIndex: 'idx', sort: [{ n: 'desc' }], skip: 7, limit: 1100 }],
  ['json index, sorted in memory', { selector: { n: { $gt: 10 } }, use_index: ['idx', 'byn'], sort: [{ m: 'desc' }], limit: 2000, fields: ['m'] }, { selector: { n: { $gt: 10 } }, useIndex: ['idx', 'byn'], sort: [{ m: 'desc' }], limit: 2000, fields: ['m'] }],
  ['json index, limit 0 and skip', { selector: { n: { $gt: 10 } }, use_index: 'idx', limit: 0, skip: 10 }, { selector: { n: { $gt: 10 } }, useIndex: 'idx', limit: 0, skip: 10 }],
  ['an index named that cannot serve it', { selector: { tag: 'a' }, use_index: 'idx', limit: 1000 }, { selector: { tag: 'a' }, useIndex: 'idx', limit: 1000 }],
];

for (const [name, body, req] of cases) {
  test(`_find, ${name}: the library's answer, byte for byte`, async () => {
    const res = await request(`${base}/_find`, { method: 'POST', body });
    assert.equal(res.status, 200, res.text);
    kinds.add(streamedAnswer(res));
    assert.equal(res.text, await libraryAnswer(req));
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(watch.openSnapshots, 0);
  });
}

test('the cases above had answers both sent whole and streamed', () => {
  assert.deepEqual([...kinds].sort(), [false, true]);
});

test('a streamed answer pages on: its bookmark starts the next page where it ended', async () => {
  for (const [selector, field] of [[{ m: { $gte: 0 } }, 'm'], [{ n: { $gte: 0 } }, 'n']] as const) {
    const first = await request(`${base}/_find`, { method: 'POST', body: { selector, limit: 700 } });
    assert.ok(streamedAnswer(first), 'the first page is streamed');
    const second = await request(`${base}/_find`, { method: 'POST', body: { selector, limit: 700, bookmark: first.body.bookmark } });
    const values = [...first.body.docs, ...second.body.docs].map((d: Record<string, number>) => d[field]);
    assert.deepEqual(values, Array.from({ length: 1200 }, (_, i) => i), field);
    assert.equal(second.body.docs.length, 500);
  }
});

test('execution_stats follow the documents of a streamed answer and count what was read', async () => {
  const res = await request(`${base}/_find`, { method: 'POST', body: { selector: { m: { $gte: 100 } }, limit: 1000, execution_stats: true } });
  assert.ok(streamedAnswer(res), 'the answer is streamed');
  assert.deepEqual(Object.keys(res.body), ['docs', 'bookmark', 'execution_stats']);
  const stats = res.body.execution_stats;
  assert.equal(stats.results_returned, 1000);
  assert.equal(stats.total_docs_examined, 1000);
  assert.equal(stats.total_keys_examined, 1000, 'one index row per document, none read ahead counted');
  assert.equal(typeof stats.execution_time_ms, 'number');
});

test('execution_stats count the index rows examined up to the last one a page needs, not the rows of its value read with it', async () => {
  // 400 documents hold tag "a": a page of 100 ends inside that value.
  const res = await request(`${base}/_find`, { method: 'POST', body: { selector: { tag: { $in: ['a', 'b'] } }, limit: 100, fields: ['_id'], execution_stats: true } });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual([res.body.execution_stats.total_keys_examined, res.body.execution_stats.total_docs_examined, res.body.docs.length], [100, 100, 100]);
});

test('a full scan counts the documents it read, and a page after a bookmark reads on from its document', async () => {
  const body = { selector: { $or: [{ pad: PAD }, { m: -1 }] }, limit: 10, fields: ['_id'], execution_stats: true };
  assert.match((await request(`${base}/_explain`, { method: 'POST', body })).body.reason, /^full scan/);
  const first = await request(`${base}/_find`, { method: 'POST', body });
  // The two design documents come first by id: read, never examined as answers; n0005's winner
  // (the conflict's) is examined and does not match.
  assert.deepEqual([first.body.execution_stats.total_keys_examined, first.body.execution_stats.total_docs_examined], [13, 11]);
  const second = await request(`${base}/_find`, { method: 'POST', body: { ...body, bookmark: first.body.bookmark } });
  assert.deepEqual(second.body.docs.map((d: { _id: string }) => d._id), Array.from({ length: 10 }, (_, i) => `n${String(11 + i).padStart(4, '0')}`));
  assert.deepEqual([second.body.execution_stats.total_keys_examined, second.body.execution_stats.total_docs_examined], [10, 10]);
});

test('a streamed answer is the database as it was asked: writes made while it is read are not in it', { timeout: 30_000 }, async () => {
  // The path index's read (a json index's is read page by page, as CouchDB reads one).
  const query = { selector: { m: { $gte: 0 } }, limit: 5000 };
  const expected = await libraryAnswer(query);
  let stepped = 0;
  watch.between = async (space, chunks) => {
    if (space !== 'i' || chunks !== 3 || stepped > 0) return;
    stepped++;
    await db.bulkDocs([{ _id: 'late1', m: 0 }, { _id: 'late2', m: 5000 }]);
  };
  try {
    const res = await request(`${base}/_find`, { method: 'POST', body: query });
    assert.equal(res.status, 200);
    assert.ok(streamedAnswer(res), 'the answer is streamed');
    assert.equal(stepped, 1, 'the write ran while the answer was read');
    assert.equal(res.text, expected, 'the answer holds none of what was written meanwhile');
  } finally {
    watch.between = undefined;
  }
  const now = await request(`${base}/_find`, { method: 'POST', body: query });
  assert.deepEqual([now.body.docs[0]._id, now.body.docs.at(-1)._id], ['late1', 'late2']);
  for (const id of ['late1', 'late2']) await db.remove(id, (await db.get(id))._rev!);
  assert.equal(watch.openSnapshots, 0);
});

test('a client that leaves in the middle of a streamed answer releases its snapshot, and a json index its group', { timeout: 30_000 }, async () => {
  // 20 MB of documents: more than the sockets' buffers hold, so the answer is still being read when the client goes.
  await db.bulkDocs(Array.from({ length: 1000 }, (_, i) => ({ _id: `big${i}`, b: i, big: 'b'.repeat(20_000) })));
  const socket = await pausedAfter(new URL(`${base}/_find`), 1_000_000, { Accept: 'application/json' }, { selector: { b: { $gte: 0 } }, limit: 5000 });
  assert.equal(watch.openSnapshots, 1, 'the answer is being read from its snapshot');
  socket.destroy();
  await until(() => watch.openSnapshots === 0 && watch.openScans === 0);

  // Over a json index the index's group is held while the answer is read: an edit of its design
  // document retires it, and it closes once the client has gone.
  assert.equal((await request(`${base}/_index`, { method: 'POST', body: { index: { fields: ['b'] }, ddoc: 'bigidx', name: 'byb' } })).status, 200);
  const views = await (await server.node.design('finds')).views();
  const draining = (views as unknown as { holds: { draining: Map<string, unknown> } }).holds.draining;
  const viaIndex = await pausedAfter(new URL(`${base}/_find`), 1_000_000, { Accept: 'application/json' }, { selector: { b: { $gte: 0 } }, use_index: 'bigidx', limit: 5000 });
  const ddoc = await db.get('_design/bigidx');
  await db.put({ ...ddoc, views: { ...(ddoc.views as object), other: { map: { fields: { big: 'asc' } }, reduce: '_count', options: { def: { fields: ['big'] } } } } });
  // The edited index answers (its new group) while the old one is still held by the paused answer.
  const res = await request(`${base}/_find`, { method: 'POST', body: { selector: { b: 999 }, use_index: 'bigidx', fields: ['_id'] } });
  assert.deepEqual(res.body.docs, [{ _id: 'big999' }]);
  assert.equal(draining.size, 1, 'the old group is held by the answer being read');
  viaIndex.destroy();
  await until(() => draining.size === 0);
});
