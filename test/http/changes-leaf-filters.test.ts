// Over HTTP, with real design documents: `_changes?style=all_docs` judges every leaf with a filter
// function, a `_view` filter and a `_selector` filter, and lists the leaves that pass, as CouchDB's
// couch_changes:filter/3 (the table an audit against CouchDB 3 drew up).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

describe('filtered feeds of all leaves', () => {
  let server: TestServer;
  let base: string;

  before(async () => {
    server = await startTestServer();
    base = `${server.url}/fdb`;
    assert.equal((await request(base, { method: 'PUT' })).status, 201);
    const ddoc = {
      filters: { alive: 'function(doc){ return !doc._deleted; }', v1: 'function(doc){ return doc.v === 1; }' },
      views: { v1: { map: 'function(doc){ if (doc.v === 1) emit(null); }' } },
    };
    assert.equal((await request(`${base}/_design/f`, { method: 'PUT', body: ddoc })).status, 201);
    // y: winner 1-bbb {v:2} beside 1-aaa {v:1}; z: winner 1-aaa {v:1} beside a deleted 2-ddd.
    const docs = [
      { _id: 'y', _rev: '1-aaa', v: 1 },
      { _id: 'y', _rev: '1-bbb', v: 2 },
      { _id: 'z', _rev: '1-aaa', v: 1 },
      { _id: 'z', _rev: '2-ddd', _revisions: { start: 2, ids: ['ddd', 'ccc'] }, _deleted: true },
    ];
    assert.equal((await request(`${base}/_bulk_docs`, { method: 'POST', body: { new_edits: false, docs } })).status, 201);
  });
  after(() => server.close());

  const leaves = (body: { results: Array<{ id: string; changes: Array<{ rev: string }> }> }) =>
    Object.fromEntries(body.results.filter((r) => !r.id.startsWith('_design/')).map((r) => [r.id, r.changes.map((c) => c.rev)]));

  test('a filter function, a view and a selector each judge every leaf', async () => {
    assert.deepEqual(leaves((await request(`${base}/_changes?style=all_docs&filter=f/alive`)).body), { y: ['1-bbb', '1-aaa'], z: ['1-aaa'] });
    assert.deepEqual(leaves((await request(`${base}/_changes?style=all_docs&filter=f/v1`)).body), { y: ['1-aaa'], z: ['1-aaa'] });
    assert.deepEqual(leaves((await request(`${base}/_changes?style=all_docs&filter=_view&view=f/v1`)).body), { y: ['1-aaa'], z: ['1-aaa'] });
    const sel = await request(`${base}/_changes?style=all_docs&filter=_selector`, { method: 'POST', body: { selector: { v: 1 } } });
    assert.deepEqual(leaves(sel.body), { y: ['1-aaa'], z: ['1-aaa'] });
    // The continuous feed, as a replicator reads it.
    const cont = await request(`${base}/_changes?feed=continuous&style=all_docs&filter=f/v1&timeout=10`);
    const rows = cont.text.trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.id !== undefined);
    assert.deepEqual(leaves({ results: rows }), { y: ['1-aaa'], z: ['1-aaa'] });
  });

  test('a feed of winners judges the winner', async () => {
    assert.deepEqual(leaves((await request(`${base}/_changes?filter=f/v1`)).body), { z: ['1-aaa'] });
  });
});
