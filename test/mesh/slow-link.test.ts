// A blob over a slow link with a deep queue: libp2p's pings wait behind the blob's bytes, longer
// than libp2p's default 5 s ping timeout. The connection must hold (the monitor's minimum is 30 s)
// and every byte must come through that one connection, not over a redial after a drop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addPeer, encodeInvite, setGrant } from '../../src/mesh/index.ts';
import { slowLink } from '../helpers/slow-link.ts';
import { startPeerNode } from './helpers.ts';

const RATE = 256 * 1024;
const SIZE = 5 * 1024 * 1024;

test('a blob queued behind a slow link delays pings past 5 s without the connection being dropped', { timeout: 90_000 }, async (t) => {
  const owner = await startPeerNode();
  const reader = await startPeerNode();
  t.after(async () => {
    await reader.close();
    await owner.close();
  });
  const tcp = owner.mesh.addresses().find((a) => /\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a) && !a.includes('/ws'))!;
  const link = await slowLink(Number(tcp.split('/tcp/')[1]!.split('/')[0]), RATE);
  t.after(() => link.close());

  await owner.trust.update((s) => setGrant(addPeer(s, { id: reader.mesh.peerId }), 'notes', 'read', `peer:${reader.mesh.peerId}`, true));
  // The reader does not trust the owner back: a trusted peer is also dialled at the addresses
  // identify reports, and a second, direct connection would carry the pings past the slow link.
  await owner.node.createDb('notes');
  const blob = new Uint8Array(SIZE).map((_, i) => (i * 7919) % 251);
  const { id } = await owner.node.blobs.put(blob);

  const closes: string[] = [];
  await reader.mesh.connect(encodeInvite({ id: owner.mesh.peerId, addrs: [`/ip4/127.0.0.1/tcp/${link.port}`] }));
  // libp2p's own events (MeshNode keeps libp2p private): a drop and a redial would otherwise pass unseen.
  const libp2p = (reader.mesh as unknown as { libp2p: EventTarget }).libp2p;
  libp2p.addEventListener('connection:close', () => closes.push('connection:close'));
  libp2p.addEventListener('connection:open', () => closes.push('connection:open (a second connection)'));

  // A ping sent once 6 s of bytes are queued ahead of it, timed whole: libp2p's own figure starts
  // after the stream is negotiated, and that negotiation already waits behind the queue.
  const slowPing = new Promise<number>((resolve, reject) =>
    link.onBacklog(RATE * 6, () => {
      const started = performance.now();
      reader.mesh.ping(owner.mesh.peerId).then(() => resolve(performance.now() - started), reject);
    }),
  );
  const got = await reader.mesh.blobs.fetch(owner.mesh.peerId, id);
  assert.deepEqual(got, { id, size: SIZE, created: true });
  const waited = await slowPing;
  assert.ok(waited > 5000, `the ping waited ${Math.round(waited)} ms behind the blob, more than libp2p's default timeout`);
  assert.deepEqual(closes, []);
  assert.ok(link.delivered() >= SIZE, 'every byte came over the slow link');
  assert.equal((await reader.node.blobs.verify(id)).status, 'ok');
});
