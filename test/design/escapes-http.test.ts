// Hostile design-document code against a running node: escapes, endless loops and huge
// allocations in views, filters and validate functions each fail that call cleanly, and the
// node keeps serving everything else.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('hostile design documents', () => {
  let server: TestServer;
  const url = (p: string) => `${server.url}/h${p}`;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb', sandbox: { timeoutMs: 200, memoryBytes: 16 * 1024 * 1024 } });
    await request(`${server.url}/h`, { method: 'PUT' });
    await request(url('/_bulk_docs'), { method: 'POST', body: { docs: [{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }] } });
    // Views of one design document are built together (as in CouchDB): each hostile view gets its own.
    const ddocs: Record<string, unknown> = {
      evil: {
        views: {
          escape: { map: "function (doc) { var out = []; try { out.push(typeof require('fs')); } catch (e) { out.push('no fs'); } out.push(typeof process, typeof fetch); try { out.push(globalThis.constructor.constructor('return typeof process')()); } catch (e) { out.push(e.name); } emit(doc._id, out.join()); }" },
          fine: { map: 'function (doc) { emit(doc.n, null); }' },
        },
        filters: { spin: 'function (doc) { for (;;) {} }' },
      },
      loop: { views: { loop: { map: 'function (doc) { while (true) {} }' } } },
      hog: { views: { hog: { map: 'function (doc) { var a = []; for (;;) a.push(new Array(1e5).fill(doc)); }' } } },
      search: {
        indexes: {
          loop: { index: 'function (doc) { while (true) {} }' },
          hog: { index: 'function (doc) { var a = []; for (;;) a.push(new Array(1e5).fill(doc)); }' },
        },
      },
    };
    for (const [name, body] of Object.entries(ddocs)) {
      const res = await request(url(`/_design/${name}`), { method: 'PUT', body });
      assert.equal(res.status, 201);
    }
  });
  after(() => server.close());

  test('escape attempts see nothing of the host', async () => {
    const res = await request(url('/_design/evil/_view/escape'));
    assert.equal(res.status, 200);
    // No code generation from strings either, as in couchjs.
    assert.deepEqual(res.body.rows.map((r: { value: string }) => r.value), ['no fs,undefined,undefined,EvalError', 'no fs,undefined,undefined,EvalError']);
  });

  test('an endless loop or a huge allocation fails the query; the node keeps serving', async () => {
    const loop = await request(url('/_design/loop/_view/loop'));
    assert.equal(loop.status, 500);
    assert.equal(loop.body.error, 'timeout');
    const hog = await request(url('/_design/hog/_view/hog'));
    assert.equal(hog.status, 500);
    assert.match(hog.body.reason, /memory|time/);
    assert.equal((await request(`${server.url}/`)).status, 200);
    assert.equal((await request(url('/a'))).body.n, 1);
    // Search index functions run under the node's limits too (they ran under the 5 s default).
    const searchLoop = await request(url('/_design/search/_search/loop?q=x'));
    assert.equal(searchLoop.status, 500);
    assert.equal(searchLoop.body.reason, 'function exceeded the time limit of 200 ms');
    const searchHog = await request(url('/_design/search/_search/hog?q=x'));
    assert.equal(searchHog.status, 500);
    assert.match(searchHog.body.reason, /memory|time limit of 200 ms/);
    const spin = await request(url('/_changes?filter=evil/spin'));
    assert.equal(spin.status, 500); // as CouchDB: a filter past its time limit fails the request
    assert.equal(spin.body.error, 'timeout');
    await request(url('/c'), { method: 'PUT', body: { n: 3 } });
    const fine = await request(url('/_design/evil/_view/fine'));
    assert.deepEqual(fine.body.rows.map((r: { key: number }) => r.key), [1, 2, 3]);
  });

  test('a validate function that loops refuses the write, nothing else', async () => {
    await request(url('/_design/guard'), { method: 'PUT', body: { validate_doc_update: 'function (n) { if (n.spin) for (;;) {} }' } });
    const spun = await request(url('/x'), { method: 'PUT', body: { spin: true } });
    assert.equal(spun.status, 500);
    assert.equal(spun.body.error, 'timeout');
    assert.equal((await request(url('/x'))).status, 404);
    assert.equal((await request(url('/y'), { method: 'PUT', body: { ok: true } })).status, 201);
  });
});
