// `_changes` with include_docs splices stored document text into its answer (no parse, no
// serialization): every option combination must read back exactly as the library's documents.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/documents/index.ts';
import { putVariedDocs } from '../helpers/db.ts';
import { request, startTestServer, type TestServer } from './server.ts';

let server: TestServer;
let db: Database;
let base: string;

before(async () => {
  server = await startTestServer({ engine: 'leveldb' });
  base = `${server.url}/spliced`;
  assert.equal((await request(base, { method: 'PUT' })).status, 201);
  db = (await server.node.db('spliced')) as Database;
  await putVariedDocs(db);
});
after(() => server.close());

const variants: Array<[string, Record<string, unknown>]> = [
  ['', {}],
  ['&revs=true', { revs: true }],
  ['&style=all_docs', { style: 'all_docs' }],
  ['&style=all_docs&revs=true', { style: 'all_docs', revs: true }],
  ['&conflicts=true', { conflicts: true }],
  ['&since=3&limit=4', { since: 3, limit: 4 }],
  ['&descending=true', { descending: true }],
];

for (const [query, options] of variants) {
  test(`include_docs${query || ' (plain)'}: the answer reads back as the library's changes`, async () => {
    const res = await request(`${base}/_changes?include_docs=true${query}`);
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const expected = await db.changes({ includeDocs: true, ...options });
    assert.deepEqual(res.body.results, JSON.parse(JSON.stringify(expected.results)));
    assert.equal(res.body.last_seq, expected.lastSeq);
    assert.equal(typeof res.body.pending, 'number');
    // Key order too: _id and _rev first, then the body, then the special fields.
    for (const row of res.body.results) assert.deepEqual(Object.keys(row.doc).slice(0, 2), ['_id', '_rev']);
  });
}

test('a deleted document and an empty one come spliced with their special fields', async () => {
  const res = await request(`${base}/_changes?include_docs=true&revs=true&filter=_doc_ids`, { method: 'POST', body: { doc_ids: ['gone', 'empty'] } });
  const byId = Object.fromEntries(res.body.results.map((r: any) => [r.id, r]));
  assert.equal(byId.gone.deleted, true);
  assert.equal(byId.gone.doc._deleted, true);
  assert.deepEqual(byId.gone.doc._revisions.ids.length, 2);
  assert.deepEqual(Object.keys(byId.empty.doc), ['_id', '_rev', '_revisions']);
});

test('the library splices every document it can: not those with attachments or asked with conflicts', async () => {
  const { results } = await db.changes({ includeDocs: true, docText: true, revs: true });
  const spliced = results.filter((r) => r.docJson !== undefined).map((r) => r.id);
  assert.deepEqual(results.filter((r) => r.doc !== undefined).map((r) => r.id), ['attached']);
  assert.equal(spliced.length, results.length - 1);
  for (const r of results) if (r.docJson !== undefined) assert.equal(r.doc, undefined);
  const withConflicts = await db.changes({ includeDocs: true, docText: true, conflicts: true });
  assert.ok(withConflicts.results.every((r) => r.docJson === undefined && r.doc !== undefined));
});
