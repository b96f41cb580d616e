// The MeshNode itself: identity from the data directory (stable across restarts), peer up/down events
// for trusted peers only, trust changes while connected, TCP and WebSockets, ping, clean stop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { addPeer, peerIdOf, removePeer, type PeerEvent } from '../../src/mesh/index.ts';
import { nextEvent, startPeerNode, tempDir } from './helpers.ts';

test('the peer id derives from the node key in the data directory and survives restarts, with the trust file', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const first = await startPeerNode({ dataDir: dir.path });
  const id = first.mesh.peerId;
  assert.equal(id, peerIdOf(first.node.key.publicKey));
  const friend = await startPeerNode();
  await first.trust.update((s) => addPeer(s, { id: friend.mesh.peerId, name: 'friend' }));
  await friend.close();
  await first.close();
  const second = await startPeerNode({ dataDir: dir.path });
  t.after(second.close);
  assert.equal(second.mesh.peerId, id, 'same data directory, same peer id');
  assert.equal((await second.trust.current()).peers[friend.mesh.peerId]?.name, 'friend');
});

test('peer:up / peer:down for trusted peers only, also when trust changes while connected', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  const c = await startPeerNode();
  t.after(async () => {
    await c.close();
    await b.close();
    await a.close();
  });
  const seen: string[] = [];
  a.mesh.on('peer:up', (e) => seen.push(`up ${e.peerId === b.mesh.peerId ? 'b' : 'c'}`));
  a.mesh.on('peer:down', (e) => seen.push(`down ${e.peerId === b.mesh.peerId ? 'b' : 'c'}`));
  await a.trust.update((s) => addPeer(s, { id: b.mesh.peerId, name: 'bee' }));

  // c is not trusted: connected, but no event.
  await c.mesh.connect(a.mesh.invite());
  await c.mesh.sharedDbs(a.mesh.peerId);
  await a.mesh.syncTrust();
  assert.deepEqual(seen, []);
  assert.ok(a.mesh.connectedPeers().includes(c.mesh.peerId));

  const up = nextEvent(a.mesh, 'peer:up');
  await b.mesh.connect(a.mesh.invite());
  assert.deepEqual(await up, { peerId: b.mesh.peerId, name: 'bee' } satisfies PeerEvent);
  assert.ok((await b.mesh.ping(a.mesh.peerId)) >= 0);

  // Trusting c now raises its event; distrusting it lowers it, though it stays connected.
  await a.trust.update((s) => addPeer(s, { id: c.mesh.peerId }));
  await a.mesh.syncTrust();
  await a.trust.update((s) => removePeer(s, c.mesh.peerId));
  await a.mesh.syncTrust();
  assert.deepEqual(seen, ['up b', 'up c', 'down c']);

  const down = nextEvent(a.mesh, 'peer:down');
  await b.mesh.disconnect(a.mesh.peerId);
  assert.equal((await down).peerId, b.mesh.peerId);
  assert.deepEqual(a.mesh.upPeers(), []);
});

test('WebSockets alone carry the mesh; stopping a node brings its trusted peers down', async (t) => {
  const a = await startPeerNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] });
  const b = await startPeerNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] });
  t.after(async () => {
    await b.close();
    await a.close();
  });
  assert.ok(a.mesh.addresses().every((addr) => addr.includes('/ws/p2p/')));
  await b.trust.update((s) => addPeer(s, { id: a.mesh.peerId }));
  const up = nextEvent(b.mesh, 'peer:up');
  await b.mesh.connect(a.mesh.invite());
  await up;
  const down = nextEvent(b.mesh, 'peer:down');
  await b.mesh.stop();
  assert.equal((await down).peerId, a.mesh.peerId);
  await assert.rejects(b.mesh.sharedDbs(a.mesh.peerId), { code: 'closed' });
});

test('connect fails with unavailable when nobody listens there', async (t) => {
  const a = await startPeerNode();
  const gone = await startPeerNode();
  const invite = gone.mesh.invite();
  await gone.close();
  t.after(a.close);
  await assert.rejects(a.mesh.connect(invite), { code: 'unavailable' });
});

test('a mesh that cannot listen says where and why in one line, not libp2p\'s stack and settings', async (t) => {
  const busy = createServer();
  t.after(() => busy.close());
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  for (const [addr, why] of [
    [`/ip4/127.0.0.1/tcp/${port}`, /address already in use/],
    ['/ip4/127.0.0.1/udp/0', /No transport was configured to listen on this address/],
  ] as const) {
    await assert.rejects(startPeerNode({ listen: [addr], mdns: false, nat: false, dht: false }), (err: { code?: string; reason?: string }) => {
      assert.equal(err.code, 'unavailable');
      assert.match(err.reason!, new RegExp(`^the mesh could not start: cannot listen on ${addr.replace(/\//g, '\\/')}: `));
      assert.match(err.reason!, why);
      assert.doesNotMatch(err.reason!, /\n|faultTolerance| at /);
      return true;
    });
  }
  // No multiaddr at all: bad input, said as such.
  await assert.rejects(startPeerNode({ listen: ['garbage'], mdns: false, nat: false, dht: false }), { code: 'bad_request', reason: 'not a multiaddr to listen on: garbage' });
});

test('a node keeps its trusted peers connected: syncTrust (also run at start) dials those with known addresses', async (t) => {
  const b = await startPeerNode();
  const a = await startPeerNode({ keepTrustedConnected: true });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  await a.trust.update((s) => addPeer(s, { id: b.mesh.peerId, addrs: b.mesh.addresses() }));
  const upped = a.mesh.upPeers().some((p) => p.peerId === b.mesh.peerId) ? undefined : nextEvent(a.mesh, 'peer:up', (e) => e.peerId === b.mesh.peerId);
  await a.mesh.syncTrust();
  await upped;
  assert.deepEqual(a.mesh.upPeers(), [{ peerId: b.mesh.peerId }]);
});

test('a trusted peer away longer than libp2p redials it is dialled again until it is back', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  let b = await startPeerNode({ dataDir: dir.path });
  const port = /\/tcp\/(\d+)\//.exec(b.mesh.addresses().find((a) => !a.includes('/ws/'))!)![1]!;
  const listen = [`/ip4/127.0.0.1/tcp/${port}`];
  await b.close();
  b = await startPeerNode({ dataDir: dir.path, listen });
  const a = await startPeerNode({ keepTrustedConnected: true, reconnect: { retries: 0, intervalMs: 10 }, redialMs: 50 });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  await a.trust.update((s) => addPeer(s, { id: b.mesh.peerId, addrs: b.mesh.addresses() }));
  const up = nextEvent(a.mesh, 'peer:up', (e) => e.peerId === b.mesh.peerId);
  await a.mesh.syncTrust();
  await up;
  // libp2p gives up on the peer (one attempt here) while it is away...
  const libp2p = (a.mesh as unknown as { libp2p: EventTarget }).libp2p;
  const gaveUp = new Promise<void>((resolve) => libp2p.addEventListener('peer:reconnect-failure', () => resolve(), { once: true }));
  const down = nextEvent(a.mesh, 'peer:down', (e) => e.peerId === b.mesh.peerId);
  await b.close();
  await down;
  await gaveUp;
  // ...and when it returns at its address, the node's own redials find it.
  const back = nextEvent(a.mesh, 'peer:up', (e) => e.peerId === b.mesh.peerId);
  b = await startPeerNode({ dataDir: dir.path, listen });
  await back;
});
