// User functions that run long (an update function, a JavaScript reduce, a validate_doc_update
// judged again document by document) leave the node answering other requests meanwhile, as
// CouchDB's separate couchjs processes do: the sandbox thread runs them while the main thread serves (test/sandbox/async-calls.test.ts has the sandbox's own side).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

const LIMIT_MS = 2000;

/**
 * Runs `slow` and answers the longest stretch the event loop was held meanwhile, with how many
 * `GET /_up` requests, sent one after another, were answered before `slow` ended.
 */
async function whileRunning<T>(url: string, slow: () => Promise<T>): Promise<{ result: T; heldMs: number; ups: number }> {
  let last = performance.now();
  let heldMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    heldMs = Math.max(heldMs, now - last);
    last = now;
  }, 10);
  let done = false;
  let ups = 0;
  const pinging = (async () => {
    while (!done) {
      const up = await request(`${url}/_up`);
      assert.equal(up.status, 200, 'the node answers /_up');
      if (!done) ups++;
    }
  })();
  try {
    const result = await slow();
    return { result, heldMs, ups };
  } finally {
    done = true;
    clearInterval(ticker);
    await pinging;
  }
}

describe('long user functions do not stop the node', () => {
  let server: TestServer;
  let db: string;
  before(async () => {
    server = await startTestServer({ sandbox: { timeoutMs: LIMIT_MS } });
    db = `${server.url}/busy`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${db}/d1`, { method: 'PUT', body: { n: 1 } })).status, 201);
    const ddoc = await request(`${db}/_design/slow`, {
      method: 'PUT',
      body: {
        updates: { spin: 'function (doc, req) { while (true) {} }' },
        views: { r: { map: 'function (doc) { if (doc.n) emit(doc._id, doc.n); }', reduce: 'function (keys, values, rereduce) { while (true) {} }' } },
        validate_doc_update: 'function (newDoc) { if (newDoc.spin) while (true) {} }',
      },
    });
    assert.equal(ddoc.status, 201);
  });
  after(() => server.close());

  test('an update function past the time limit', async () => {
    const { result, heldMs, ups } = await whileRunning(server.url, () => request(`${db}/_design/slow/_update/spin/d1`, { method: 'POST', body: {} }));
    assert.equal(result.status, 500, 'the update fails');
    assert.ok(heldMs < LIMIT_MS / 2, `the event loop was held ${Math.round(heldMs)} ms`);
    assert.ok(ups > 0, 'other requests were answered meanwhile');
  });

  test('a JavaScript reduce past the time limit', async () => {
    const { result, heldMs, ups } = await whileRunning(server.url, () => request(`${db}/_design/slow/_view/r`));
    assert.equal(result.status, 500, 'the query fails');
    assert.ok(heldMs < LIMIT_MS / 2, `the event loop was held ${Math.round(heldMs)} ms`);
    assert.ok(ups > 0, 'other requests were answered meanwhile');
  });

  test('a validation past the time limit, judged again for each document of the batch', async () => {
    const docs = [{ _id: 'a', spin: true }, { _id: 'b' }];
    const { result, heldMs } = await whileRunning(server.url, () => request(`${db}/_bulk_docs`, { method: 'POST', body: { docs } }));
    assert.equal(result.status, 201);
    const rows = result.body as Array<{ id: string; ok?: boolean; error?: string }>;
    assert.equal(rows[0]!.id, 'a');
    assert.ok(rows[0]!.error !== undefined, `the spinning document is refused: ${JSON.stringify(rows[0])}`);
    assert.equal(rows[1]!.ok, true, 'the other one is written');
    assert.ok(heldMs < LIMIT_MS / 2, `the event loop was held ${Math.round(heldMs)} ms`);
    assert.equal((await request(`${db}/a`)).status, 404, 'the refused document was not written');
  });
});
