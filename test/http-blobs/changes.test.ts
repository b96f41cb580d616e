// `/_blobs/_changes`: normal (since, limit, reset when too old or from another epoch), longpoll
// (answers at the next change), eventsource (replays then streams; Last-Event-ID resumes), continuous.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { idOf, req, startBlobServer, type BlobServer } from './helpers.ts';

const put = async (s: BlobServer, text: string) => {
  const data = Buffer.from(text);
  const r = await req(s.port, 'PUT', `/_blobs/${idOf(data)}`, { body: data });
  assert.ok(r.status === 201 || r.status === 200);
  return idOf(data);
};

/** Opens a streaming feed; `next()` resolves with each parsed event (SSE `data:` or a JSON line). */
function openFeed(port: number, path: string, headers: Record<string, string> = {}) {
  const queue: unknown[] = [];
  const waiters: Array<(v: unknown) => void> = [];
  let request!: http.ClientRequest;
  const opened = new Promise<http.IncomingMessage>((resolve, reject) => {
    request = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let buf = '';
      const sse = String(res.headers['content-type']).startsWith('text/event-stream');
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buf += chunk;
        const sep = sse ? '\n\n' : '\n';
        let i: number;
        while ((i = buf.indexOf(sep)) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + sep.length);
          let value: unknown;
          if (sse) {
            const data = block.split('\n').find((l) => l.startsWith('data: '));
            const id = block.split('\n').find((l) => l.startsWith('id: '));
            if (!data) continue;
            value = { ...JSON.parse(data.slice(6)), ...(id && { eventId: id.slice(4) }) };
          } else {
            if (block.trim() === '') continue;
            value = JSON.parse(block);
          }
          const w = waiters.shift();
          if (w) w(value);
          else queue.push(value);
        }
      });
      resolve(res);
    });
    request.on('error', reject);
  });
  return {
    opened,
    next: (): Promise<any> => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiters.push(resolve))),
    close: () => request.destroy(),
  };
}

describe('blob change feed', () => {
  let s: BlobServer;
  before(async () => {
    s = await startBlobServer({ engine: 'memory', blobs: { backend: 'memory' }, changeLogSize: 5 });
  });
  after(() => s.close());

  test('normal: since and limit, added and removed events, last_seq to continue from', async () => {
    const start = (await req(s.port, 'GET', '/_blobs/_changes?since=now')).json.last_seq as string;
    assert.match(start, /^\d+-[0-9a-f]+$/);
    const a = await put(s, 'change a');
    const b = await put(s, 'change b');
    await req(s.port, 'DELETE', `/_blobs/${a}`);
    const r = await req(s.port, 'GET', `/_blobs/_changes?since=${start}`);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.json.results.map((c: any) => [c.type, c.id, c.size]),
      [
        ['added', a, 8],
        ['added', b, 8],
        ['removed', a, 8],
      ],
    );
    assert.equal(r.json.last_seq, r.json.results[2].seq);
    assert.equal(r.json.reset, undefined);
    const limited = await req(s.port, 'GET', `/_blobs/_changes?since=${start}&limit=2`);
    assert.equal(limited.json.results.length, 2);
    const rest = await req(s.port, 'GET', `/_blobs/_changes?since=${limited.json.last_seq}`);
    assert.deepEqual(rest.json.results, r.json.results.slice(2));
    const none = await req(s.port, 'GET', `/_blobs/_changes?since=${r.json.last_seq}`);
    assert.deepEqual(none.json, { results: [], last_seq: r.json.last_seq });
    // The plain number means this epoch.
    const plain = await req(s.port, 'GET', `/_blobs/_changes?since=${start.split('-')[0]}`);
    assert.deepEqual(plain.json.results, r.json.results);
  });

  test('normal: a since older than the ring or from another epoch -> reset', async () => {
    const start = (await req(s.port, 'GET', '/_blobs/_changes?since=now')).json.last_seq as string;
    for (let i = 0; i < 8; i++) await put(s, `ring ${i}`);
    const old = await req(s.port, 'GET', `/_blobs/_changes?since=${start}`);
    assert.equal(old.json.reset, true);
    assert.deepEqual(old.json.results, []);
    const fresh = await req(s.port, 'GET', `/_blobs/_changes?since=${old.json.last_seq}`);
    assert.equal(fresh.json.reset, undefined);
    const other = await req(s.port, 'GET', `/_blobs/_changes?since=3-00000000`);
    assert.equal(other.json.reset, true);
    assert.equal((await req(s.port, 'GET', '/_blobs/_changes?since=abc')).status, 400);
    assert.equal((await req(s.port, 'GET', '/_blobs/_changes?feed=nope')).status, 400);
    const ws = await req(s.port, 'GET', '/_blobs/_changes?feed=websocket');
    assert.equal(ws.status, 501);
  });

  test('longpoll: waits for the next change', async () => {
    const last = (await req(s.port, 'GET', '/_blobs/_changes?since=now')).json.last_seq as string;
    const polled = req(s.port, 'GET', `/_blobs/_changes?feed=longpoll&since=${last}`);
    const id = await put(s, 'longpoll change');
    const r = await polled;
    assert.equal(r.status, 200);
    assert.equal(r.json.results.length, 1);
    assert.equal(r.json.results[0].id, id);
    assert.equal(r.json.last_seq, r.json.results[0].seq);
  });

  test('longpoll: answers empty after its timeout', async () => {
    const last = (await req(s.port, 'GET', '/_blobs/_changes?since=now')).json.last_seq as string;
    const r = await req(s.port, 'GET', `/_blobs/_changes?feed=longpoll&since=${last}&timeout=20`);
    assert.deepEqual(r.json, { results: [], last_seq: last });
  });

  test('eventsource: replays from since, streams new changes, Last-Event-ID resumes', async () => {
    const start = (await req(s.port, 'GET', '/_blobs/_changes?since=now')).json.last_seq as string;
    const a = await put(s, 'sse a');
    const feed = openFeed(s.port, `/_blobs/_changes?feed=eventsource&since=${start}`);
    const res = await feed.opened;
    assert.equal(res.headers['content-type'], 'text/event-stream');
    const first = await feed.next();
    assert.equal(first.id, a);
    assert.equal(first.eventId, first.seq);
    const b = await put(s, 'sse b');
    const second = await feed.next();
    assert.equal(second.id, b);
    assert.equal(second.type, 'added');
    feed.close();

    const c = await put(s, 'sse c');
    const resumed = openFeed(s.port, '/_blobs/_changes?feed=eventsource', { 'last-event-id': second.eventId });
    await resumed.opened;
    assert.equal((await resumed.next()).id, c);
    resumed.close();
  });

  test('eventsource: a stale since is told to reset, then follows', async () => {
    const feed = openFeed(s.port, '/_blobs/_changes?feed=eventsource&since=1-00000000');
    await feed.opened;
    const first = await feed.next();
    assert.equal(first.reset, true);
    const id = await put(s, 'after reset');
    assert.equal((await feed.next()).id, id);
    feed.close();
  });

  test('continuous: JSON lines, ends with last_seq at the limit', async () => {
    const start = (await req(s.port, 'GET', '/_blobs/_changes?since=now')).json.last_seq as string;
    const feed = openFeed(s.port, `/_blobs/_changes?feed=continuous&since=${start}&limit=2`);
    await feed.opened;
    const x = await put(s, 'cont x');
    const y = await put(s, 'cont y');
    assert.equal((await feed.next()).id, x);
    const second = await feed.next();
    assert.equal(second.id, y);
    assert.deepEqual(await feed.next(), { last_seq: second.seq });
    feed.close();
  });
});
