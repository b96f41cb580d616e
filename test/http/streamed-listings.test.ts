// `_all_docs`, `_local_docs` and the normal `_changes` feed stream their answers chunk by chunk: for every option,
// the bytes sent are the answer the library's allDocs/changes give, in the JSON CouchDB writes,
// whether the answer goes whole (small) or streamed (large, spread over many storage chunks).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AllDocsOptions, ChangesOptions, Database } from '../../src/documents/index.ts';
import { putVariedDocs } from '../helpers/db.ts';
import { newReadWatch } from '../helpers/watched-engine.ts';
import { request, type TestServer } from './server.ts';
import { startWatchedServer } from './watched-server.ts';

const watch = newReadWatch();
let server: TestServer;
let db: Database;
let base: string;

before(async () => {
  ({ server, db, base } = await startWatchedServer(watch, 'matrix'));
  await putVariedDocs(db);
  const docs = Array.from({ length: 1200 }, (_, i) => ({ _id: `n${String(i).padStart(4, '0')}`, n: i, tags: ['a', i % 3] }));
  await db.bulkDocs(docs);
  await db.put({ _id: '_design/f', filters: { odd: 'function (doc, req) { return doc.n % 2 === 1 && req.query.extra === "1"; }' } });
  await db.put({ _id: '_design/g', language: 'javascript' });
  for (let i = 0; i < 900; i++) await db.putLocal({ _id: `_local/l${String(i).padStart(4, '0')}`, n: i, pad: 'q'.repeat(80) });
});
after(() => server.close());

/** Whether the answer was streamed (chunked, no length) rather than sent whole. */
const streamedAnswer = (res: { headers: Headers }) => res.headers.get('content-length') === null;
const kinds = new Set<boolean>();

const allDocsCases: Array<[string, AllDocsOptions, { keys?: string[]; updateSeq?: boolean }?]> = [
  ['', {}],
  ['include_docs=true', { includeDocs: true }],
  ['descending=true&include_docs=true', { descending: true, includeDocs: true }],
  ['startkey="n0100"&endkey="n0900"', { startkey: 'n0100', endkey: 'n0900' }],
  ['startkey="n0900"&endkey="n0100"&descending=true&inclusive_end=false', { startkey: 'n0900', endkey: 'n0100', descending: true, inclusiveEnd: false }],
  ['skip=30&limit=700', { skip: 30, limit: 700 }],
  ['skip=1190&limit=5', { skip: 1190, limit: 5 }],
  ['limit=0&skip=10', { limit: 0, skip: 10 }],
  ['limit=0', { limit: 0 }],
  ['key="n0005"&include_docs=true', { key: 'n0005', includeDocs: true }],
  ['key="gone"', { key: 'gone' }],
  ['startkey="n0500"&skip=3&update_seq=true', { startkey: 'n0500', skip: 3 }, { updateSeq: true }],
  ['include_docs=true&conflicts=true', { includeDocs: true, conflicts: true }],
  ['include_docs=true&attachments=true&endkey="n0050"', { includeDocs: true, attachments: true, endkey: 'n0050' }],
  ['include_docs=true&descending=true&skip=2', { includeDocs: true, descending: true, skip: 2 }, { keys: ['n0003', 'missing', 'gone', 'attached', 'n0001', 'plain'] }],
  ['skip=1&limit=2', { skip: 1, limit: 2 }, { keys: ['n0003', 'missing', 'gone', 'n0001'] }],
];

for (const [query, options, extra] of allDocsCases) {
  test(`_all_docs?${query}${extra?.keys ? ' with keys' : ''}: the library's listing, byte for byte`, async () => {
    const url = `${base}/_all_docs?${query}`;
    const res = extra?.keys ? await request(url, { method: 'POST', body: { keys: extra.keys } }) : await request(url);
    assert.equal(res.status, 200, res.text);
    kinds.add(streamedAnswer(res));
    const r = await db.allDocs(extra?.keys ? { ...options, keys: extra.keys } : options);
    // Rows asked by keys have no place: CouchDB's offset and update_seq are null for them.
    const byKeys = extra?.keys !== undefined;
    const expected = { total_rows: r.totalRows, offset: byKeys ? null : r.offset, ...(extra?.updateSeq && { update_seq: byKeys ? null : r.updateSeq }), rows: r.rows };
    assert.equal(res.text, JSON.stringify(expected));
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    // As before streaming: _all_docs carries no ETag.
    assert.equal(res.headers.get('etag'), null);
  });
}

