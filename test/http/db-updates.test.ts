// `GET /_db_updates` as CouchDB serves it: normal, longpoll, continuous and eventsource feeds of
// databases created, updated and deleted, for server admins only, with bad parameters refused.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

const names = (body: any) => body.results.map((r: any) => `${r.type}:${r.db_name}`);

describe('_db_updates', () => {
  let server: TestServer;
  let u: string;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    u = server.url;
  });
  after(() => server.close());

  test('normal feed: rows {db_name, type, seq} and last_seq, with since and limit', async () => {
    await request(`${u}/one`, { method: 'PUT' });
    await request(`${u}/two`, { method: 'PUT' });
    const all = await request(`${u}/_db_updates`);
    assert.equal(all.status, 200);
    assert.deepEqual(names(all.body).filter((n: string) => n.endsWith('one') || n.endsWith('two')), ['created:one', 'created:two']);
    for (const row of all.body.results) assert.deepEqual(Object.keys(row).sort(), ['db_name', 'seq', 'type']);
    assert.equal(all.body.last_seq, all.body.results.at(-1).seq);
    const first = all.body.results[0].seq;
    const next = await request(`${u}/_db_updates?since=${first}&limit=1`);
    assert.deepEqual(next.body.results, [all.body.results[1]]);
    assert.deepEqual((await request(`${u}/_db_updates?since=now`)).body, { results: [], last_seq: all.body.last_seq });
    // A CouchDB client may echo an "N-opaque" sequence back, or a JSON-quoted one.
    assert.deepEqual((await request(`${u}/_db_updates?since=${first}-g1AAAA`)).body.results, all.body.results.slice(1));
    assert.deepEqual((await request(`${u}/_db_updates?since="${first}"`)).body.results, all.body.results.slice(1));
    // Other methods are CouchDB's 405, not a database that does not exist.
    const post = await request(`${u}/_db_updates`, { method: 'POST', body: {} });
    assert.equal(post.status, 405, post.text);
    assert.equal(post.body.error, 'method_not_allowed');
  });

  test('longpoll waits for the next event; a write is reported as updated', async () => {
    const now = (await request(`${u}/_db_updates?since=now`)).body.last_seq;
    const waiting = request(`${u}/_db_updates?feed=longpoll&since=${now}&timeout=10000`);
    await request(`${u}/three`, { method: 'PUT' });
    const created = await waiting;
    assert.deepEqual(names(created.body), ['created:three']);
    const updated = request(`${u}/_db_updates?feed=longpoll&since=${created.body.last_seq}&timeout=10000`);
    await request(`${u}/three/doc`, { method: 'PUT', body: { x: 1 } });
    assert.deepEqual(names((await updated).body), ['updated:three']);
    // Nothing happens: the timeout answers an empty result at the same sequence.
    const idle = await request(`${u}/_db_updates?feed=longpoll&since=now&timeout=50`);
    assert.deepEqual(idle.body.results, []);
  });

  test('continuous and eventsource: one row per line (or event), last_seq when the feed ends', async () => {
    await request(`${u}/four`, { method: 'PUT' });
    await request(`${u}/four`, { method: 'DELETE' });
    const text = await (await fetch(`${u}/_db_updates?feed=continuous&limit=2`)).text();
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    assert.ok(lines[0].db_name && lines[1].type);
    assert.deepEqual(lines[2], { last_seq: lines[1].seq });
    const idle = await (await fetch(`${u}/_db_updates?feed=continuous&since=now&timeout=30`)).text();
    assert.equal(JSON.parse(idle.trim()).last_seq, (await request(`${u}/_db_updates?since=now`)).body.last_seq);

    const all = (await request(`${u}/_db_updates`)).body;
    const res = await fetch(`${u}/_db_updates?feed=eventsource&since=${all.results.at(-3).seq}&timeout=30`);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = (await res.text()).trim().split('\n\n');
    assert.deepEqual(
      events.map((e) => JSON.parse(e.split('\n')[0]!.slice('data: '.length))),
      all.results.slice(-2),
    );
    assert.equal(events[1]!.split('\n')[1], `id: ${all.results.at(-1).seq}`);
    // A reconnecting EventSource resumes after the last event it saw (Last-Event-ID).
    const resumed = await fetch(`${u}/_db_updates?feed=eventsource&since=0&timeout=30`, { headers: { 'Last-Event-ID': String(all.results.at(-2).seq) } });
    const again = (await resumed.text()).trim().split('\n\n');
    assert.deepEqual(again.map((e) => JSON.parse(e.split('\n')[0]!.slice('data: '.length))), all.results.slice(-1));
  });

  test('bad parameters are 400 bad_request', async () => {
    for (const qs of ['feed=websocket', 'feed=x', 'since=abc', 'since=-1', 'limit=x', 'timeout=-5', 'descending=true&feed=continuous', 'heartbeat=maybe']) {
      const r = await request(`${u}/_db_updates?${qs}`);
      assert.equal(r.status, 400, qs);
      assert.equal(r.body.error, 'bad_request', qs);
    }
    // As CouchDB's parse_global_changes_query reads them: descending for the word `true` alone,
    // another ignored; `heartbeat=false` is no heartbeat.
    const plain = (await request(`${u}/_db_updates`)).body;
    assert.deepEqual((await request(`${u}/_db_updates?descending=maybe`)).body, plain);
    assert.deepEqual((await request(`${u}/_db_updates?descending=TRUE`)).body, plain);
    const poll = await request(`${u}/_db_updates?feed=longpoll&heartbeat=false&since=0`);
    assert.deepEqual([poll.status, poll.body.results], [200, plain.results]);
  });
});

test('_db_updates is for server admins only', async () => {
  const server = await startTestServer({ admin: 'admin:secret' });
  try {
    const anonymous = await request(`${server.url}/_db_updates`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error, 'unauthorized');
    const admin = await request(`${server.url}/_db_updates`, { headers: { Authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` } });
    assert.equal(admin.status, 200);
    // The server made its _replicator database: the first event of this node.
    assert.deepEqual(admin.body, { results: [{ db_name: '_replicator', type: 'created', seq: 1 }], last_seq: 1 });
  } finally {
    await server.close();
  }
});
