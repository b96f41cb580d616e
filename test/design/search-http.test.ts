// Full-text search over HTTP: a design document's index queried at
// `/{db}/_design/{ddoc}/_search/{index}` (terms, phrases, prefixes, fields, bookmarks, include_docs),
// kept current as documents change, `_search_info`, and a bad query's 400.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('search over HTTP', () => {
  let server: TestServer;
  const url = (path: string) => `${server.url}/s${path}`;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    await request(`${server.url}/s`, { method: 'PUT' });
    await request(url('/_design/find'), {
      method: 'PUT',
      body: {
        indexes: {
          posts: { index: "function (doc) { if (doc.type !== 'post') return; index('title', doc.title, {store: true}); index('default', doc.body); }" },
          byFields: { fields: ['title', 'body'] },
        },
      },
    });
    await request(url('/_bulk_docs'), {
      method: 'POST',
      body: {
        docs: [
          { _id: 'p1', type: 'post', title: 'Big red barn', body: 'the quick brown fox jumps over the lazy dog' },
          { _id: 'p2', type: 'post', title: 'Small blue boat', body: 'a quick sail on the red sea' },
          { _id: 'p3', type: 'post', title: 'Red herring', body: 'lazy afternoons by the river' },
          { _id: 'n1', type: 'note', title: 'Red note', body: 'not a post at all' },
        ],
      },
    });
  });
  after(() => server.close());

  const ids = (body: { rows: Array<{ id: string }> }) => body.rows.map((r) => r.id).sort();

  test('terms, phrases, prefixes and fields', async () => {
    assert.deepEqual(ids((await request(url('/_design/find/_search/posts?q=quick'))).body), ['p1', 'p2']);
    assert.deepEqual(ids((await request(url('/_design/find/_search/posts?q=%22lazy%20dog%22'))).body), ['p1']);
    assert.deepEqual(ids((await request(url('/_design/find/_search/posts?q=laz*'))).body), ['p1', 'p3']);
    assert.deepEqual(ids((await request(url('/_design/find/_search/posts?q=title:red'))).body), ['p1', 'p3']);
    assert.deepEqual(ids((await request(url('/_design/find/_search/byFields?q=title:red'))).body), ['n1', 'p1', 'p3']);
    // Unqualified terms search the `default` field, as in CouchDB.
    assert.deepEqual(ids((await request(url('/_design/find/_search/posts?q=red'))).body), ['p2']);
    const res = await request(url('/_design/find/_search/posts?q=title:red&include_docs=true'));
    assert.equal(res.status, 200);
    assert.equal(res.body.total_rows, 2);
    assert.ok(res.body.rows.every((r: { doc?: { _id: string }; id: string }) => r.doc?._id === r.id));
    const stored = res.body.rows.find((r: { id: string }) => r.id === 'p1');
    assert.deepEqual(stored.fields, { title: 'Big red barn' });
    // In any case, as the database's own flags (Python's requests sends True).
    const capital = await request(url('/_design/find/_search/posts?q=title:red&include_docs=True'));
    assert.ok(capital.body.rows.every((r: { doc?: { _id: string }; id: string }) => r.doc?._id === r.id));
  });

  test('bookmarks page through every result once; POST works too', async () => {
    const seen: string[] = [];
    let bookmark: string | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await request(url('/_design/find/_search/byFields'), { method: 'POST', body: { q: 'red OR quick OR lazy', limit: 1, ...(bookmark ? { bookmark } : {}) } });
      assert.equal(res.status, 200);
      if (res.body.rows.length === 0) break;
      seen.push(res.body.rows[0].id);
      bookmark = res.body.bookmark;
    }
    assert.deepEqual(seen.sort(), ['n1', 'p1', 'p2', 'p3']);
  });

  test('updates and deletes show in the next query; _search_info; bad queries', async () => {
    const p2 = await request(url('/p2'));
    await request(url('/p2'), { method: 'PUT', body: { ...p2.body, body: 'no longer fast' } });
    const p3 = await request(url('/p3'));
    await request(url(`/p3?rev=${p3.body._rev}`), { method: 'DELETE' });
    assert.deepEqual(ids((await request(url('/_design/find/_search/posts?q=quick'))).body), ['p1']);
    assert.deepEqual(ids((await request(url('/_design/find/_search/posts?q=lazy'))).body), ['p1']);
    const info = await request(url('/_design/find/_search_info/posts'));
    assert.equal(info.status, 200);
    assert.equal(info.body.name, '_design/find/posts');
    const bad = await request(url('/_design/find/_search/posts?q=title:%22unclosed'));
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'query_parse_error');
    assert.equal((await request(url('/_design/find/_search/nope?q=x'))).status, 404);
    assert.equal((await request(url('/_design/nope/_search/posts?q=x'))).status, 404);
    const cleanup = await request(url('/_view_cleanup'), { method: 'POST', body: {} });
    assert.equal(cleanup.status, 202);
  });

  test('_design_docs lists design documents only', async () => {
    const res = await request(url('/_design_docs'));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.rows.map((r: { id: string }) => r.id), ['_design/find']);
  });
});