const localDocsCases: Array<[string, AllDocsOptions, { keys?: string[]; updateSeq?: boolean }?]> = [
  ['', {}],
  ['include_docs=true', { includeDocs: true }],
  ['descending=true&include_docs=true&skip=3&limit=500', { descending: true, includeDocs: true, skip: 3, limit: 500 }],
  ['startkey="_local/l0100"&endkey="_local/l0800"&inclusive_end=false', { startkey: '_local/l0100', endkey: '_local/l0800', inclusiveEnd: false }],
  ['limit=0&update_seq=true', { limit: 0 }, { updateSeq: true }],
  ['key="_local/l0005"&include_docs=true', { key: '_local/l0005', includeDocs: true }],
  ['key="_local/none"', { key: '_local/none' }],
  ['include_docs=true&descending=true&skip=1', { includeDocs: true, descending: true, skip: 1 }, { keys: ['_local/l0003', '_local/none', 'n0001', '_local/l0002'] }],
];

for (const [query, options, extra] of localDocsCases) {
  test(`_local_docs?${query}${extra?.keys ? ' with keys' : ''}: the library's listing, with CouchDB's null totals`, async () => {
    const url = `${base}/_local_docs?${query}`;
    const res = extra?.keys ? await request(url, { method: 'POST', body: { keys: extra.keys } }) : await request(url);
    assert.equal(res.status, 200, res.text);
    kinds.add(streamedAnswer(res));
    const rows = await db.localDocs(extra?.keys ? { ...options, keys: extra.keys } : options);
    assert.equal(res.text, JSON.stringify({ total_rows: null, offset: null, ...(extra?.updateSeq && { update_seq: null }), rows }));
  });
}

test('_local_docs: a missing single key answers no row, keys answer one per key (reversed when descending), as CouchDB', async () => {
  assert.deepEqual(await db.localDocs({ key: '_local/none' }), []);
  const keyed = await db.localDocs({ keys: ['_local/l0001', '_local/none'], descending: true });
  assert.deepEqual(keyed, [{ key: '_local/none', error: 'not_found' }, { id: '_local/l0001', key: '_local/l0001', value: { rev: '0-1' } }]);
  const big = await request(`${base}/_local_docs?include_docs=true`);
  assert.ok(streamedAnswer(big), 'a large _local_docs answer is streamed');
  assert.equal(JSON.parse(big.text).rows.length, 900);
});

const changesCases: Array<[string, ChangesOptions, unknown?]> = [
  ['', {}],
  ['include_docs=true', { includeDocs: true }],
  ['include_docs=true&style=all_docs&conflicts=true', { includeDocs: true, style: 'all_docs', conflicts: true }],
  ['include_docs=true&revs=true&since=5', { includeDocs: true, revs: true, since: 5 }],
  ['include_docs=true&attachments=true&limit=12', { includeDocs: true, attachments: true, limit: 12 }],
  ['since=100&limit=700', { since: 100, limit: 700 }],
  ['since=1000&limit=5', { since: 1000, limit: 5 }],
  ['limit=0&since=40', { limit: 0, since: 40 }],
  ['descending=true', { descending: true }],
  ['descending=true&limit=900&include_docs=true', { descending: true, limit: 900, includeDocs: true }],
  ['filter=_doc_ids&include_docs=true', { docIds: ['n0007', 'gone', 'conflicted', 'n1100'], includeDocs: true }, { doc_ids: ['n0007', 'gone', 'conflicted', 'n1100'] }],
  ['filter=_selector&limit=300', { selector: { n: { $gt: 400 } }, limit: 300 }, { selector: { n: { $gt: 400 } } }],
  ['filter=_design', { filter: '_design' }],
  ['filter=f/odd&extra=1&include_docs=true&limit=400', { filter: 'f/odd', queryParams: { extra: '1' }, includeDocs: true, limit: 400 }],
];

for (const [query, options, body] of changesCases) {
  test(`_changes?${query}: the library's changes with pending, laid out as CouchDB writes them`, async () => {
    const url = `${base}/_changes?${query}`;
    const res = body === undefined ? await request(url) : await request(url, { method: 'POST', body });
    assert.equal(res.status, 200, res.text);
    kinds.add(streamedAnswer(res));
    const r = await db.changes(options);
    const expected = { results: r.results, last_seq: r.lastSeq, pending: await db.pendingAfter(r.lastSeq) };
    // Documents are spliced from their stored text (their members' order is not JSON.stringify's).
    if (options.includeDocs) assert.deepEqual(JSON.parse(res.text), JSON.parse(JSON.stringify(expected)));
    // CouchDB's layout: a row per line, so a client may take rows as lines as they come.
    else assert.equal(res.text, `{"results":[\n${r.results.map((x) => JSON.stringify(x)).join(',\n')}\n],\n${JSON.stringify({ last_seq: expected.last_seq, pending: expected.pending }).slice(1)}\n`);
    assert.match(res.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/);
  });
}

