// The answers of `_changes` for a filter it cannot find, word for word CouchDB's: CouchDB looks the
// filter up through the design document's JSON (couch_util:get_nested_json_value), so its 404
// names the first key missing on the way, and a `_view` filter without `view`, or a builtin it does
// not have, is a 400 with its own reason. A filter that throws once a live feed's headers are out
// cuts the connection, as CouchDB's http_abort does, rather than ending the feed as if it were done.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('_changes filter lookup errors', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.node.createDb('fe');
    const db = await server.node.db('fe');
    await db.put({ _id: '_design/onlyviews', views: { v: { map: 'function(doc) { emit(doc._id, null); }' } } });
    await db.put({ _id: '_design/onlyfilters', filters: { f: 'function(doc) { return true; }', boom: 'function(doc) { if (doc.boom) throw new Error("boom"); return true; }' } });
    await db.put({ _id: 'a' });
  });
  after(() => server.close());

  const changes = async (query: string) => {
    const res = await request(`${server.url}/fe/_changes?${query}`);
    return { status: res.status, body: res.body as { error?: string; reason?: string } };
  };

  test('a view missing from a design document names the view, one without views says so', async () => {
    assert.deepEqual(await changes('filter=_view&view=onlyviews/nope'), {
      status: 404, body: { error: 'not_found', reason: 'missing json key: nope' },
    });
    assert.deepEqual(await changes('filter=_view&view=onlyfilters/v'), {
      status: 404, body: { error: 'not_found', reason: 'missing json key: views' },
    });
  });

  test('a filter function in a design document without filters names the missing filters', async () => {
    assert.deepEqual(await changes('filter=onlyviews/f'), {
      status: 404, body: { error: 'not_found', reason: 'missing json key: filters' },
    });
    assert.deepEqual(await changes('filter=onlyfilters/nope'), {
      status: 404, body: { error: 'not_found', reason: 'missing json key: nope' },
    });
  });

  test('`_view` without `view`, and an unknown builtin filter, are 400s with CouchDB\'s reasons', async () => {
    assert.deepEqual(await changes('filter=_view'), {
      status: 400, body: { error: 'bad_request', reason: '`view` filter parameter is not provided.' },
    });
    assert.deepEqual(await changes('filter=_nope'), {
      status: 400, body: { error: 'bad_request', reason: 'unknown builtin filter name' },
    });
  });

  test('the filters that exist still answer', async () => {
    const byView = await request(`${server.url}/fe/_changes?filter=_view&view=onlyviews/v`);
    assert.equal(byView.status, 200);
    const byFilter = await request(`${server.url}/fe/_changes?filter=onlyfilters/f`);
    assert.equal(byFilter.status, 200);
    assert.ok((byFilter.body as { results: unknown[] }).results.length >= 1);
  });

  /**
   * A GET read to its end: whether the answer was whole (its closing chunk came) and what it said;
   * `opened` settles with its first bytes (a waiting longpoll sends its opening at once).
   */
  const readAll = (path: string) => {
    let opened!: () => void;
    const openedP = new Promise<void>((resolve) => (opened = resolve));
    const answer = new Promise<{ status: number; body: string; complete: boolean }>((resolve, reject) => {
      http
        .get(`${server.url}${path}`, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => {
            body += chunk;
            opened();
          });
          res.on('error', () => undefined);
          res.on('close', () => {
            opened();
            resolve({ status: res.statusCode ?? 0, body, complete: res.complete });
          });
        })
        .on('error', reject);
    });
    return { opened: openedP, answer };
  };

  test('a filter that throws in a live feed cuts the connection: no closing last_seq, as if the feed had ended', async () => {
    const db = await server.node.db('fe');
    await db.put({ _id: 'boom1', boom: true });
    for (const feed of ['continuous', 'eventsource']) {
      const res = await readAll(`/fe/_changes?feed=${feed}&filter=onlyfilters/boom&timeout=1000`).answer;
      assert.equal(res.status, 200, feed);
      assert.equal(res.complete, false, `${feed}: the answer is cut short (${JSON.stringify(res.body)})`);
      assert.ok(!res.body.includes('last_seq'), `${feed}: no closing line`);
    }
    // Longpoll fails while it waits, once its opening is out.
    const waiting = readAll('/fe/_changes?feed=longpoll&since=now&filter=onlyfilters/boom&timeout=30000');
    const passed = readAll('/fe/_changes?feed=longpoll&since=now&filter=onlyfilters/f&timeout=30000');
    // Both wait (their opening is out: the next write is their first row), then comes a write the
    // one filter throws on.
    await Promise.all([waiting.opened, passed.opened]);
    await db.put({ _id: 'boom2', boom: true });
    const [cutShort, whole] = await Promise.all([waiting.answer, passed.answer]);
    assert.equal(cutShort.complete, false, `longpoll: the answer is cut short (${JSON.stringify(cutShort.body)})`);
    assert.ok(!cutShort.body.includes('last_seq'), 'longpoll: no closing line');
    assert.equal(whole.complete, true, 'a filter that passes still answers');
    assert.match(whole.body, /"boom2"/);
    // A normal feed, whose headers wait for its first rows, answers the error.
    const normal = await request(`${server.url}/fe/_changes?filter=onlyfilters/boom`);
    assert.equal(normal.status, 500);
    assert.equal((normal.body as { error: string }).error, 'sandbox_error');
  });
});
