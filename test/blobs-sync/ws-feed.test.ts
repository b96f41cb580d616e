// `GET /_blobs/_changes?feed=websocket`: JSON messages per change, `since` honoured, auth on the
// upgrade, and a clean end: the server's feed set empties when the client closes.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { fill, startNode, type TestNode } from './helpers.ts';

const AUTH = { authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` };

function messages(ws: WebSocket, n: number): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  return new Promise((resolve, reject) => {
    ws.on('message', (data) => {
      out.push(JSON.parse(String(data)) as Record<string, unknown>);
      if (out.length === n) resolve(out);
    });
    ws.once('error', reject);
    ws.once('close', () => reject(new Error(`closed after ${out.length} of ${n} messages`)));
  });
}

describe('blob changes over WebSocket', () => {
  let n: TestNode;
  before(async () => {
    n = await startNode('admin:secret');
  });
  after(() => n.close());
  const wsUrl = (q: string) => `${n.server.url.replace(/^http/, 'ws')}/_blobs/_changes?feed=websocket${q}`;

  test('since=0 replays, then live changes follow; closing empties the feed set', async () => {
    const before = await fill(n.node.blobs, 2, 'ws before');
    const ws = new WebSocket(wsUrl('&since=0'), { headers: AUTH });
    const got = messages(ws, 3);
    await new Promise((r) => ws.once('open', r));
    const [later] = await fill(n.node.blobs, 1, 'ws later');
    const msgs = await got;
    assert.deepEqual(new Set(msgs.slice(0, 2).map((m) => m.id)), new Set(before));
    assert.equal(msgs[2]!.id, later);
    assert.equal(msgs[2]!.type, 'added');
    assert.match(String(msgs[2]!.seq), /^3-/);
    assert.equal(n.server.context.feeds.size, 1);
    const closed = new Promise((r) => ws.once('close', r));
    ws.close();
    await closed;
    for (let i = 0; i < 1000 && n.server.context.feeds.size > 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(n.server.context.feeds.size, 0);
  });

  test('a stale since gets {reset:true}; no credentials, no upgrade (401)', async () => {
    const ws = new WebSocket(wsUrl('&since=5-ffff'), { headers: AUTH });
    const [first] = await messages(ws, 1);
    assert.equal(first!.reset, true);
    ws.close();
    const anon = new WebSocket(wsUrl(''));
    const status = await new Promise<number>((resolve) => {
      anon.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      anon.once('open', () => resolve(101));
      anon.once('error', () => {});
    });
    assert.equal(status, 401);
    anon.terminate();
  });

  test('feed=websocket without an upgrade is refused (501, as before the WebSocket feed existed)', async () => {
    const res = await fetch(`${n.server.url}/_blobs/_changes?feed=websocket`, { headers: AUTH });
    assert.equal(res.status, 501);
  });
});