test('`queries` of _all_docs, _design_docs and _local_docs: each listing streamed in turn, as the library lists them', async () => {
  const queries: Array<[Record<string, unknown>, AllDocsOptions]> = [
    [{ include_docs: true }, { includeDocs: true }],
    [{ key: 'n0005' }, { key: 'n0005' }],
    [{ keys: ['n0007', 'missing', 'n0001'] }, { keys: ['n0007', 'missing', 'n0001'] }],
    [{ startkey: 'n1100', update_seq: true }, { startkey: 'n1100' }],
    [{ limit: 0 }, { limit: 0 }],
    [{ descending: true, skip: 1000 }, { descending: true, skip: 1000 }],
  ];
  const res = await request(`${base}/_all_docs/queries`, { method: 'POST', body: { queries: queries.map(([wire]) => wire) } });
  assert.equal(res.status, 200, res.text);
  assert.ok(streamedAnswer(res));
  const results = [];
  for (const [wire, options] of queries) {
    const r = await db.allDocs(options);
    const byKeys = options.keys !== undefined;
    results.push({ total_rows: r.totalRows, offset: byKeys ? null : r.offset, ...(wire.update_seq === true && { update_seq: byKeys ? null : r.updateSeq }), rows: r.rows });
  }
  assert.equal(res.text, JSON.stringify({ results }));
  // _design_docs counts design documents only, in total_rows and offset alike.
  const design = await request(`${base}/_design_docs/queries`, { method: 'POST', body: { queries: [{}, { skip: 1 }] } });
  const ddocs = (await db.allDocs({ startkey: '_design/', endkey: '_design0', inclusiveEnd: false })).rows;
  assert.equal(design.text, JSON.stringify({ results: [{ total_rows: ddocs.length, offset: 0, rows: ddocs }, { total_rows: ddocs.length, offset: 1, rows: ddocs.slice(1) }] }));
  const local = await request(`${base}/_local_docs/queries`, { method: 'POST', body: { queries: [{ include_docs: true }, { key: '_local/l0003' }] } });
  assert.ok(streamedAnswer(local));
  const localRows = [await db.localDocs({ includeDocs: true }), await db.localDocs({ key: '_local/l0003' })];
  assert.equal(local.text, JSON.stringify({ results: localRows.map((rows) => ({ total_rows: null, offset: null, rows })) }));
  const bad = await request(`${base}/_all_docs/queries`, { method: 'POST', body: { queries: [{ include_docs: true }, { limit: 'x' }] } });
  assert.equal(bad.status, 400, bad.text);
});

test('the cases above had answers both sent whole and streamed', () => {
  assert.deepEqual([...kinds].sort(), [false, true]);
});

test('longpoll answers at once with the rows there are, streamed from one read', async () => {
  const res = await request(`${base}/_changes?feed=longpoll&since=10&include_docs=true`);
  assert.equal(res.status, 200, res.text);
  assert.ok(streamedAnswer(res));
  const r = await db.changes({ since: 10, includeDocs: true });
  assert.deepEqual(JSON.parse(res.text), JSON.parse(JSON.stringify({ results: r.results, last_seq: r.lastSeq, pending: 0 })));
  assert.equal(res.headers.get('etag'), null);
});

test('a revalidated normal feed answers 304 without reading a row; a write or other options change its ETag', async () => {
  const url = `${base}/_changes?include_docs=true&since=3`;
  const first = await request(url);
  const etag = first.headers.get('etag')!;
  const scanned = watch.scanned.s ?? 0;
  const again = await request(url, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get('etag'), etag);
  assert.equal(watch.scanned.s ?? 0, scanned, 'no sequence entry was read for the 304');
  const other = await request(`${base}/_changes?include_docs=true&since=4`, { headers: { 'if-none-match': etag } });
  assert.equal(other.status, 200);
  assert.notEqual(other.headers.get('etag'), etag);
  await db.put({ _id: 'late' });
  const changed = await request(url, { headers: { 'if-none-match': etag } });
  assert.equal(changed.status, 200);
  assert.notEqual(changed.headers.get('etag'), etag);
  const now = changed.headers.get('etag')!;
  assert.equal((await request(url, { headers: { 'if-none-match': now } })).status, 304);
});

test("a design filter's ETag names the request its function sees", async () => {
  const url = `${base}/_changes?filter=f/odd&extra=1&limit=3`;
  const etag = (await request(url)).headers.get('etag')!;
  assert.equal((await request(url, { headers: { 'if-none-match': etag } })).status, 304);
  // Another header the function could read is another answer as far as the ETag knows.
  const other = await request(url, { headers: { 'if-none-match': etag, 'x-other': '1' } });
  assert.equal(other.status, 200);
  assert.notEqual(other.headers.get('etag'), etag);
});
