// `/refuge/replication/1.1.0`: replication requests reuse idle streams (one stream for many
// sequential requests, a few for concurrent ones), a peer reached only over 1.0.0 still works one
// stream per request, errors and aborts never return a stream to the pool, and a 1.1.0 stream
// answers a malformed frame with an error and ends.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lpStream } from '@libp2p/utils';
import { MeshPeer, REPLICATION_PROTOCOL, REPLICATION_PROTOCOL_MANY, addPeer, setGrant, type StreamOpener } from '../../src/mesh/index.ts';
import { serverAndReader, startPeerNode, type PeerNode } from './helpers.ts';

async function pair(t: { after: (fn: () => Promise<void>) => void }): Promise<[PeerNode, PeerNode]> {
  const { server, client } = await serverAndReader(t, 'db', Array.from({ length: 20 }, (_, i) => ({ _id: `d${i}` })));
  await client.mesh.connect(server.mesh.invite());
  return [server, client];
}

/** The client's mesh, counting the streams it opens (and, optionally, offering only 1.0.0). */
function counting(client: PeerNode, onlyOld = false): StreamOpener & { opened: string[] } {
  const opened: string[] = [];
  return {
    opened,
    streamPool: client.mesh.streamPool,
    openStream: async (peerId, protocol, signal) => {
      const stream = await client.mesh.openStream(peerId, onlyOld ? REPLICATION_PROTOCOL : protocol, signal);
      opened.push(stream.protocol);
      return stream;
    },
  };
}

test('sequential requests share one stream; concurrent ones a few; 1.0.0 peers one each', async (t) => {
  const [server, client] = await pair(t);
  const opener = counting(client);
  const peer = new MeshPeer(opener, server.mesh.peerId, 'db');
  for (let i = 0; i < 30; i++) assert.equal((await peer.info()).docCount, 20);
  assert.deepEqual(opener.opened, [REPLICATION_PROTOCOL_MANY], 'one stream for thirty requests');

  await Promise.all(Array.from({ length: 4 }, () => peer.changes({ since: 0, limit: 5, style: 'all_docs' })));
  assert.ok(opener.opened.length <= 5, `${opener.opened.length} streams`);
  const before = opener.opened.length;
  for (let i = 0; i < 10; i++) await peer.revsDiff(new Map([['d1', ['1-abc']]]));
  assert.equal(opener.opened.length, before, 'idle streams are reused');

  // A refused request answers on the stream; the stream stays good for the next request.
  await assert.rejects(new MeshPeer(opener, server.mesh.peerId, 'secret').info(), { code: 'forbidden' });
  assert.equal((await peer.info()).docCount, 20);

  const old = counting(client, true);
  client.mesh.streamPool.clear();
  const oldPeer = new MeshPeer(old, server.mesh.peerId, 'db');
  for (let i = 0; i < 3; i++) await oldPeer.info();
  assert.deepEqual(old.opened, [REPLICATION_PROTOCOL, REPLICATION_PROTOCOL, REPLICATION_PROTOCOL]);
});

test('an aborted request does not give its stream back', async (t) => {
  const [server, client] = await pair(t);
  const opener = counting(client);
  const peer = new MeshPeer(opener, server.mesh.peerId, 'db');
  await peer.info();
  // A long-poll cut short: its stream is dropped, the next request opens another.
  const ac = new AbortController();
  const waiting = peer.changes({ since: 'now', limit: 10, style: 'all_docs', feed: 'longpoll', timeoutMs: 30_000, signal: ac.signal });
  ac.abort();
  await assert.rejects(waiting);
  assert.equal((await peer.info()).docCount, 20);
  assert.equal(opener.opened.length, 2);
});

test('a 1.1.0 stream answers a malformed frame with an error, then ends', async (t) => {
  const [server, client] = await pair(t);
  const stream = await client.mesh.openStream(server.mesh.peerId, REPLICATION_PROTOCOL_MANY);
  const lp = lpStream(stream);
  const ask = async (bytes: Uint8Array) => {
    await lp.write(bytes);
    return JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as Record<string, unknown>;
  };
  const ok = await ask(new TextEncoder().encode(JSON.stringify({ op: 'info', db: 'db' })));
  assert.equal(ok.ok, true);
  const unknownOp = await ask(new TextEncoder().encode(JSON.stringify({ op: 'frobnicate', db: 'db' })));
  assert.equal(unknownOp.error, 'bad_request');
  const again = await ask(new TextEncoder().encode(JSON.stringify({ op: 'info', db: 'db' })));
  assert.equal(again.ok, true, 'a refused request leaves the stream usable');
  const garbage = await ask(new Uint8Array([0xff, 0xfe, 0x00]));
  assert.equal(garbage.error, 'bad_request');
  await assert.rejects(lp.read(), 'the server ended the stream');
});

test('a request to a peer that has just connected to us goes out on its connection at once', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  t.after(async () => {
    await a.close();
    await b.close();
  });
  await b.node.createDb('db');
  await b.trust.update((s) => setGrant(addPeer(s, { id: a.mesh.peerId }), 'db', 'read', `peer:${a.mesh.peerId}`, true));
  // b dials a; a, which knows no address of b, asks b something right away. Before the fix this
  // waited for an address lookup until the request timed out.
  await b.mesh.connect(a.mesh.invite());
  const peer = new MeshPeer(a.mesh, b.mesh.peerId, 'db', { requestTimeoutMs: 20_000 });
  assert.equal((await peer.info()).docCount, 0);
});
