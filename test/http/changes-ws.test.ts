// `GET /{db}/_changes?feed=websocket`: rows as JSON messages with the feed's options, live rows
// after the replay, `limit` ending with {"last_seq"}, refusals (handshakes too, in JSON), and a clean end on close.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { socketRequest } from './raw-http.ts';
import { request, startTestServer, type TestServer } from './server.ts';

/** Collects a socket's JSON messages; `until(n)` waits for the first `n`, or the close that came first. */
function collect(ws: WebSocket) {
  const msgs: Array<Record<string, unknown>> = [];
  let closed: { code: number; reason: string } | undefined;
  let wake = () => {};
  ws.on('message', (data) => {
    msgs.push(JSON.parse(String(data)) as Record<string, unknown>);
    wake();
  });
  ws.once('close', (code, reason) => {
    closed = { code, reason: String(reason) };
    wake();
  });
  ws.on('error', () => {});
  return {
    msgs,
    get closed() {
      return closed;
    },
    async until(n: number) {
      while (msgs.length < n && !closed) await new Promise<void>((r) => (wake = r));
      return { msgs, closed };
    },
  };
}

describe('_changes over WebSocket', () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    server = await startTestServer();
    base = `${server.url}/wsdb`;
    await request(base, { method: 'PUT' });
    await request(`${base}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }] } });
  });
  after(() => server.close());
  const wsUrl = (q: string) => `${base.replace(/^http/, 'ws')}/_changes?feed=websocket${q}`;

  test('replays from since, then live rows follow, with include_docs; closing ends the feed', async () => {
    const ws = new WebSocket(wsUrl('&since=0&include_docs=true'));
    const got = collect(ws);
    await got.until(2);
    assert.equal((await request(`${base}/c`, { method: 'PUT', body: { n: 3 } })).status, 201);
    const { msgs } = await got.until(3);
    assert.deepEqual(msgs.map((m) => m.id), ['a', 'b', 'c']);
    assert.deepEqual((msgs[2]!.doc as Record<string, unknown>).n, 3);
    assert.equal(server.server.context.feeds.size, 1);
    const closed = new Promise((r) => ws.once('close', r));
    ws.close();
    await closed;
    for (let i = 0; i < 1000 && server.server.context.feeds.size > 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(server.server.context.feeds.size, 0);
  });

  test('limit ends with last_seq and a normal close; filters apply', async () => {
    const limited = await collect(new WebSocket(wsUrl('&since=0&limit=1'))).until(10);
    assert.deepEqual(limited.msgs, [limited.msgs[0], { last_seq: limited.msgs[0]!.seq }]);
    assert.deepEqual(limited.closed, { code: 1000, reason: 'limit reached' });
    const ids = encodeURIComponent(JSON.stringify(['b']));
    const filtered = await collect(new WebSocket(wsUrl(`&since=0&filter=_doc_ids&doc_ids=${ids}&limit=1`))).until(10);
    assert.equal(filtered.msgs[0]!.id, 'b');
  });

  test('a feed whose database is deleted ends with its last_seq and a normal close (not "limit reached")', async () => {
    await request(`${server.url}/wsgone`, { method: 'PUT' });
    const got = collect(new WebSocket(`${server.url.replace(/^http/, 'ws')}/wsgone/_changes?feed=websocket`));
    await request(`${server.url}/wsgone/x`, { method: 'PUT', body: {} });
    await got.until(1);
    assert.equal((await request(`${server.url}/wsgone`, { method: 'DELETE' })).status, 200);
    const { msgs, closed } = await got.until(Infinity);
    assert.deepEqual(msgs.at(-1), { last_seq: 1 });
    assert.deepEqual(closed, { code: 1000, reason: 'feed ended' });
  });

  test('a bad since, a missing filter or a missing database closes with 1008; plain HTTP gets 501', async () => {
    const bad = await collect(new WebSocket(wsUrl('&since=abc'))).until(1);
    assert.equal(bad.closed?.code, 1008);
    assert.match(bad.closed!.reason, /since/);
    // The database is looked up once the socket is open: a missing one closes it with 1008.
    const missing = await collect(new WebSocket(`${server.url.replace(/^http/, 'ws')}/nope/_changes?feed=websocket`)).until(1);
    assert.equal(missing.closed?.code, 1008);
    assert.match(missing.closed!.reason, /does not exist/);
    // A filter that does not exist, as the HTTP feeds check it first (it closed as 1001 "server closing").
    for (const filter of ['&filter=nope/nope', '&filter=_view&view=nope/nope', `&filter=${encodeURIComponent('é'.repeat(80))}/x`]) {
      const unknown = await collect(new WebSocket(wsUrl(filter))).until(1);
      assert.deepEqual([unknown.closed?.code, unknown.msgs.length], [1008, 0], filter);
    }
    const res = await fetch(`${base}/_changes?feed=websocket`);
    assert.equal(res.status, 501);
  });
});

test('a server shutting down ends open WebSocket feeds (changes and blobs) at once, not after the feed grace period', async () => {
  const server = await startTestServer();
  await request(`${server.url}/wsclose`, { method: 'PUT' });
  const ws = server.url.replace(/^http/, 'ws');
  const feeds = [new WebSocket(`${ws}/wsclose/_changes?feed=websocket`), new WebSocket(`${ws}/_blobs/_changes?feed=websocket`)];
  const got = feeds.map(collect);
  await Promise.all(feeds.map((f) => new Promise((r) => f.once('open', r))));
  for (let i = 0; i < 1000 && server.server.context.feeds.size < 2; i++) await new Promise((r) => setImmediate(r));
  assert.equal(server.server.context.feeds.size, 2);
  const started = performance.now();
  await server.close();
  // The wait for feeds to end is 3 s: each feed tells the server it ended, so none is waited for.
  assert.ok(performance.now() - started < 2000, `closing took ${Math.round(performance.now() - started)} ms`);
  for (const g of got) assert.equal((await g.until(Infinity)).closed?.code, 1001);
});

test("an upgrade refused before its handshake is CouchDB's JSON error, not ws's text/html line", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  assert.equal((await request(`${server.url}/wsdb`, { method: 'PUT' })).status, 201);
  const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
  const ask = (method: string, path: string, headers: string) =>
    socketRequest(server.server.port, `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n${headers}\r\n`);
  for (const [method, path, headers, status, allow] of [
    ['GET', '/wsdb/_changes?feed=websocket', 'Upgrade: h2c\r\n', 400],
    ['GET', '/wsdb/_changes?feed=websocket', 'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n', 400],
    ['GET', '/_blobs/_changes?feed=websocket', 'Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99\r\n', 400],
    ['PUT', '/wsdb/doc/att.txt', `Upgrade: websocket\r\n${key}`, 405, 'GET'],
  ] as const) {
    const res = await ask(method, path, headers);
    assert.equal(res.status, status, `${method} ${path} ${headers}`);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = JSON.parse(res.text);
    assert.deepEqual(Object.keys(body), ['error', 'reason']);
    if (allow) assert.equal(res.headers.allow, allow);
  }
  assert.equal((await request(`${server.url}/wsdb/doc`)).status, 404, 'nothing written');
});
