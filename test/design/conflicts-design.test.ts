// Map and filter functions see `_conflicts`, as CouchDB opens documents for them: a view can list
// conflicted documents and a filter can select them, while feeds show `_conflicts` only when asked.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('_conflicts in map and filter functions', () => {
  let server: TestServer;
  let u: string;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    u = `${server.url}/conf`;
    await request(u, { method: 'PUT' });
    const branch = (hash: string, v: number) => ({ _id: 'c', _rev: `2-${hash.repeat(32)}`, v, _revisions: { start: 2, ids: [hash.repeat(32), 'f'.repeat(32)] } });
    const made = await request(`${u}/_bulk_docs`, { method: 'POST', body: { docs: [branch('a', 1), branch('b', 2), { _id: 'plain', _rev: `1-${'e'.repeat(32)}` }], new_edits: false } });
    assert.equal(made.status, 201);
    await request(`${u}/_design/d`, {
      method: 'PUT',
      body: {
        views: { conflicted: { map: 'function (doc) { if (doc._conflicts) emit(doc._id, doc._conflicts); }' } },
        filters: { conflicted: 'function (doc) { return !!doc._conflicts; }' },
      },
    });
  });
  after(() => server.close());

  test('a view lists the conflicted document with its losing revisions', async () => {
    const view = await request(`${u}/_design/d/_view/conflicted`);
    assert.deepEqual(view.body.rows.map((r: any) => [r.id, r.value]), [['c', [`2-${'a'.repeat(32)}`]]]);
  });

  test('a filter selects it; include_docs shows _conflicts only with conflicts=true', async () => {
    const plain = await request(`${u}/_changes?filter=d/conflicted&include_docs=true`);
    assert.deepEqual(plain.body.results.map((r: any) => r.id), ['c']);
    assert.equal(plain.body.results[0].doc._conflicts, undefined);
    const asked = await request(`${u}/_changes?filter=d/conflicted&include_docs=true&conflicts=true`);
    assert.deepEqual(asked.body.results[0].doc._conflicts, [`2-${'a'.repeat(32)}`]);
    const unfiltered = await request(`${u}/_changes?include_docs=true`);
    assert.equal(unfiltered.body.results.find((r: any) => r.id === 'c').doc._conflicts, undefined);
  });
});
