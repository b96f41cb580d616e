// `_changes` and `_db_updates` given a sequence past any their database or node gave (the database
// was deleted and made again since the client saw it, or the sequence is another server's): every
// feed starts over, as CouchDB's does for a sequence of another shard file, rather than answering
// nothing until the new count passes the old one.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

describe('a since this database never gave', () => {
  let server: TestServer;
  let base: string;

  before(async () => {
    server = await startTestServer();
    base = `${server.url}/again`;
    assert.equal((await request(base, { method: 'PUT' })).status, 201);
    const docs = Array.from({ length: 5 }, (_, i) => ({ _id: `old${i}` }));
    assert.equal((await request(`${base}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
    assert.equal((await request(`${base}/_changes?since=now`)).body.last_seq, 5);
    // Deleted and made again: its sequence starts over, below what a follower kept (5).
    assert.equal((await request(base, { method: 'DELETE' })).status, 200);
    assert.equal((await request(base, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${base}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'new0' }, { _id: 'new1' }] } })).status, 201);
  });
  after(() => server.close());

  test('the normal feed answers from the start', async () => {
    for (const since of ['5', '"5"', '23423-g1AAAAE7']) {
      const res = await request(`${base}/_changes?since=${encodeURIComponent(since)}`);
      assert.equal(res.status, 200, since);
      assert.deepEqual([res.body.results.map((r: { id: string }) => r.id), res.body.last_seq], [['new0', 'new1'], 2], `since=${since}`);
    }
    // One it gave is read after, as always.
    assert.deepEqual((await request(`${base}/_changes?since=1`)).body.results.map((r: { id: string }) => r.id), ['new1']);
  });

  test('longpoll answers at once, and continuous ends with the new last_seq', async () => {
    const poll = await request(`${base}/_changes?feed=longpoll&since=5&timeout=60000`);
    assert.deepEqual(poll.body.results.map((r: { id: string }) => r.id), ['new0', 'new1']);
    const cont = await request(`${base}/_changes?feed=continuous&since=5&timeout=10`);
    const lines = cont.text.trim().split('\n').map((l) => JSON.parse(l) as { id?: string; last_seq?: number });
    assert.deepEqual(lines.map((l) => l.id ?? `last_seq ${l.last_seq}`), ['new0', 'new1', 'last_seq 2']);
  });

  test('_db_updates too', async () => {
    const all = await request(`${server.url}/_db_updates`);
    const past = await request(`${server.url}/_db_updates?since=${all.body.last_seq + 1000}`);
    assert.equal(past.status, 200);
    assert.deepEqual(past.body, all.body, 'the whole feed again, not an empty one');
  });
});
