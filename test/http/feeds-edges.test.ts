// `_changes` feeds at their edges: a client that stops reading and leaves frees its feed; a bad
// filter is an error status, not an empty 200 stream; a filtered feed's last_seq passes the changes
// its filter skipped; design filter functions get CouchDB's request object.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { write } from '../../src/http/feed-stream.ts';
import { request, startTestServer, type TestServer } from './server.ts';
import { pausedAfter } from '../helpers/paused-reader.ts';
import { until } from '../helpers/until.ts';

test('a feed write waiting for the socket to drain ends when the socket closes instead', async () => {
  const raw = Object.assign(new EventEmitter(), { destroyed: false, write: () => false });
  const waiting = write({ raw } as never, 'row\n');
  raw.destroyed = true;
  raw.emit('close');
  await waiting; // before: waited for a 'drain' that never comes
  assert.equal(raw.listenerCount('drain') + raw.listenerCount('close'), 0, 'no listener left behind');
});

const FILTERS = {
  hdr: 'function (doc, req) { return req.headers["x-k"] === "yes" && req.method === "POST" && req.info.update_seq > 0 && JSON.parse(req.body).k === 1 && req.path[1] === "_changes"; }',
  nobody: 'function (doc, req) { return req.body === "undefined"; }',
};

describe('_changes feeds at their edges', () => {
  let server: TestServer;
  let base: string;

  before(async () => {
    server = await startTestServer();
    base = `${server.url}/edges`;
    assert.equal((await request(base, { method: 'PUT' })).status, 201);
    const big = 'x'.repeat(100_000);
    const docs = Array.from({ length: 200 }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, big }));
    assert.equal((await request(`${base}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
  });
  after(() => server.close());

  test('a client that stops reading a continuous feed and leaves frees it', async () => {
    // It reads the first megabyte, then stops: 20 MB of documents wait on the server's side.
    const socket = await pausedAfter(new URL(`${base}/_changes?feed=continuous&include_docs=true&heartbeat=50`), 1_000_000);
    assert.equal(server.server.context.feeds.size, 1);
    socket.destroy();
    await until(() => server.server.context.feeds.size === 0);
  });

  test('a client that leaves while its feed is still being set up (since=now reading the database) frees it', async () => {
    const held = await server.node.lease('edges');
    const db = held.db;
    // since=now asks the database its update sequence: held there until the client has gone.
    const updateSeq = db.updateSeq.bind(db);
    let reached: () => void = () => undefined;
    let gate: Promise<void> = Promise.resolve();
    db.updateSeq = async () => {
      reached();
      await gate;
      return updateSeq();
    };
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const feeds = server.server.context.feeds;
    let started = 0;
    const add = feeds.add.bind(feeds);
    feeds.add = (feed) => (started++, add(feed));
    try {
      for (const query of ['feed=continuous&heartbeat=50', 'feed=eventsource&heartbeat=50', 'feed=longpoll&heartbeat=50', 'feed=continuous']) {
        const baseline = sockets();
        let open: () => void = () => undefined;
        gate = new Promise<void>((resolve) => (open = resolve));
        const atLease = new Promise<void>((resolve) => (reached = resolve));
        const url = new URL(`${base}/_changes?since=now&${query}`);
        const socket = connect(Number(url.port), url.hostname);
        await new Promise<void>((resolve) => socket.once('connect', resolve));
        socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
        await atLease;
        socket.destroy();
        // Both ends closed (the server has seen the client go) before the handler goes on.
        await until(() => sockets() === baseline);
        const before = started;
        open();
        await until(() => started > before);
        // Before: the feed waited for a 'close' that had come already, and for ever with no writes.
        await until(() => feeds.size === 0, 3000);
      }
    } finally {
      db.updateSeq = updateSeq;
      feeds.add = add;
      held.release();
    }
  });

  test('a bad filter on a continuous or eventsource feed is an error status, as on a normal feed', async () => {
    for (const feed of ['continuous', 'eventsource']) {
      const missing = await request(`${base}/_changes?feed=${feed}&filter=zz/f`);
      assert.equal(missing.status, 404, `${feed}: ${missing.text}`);
      const noView = await request(`${base}/_changes?feed=${feed}&filter=_view&view=zz/v`);
      assert.equal(noView.status, 404, `${feed}: ${noView.text}`);
      const badSelector = await request(`${base}/_changes?feed=${feed}&filter=_selector`, { method: 'POST', body: { selector: { v: { $bogus: 1 } } } });
      assert.equal(badSelector.status, 400, `${feed}: ${badSelector.text}`);
    }
    assert.equal(server.server.context.feeds.size, 0);
  });

  test("a filtered feed's last_seq passes the changes its filter skipped, as the normal feed's does", async () => {
    const seq = ((await request(base)).body as { update_seq: number }).update_seq;
    const normal = await request(`${base}/_changes?filter=_doc_ids&doc_ids=["zz"]`);
    assert.deepEqual(normal.body, { results: [], last_seq: seq, pending: 0 });
    const continuous = await request(`${base}/_changes?feed=continuous&filter=_doc_ids&doc_ids=["zz"]&timeout=100`);
    assert.deepEqual(JSON.parse(continuous.text.trim()), { last_seq: seq, pending: 0 });
    // A longpoll that sees only writes its filter skips answers their sequence when it times out.
    const waiting = request(`${base}/_changes?feed=longpoll&since=now&filter=_doc_ids&doc_ids=["zz"]&timeout=300`);
    await until(() => server.server.context.feeds.size === 1);
    assert.equal((await request(`${base}/other`, { method: 'PUT', body: {} })).status, 201);
    assert.deepEqual((await waiting).body, { results: [], last_seq: seq + 1, pending: 0 });
  });

  test('a longpoll already caught up (since = update_seq) waits, then answers the next write with its seq and pending', async () => {
    const seq = ((await request(base)).body as { update_seq: number }).update_seq;
    const plain = request(`${base}/_changes?feed=longpoll&since=${seq}`);
    const filtered = request(`${base}/_changes?feed=longpoll&since=${seq}&filter=_selector`, { method: 'POST', body: { selector: { keep: true } } });
    await until(() => server.server.context.feeds.size === 2);
    assert.equal((await request(`${base}/skipped`, { method: 'PUT', body: { keep: false } })).status, 201);
    const kept = await request(`${base}/kept`, { method: 'PUT', body: { keep: true } });
    const first = (await plain).body as { results: Array<{ id: string; seq: number }>; last_seq: number; pending: number };
    // The longpoll answers the first write it sees: the second may or may not be in it.
    assert.equal(first.results[0]?.id, 'skipped', 'the caught-up longpoll gets the next write');
    assert.equal(first.results[0]?.seq, seq + 1, 'at its sequence');
    assert.equal(first.last_seq, first.results.at(-1)?.seq, 'its last_seq is its last row');
    // pending counts the second write only if it had landed when the answer was written.
    assert.ok([seq + 1, seq + 2].includes(first.last_seq + first.pending), `last_seq ${first.last_seq} and pending ${first.pending}`);
    const second = (await filtered).body as { results: Array<{ id: string }>; last_seq: number };
    assert.deepEqual(second.results.map((r) => r.id), ['kept'], 'the filtered one passes over the write its selector skips');
    assert.equal(kept.status, 201);
    assert.equal(second.last_seq, seq + 2, 'and answers at the kept write');
    // Asked again from there, it is caught up and waits again.
    const again = request(`${base}/_changes?feed=longpoll&since=${seq + 2}&timeout=200`);
    assert.deepEqual((await again).body, { results: [], last_seq: seq + 2, pending: 0 }, 'an empty answer when the timeout ends it');
  });

  test('a normal feed carries an ETag of its answer: If-None-Match gets a 304 until a write changes it, as in CouchDB', async () => {
    // A database of its own: the other cases count this one's documents.
    const db = `${server.url}/etags`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    const docs = Array.from({ length: 5 }, (_, i) => ({ _id: `e${i}` }));
    assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
    const url = `${db}/_changes?since=2`;
    const first = await request(url);
    const etag = first.headers.get('etag');
    assert.match(etag ?? '', /^"[0-9a-f]{32}"$/);
    const again = await request(url, { headers: { 'if-none-match': etag! } });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    // Another query is another answer, with its own tag.
    const other = await request(`${db}/_changes?since=2&limit=1`, { headers: { 'if-none-match': etag! } });
    assert.equal(other.status, 200);
    assert.notEqual(other.headers.get('etag'), etag);
    assert.equal((await request(`${db}/late`, { method: 'PUT', body: {} })).status, 201);
    const changed = await request(url, { headers: { 'if-none-match': etag! } });
    assert.equal(changed.status, 200);
    assert.ok(changed.body.results.some((r: { id: string }) => r.id === 'late'));
    assert.notEqual(changed.headers.get('etag'), etag);
    // Longpoll and continuous feeds carry none, as CouchDB's.
    const longpoll = await request(`${db}/_changes?feed=longpoll&since=0&limit=1`);
    assert.equal(longpoll.headers.get('etag'), null);
  });

  test("a design filter function gets CouchDB's request object: method, headers, body, path, info", async () => {
    // Small documents of its own: the 100 kB ones above cost seconds of sandbox crossings here.
    const filtered = `${server.url}/edges-filters`;
    assert.equal((await request(filtered, { method: 'PUT' })).status, 201);
    const docs = Array.from({ length: 200 }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, n: i }));
    assert.equal((await request(`${filtered}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
    assert.equal((await request(`${filtered}/_design/f`, { method: 'PUT', body: { filters: FILTERS } })).status, 201);
    const all = 201;
    const asked = await request(`${filtered}/_changes?filter=f/hdr`, { method: 'POST', body: { k: 1 }, headers: { 'x-k': 'yes' } });
    assert.equal(asked.status, 200, asked.text);
    assert.equal((asked.body as { results: unknown[] }).results.length, all);
    const without = await request(`${filtered}/_changes?filter=f/hdr`, { method: 'POST', body: { k: 1 } });
    assert.equal((without.body as { results: unknown[] }).results.length, 0);
    // A large body is handed as for a GET: the sandbox takes the request again per document.
    const small = await request(`${filtered}/_changes?filter=f/nobody`, { method: 'POST', body: { k: 1 } });
    assert.equal((small.body as { results: unknown[] }).results.length, 0);
    const large = await request(`${filtered}/_changes?filter=f/nobody`, { method: 'POST', body: { pad: 'p'.repeat(20_000) } });
    assert.equal((large.body as { results: unknown[] }).results.length, all);
  });
});
