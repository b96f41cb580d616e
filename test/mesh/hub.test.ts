// Hubs over loopback: registrations that expire, lookups, and two peers that may not dial each other
// directly meeting and replicating through the hub's circuit relay.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Multiaddr } from '@multiformats/multiaddr';
import { HubRegistry, addPeer, hubLookup, hubRegister, parseInvite, readAddressFile, setGrant, type TrustState } from '../../src/mesh/index.ts';
import { replicate } from '../../src/replication/index.ts';
import { nextEvent, startPeerNode, tempDir, type PeerNode } from './helpers.ts';

test('a hub registry forgets registrations when their time is up, and renewals push that back', () => {
  let now = 1_000;
  const registry = new HubRegistry({ ttlMs: 100, now: () => now });
  registry.register('peer-a', ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/1']);
  registry.register('peer-b', ['/ip4/127.0.0.1/tcp/2']);
  assert.deepEqual(registry.lookup('peer-a')?.addrs, ['/ip4/127.0.0.1/tcp/1'], 'duplicates dropped');
  now += 60;
  registry.register('peer-a', ['/ip4/127.0.0.1/tcp/3']);
  now += 50;
  assert.equal(registry.lookup('peer-b'), undefined, 'b expired');
  assert.deepEqual(registry.lookup('peer-a')?.addrs, ['/ip4/127.0.0.1/tcp/3'], 'a renewed');
  now += 100;
  assert.equal(registry.size, 0);
  const full = new HubRegistry({ maxRegistrations: 1 });
  assert.ok(full.register('x', []));
  assert.equal(full.register('y', []), undefined, 'a full hub refuses new peers');
});

/** `peer` may read `db` on the node whose state this is. */
const share = (peer: string, db: string) => (s: TrustState) => setGrant(addPeer(s, { id: peer }), db, 'read', `peer:${peer}`, true);
const port = (m: Multiaddr) => m.getComponents().find((c) => c.name === 'tcp')?.value;

test('a hub relays between two peers that may not dial each other, and replication runs across it', async (t) => {
  let now = Date.now();
  const hub = await startPeerNode({ hub: { now: () => now } });
  t.after(() => hub.close());
  const hubAddr = hub.mesh.addresses().find((a) => !a.includes('/ws'))!;
  // Each peer's direct ports, which the other is forbidden to dial: only the relay remains.
  const forbidden = new Map<string, Set<string>>();
  const gater = (self: string) => ({
    denyDialMultiaddr: (m: Multiaddr) => !m.toString().includes('/p2p-circuit') && (forbidden.get(self)?.has(port(m) ?? '') ?? false),
  });
  const start = async (name: string): Promise<PeerNode> => {
    const peer = await startPeerNode({ hubs: [hubAddr], connectionGater: gater(name) });
    t.after(() => peer.close());
    return peer;
  };
  const relayed = (p: PeerNode) => nextEvent(p.mesh, 'hub:registered', (e) => e.addrs.some((a: string) => a.includes('/p2p-circuit')));
  const a = await start('a');
  const aRelayed = relayed(a);
  const c = await start('c');
  const cRelayed = relayed(c);
  const portsOf = (p: PeerNode) => new Set(p.mesh.addresses().filter((x) => !x.includes('/p2p-circuit')).map((x) => x.split('/')[4]!));
  forbidden.set('a', portsOf(c));
  forbidden.set('c', portsOf(a));
  await Promise.all([aRelayed, cRelayed]);

  // Lookups: the hub knows c (direct and relay addresses), not a stranger; nobody registers for another.
  const seen = await hubLookup(a.mesh, hub.mesh.peerId, c.mesh.peerId);
  assert.ok(seen.some((x) => x.includes(`/p2p/${hub.mesh.peerId}/p2p-circuit/p2p/${c.mesh.peerId}`)), 'c is reachable through the hub');
  const stranger = await startPeerNode();
  t.after(() => stranger.close());
  assert.deepEqual(await hubLookup(a.mesh, hub.mesh.peerId, stranger.mesh.peerId), [], 'never registered');
  await assert.rejects(hubRegister(a.mesh, hub.mesh.peerId, c.mesh.peerId, []), { code: 'forbidden' });

  // a knows only c's id: the hub tells where c is, and the only way there is the relay.
  await a.trust.update(share(c.mesh.peerId, 'notes'));
  await c.trust.update(share(a.mesh.peerId, 'notes'));
  const source = await c.node.createDb('notes');
  for (let i = 0; i < 50; i++) await source.put({ _id: `doc-${i}`, body: 'x'.repeat(2_000), i });
  const found = nextEvent(a.mesh, 'peer:discovered', (e) => e.peerId === c.mesh.peerId);
  const up = nextEvent(a.mesh, 'peer:up', (e) => e.peerId === c.mesh.peerId);
  await a.mesh.connect(c.mesh.peerId);
  assert.deepEqual({ ...(await found), addrs: [] }, { peerId: c.mesh.peerId, addrs: [], via: 'hub', trusted: true });
  await up;
  const conns = (a.mesh as unknown as { libp2p: { getConnections(): Array<{ remotePeer: { toString(): string }; remoteAddr: Multiaddr }> } }).libp2p.getConnections();
  const toC = conns.filter((x) => x.remotePeer.toString() === c.mesh.peerId);
  assert.ok(toC.length > 0 && toC.every((x) => x.remoteAddr.toString().includes('/p2p-circuit')), 'a reaches c only through the hub');
  const target = await a.node.createDb('notes');
  const result = await replicate(a.mesh.peer(c.mesh.peerId, 'notes'), target).done;
  assert.equal(result.status, 'complete');
  assert.equal((await target.info()).docCount, 50);

  // c leaves; once its registration's time is up the hub no longer hands out its addresses.
  const down = nextEvent(a.mesh, 'peer:down', (e) => e.peerId === c.mesh.peerId);
  await c.close();
  await down;
  assert.ok((await hubLookup(a.mesh, hub.mesh.peerId, c.mesh.peerId)).length > 0, 'still registered');
  now += hub.mesh.hubRegistry!.ttlMs + 1;
  assert.deepEqual(await hubLookup(a.mesh, hub.mesh.peerId, c.mesh.peerId), [], 'expired');
});


test('an address through a hub reaches invites and the address file refuge id reads', async (t) => {
  const hub = await startPeerNode({ hub: true });
  const dir = await tempDir('refuge-hub-addrs-');
  t.after(async () => {
    await hub.close();
    await dir.cleanup();
  });
  const hubAddr = hub.mesh.addresses().find((a) => !a.includes('/ws'))!;
  const peer = await startPeerNode({ hubs: [hubAddr], publishAddressesTo: dir.path });
  t.after(() => peer.close());
  const isRelay = (a: string) => a.includes(`/p2p/${hub.mesh.peerId}/p2p-circuit`);
  // The reservation may already be there, or come a moment later. The file is rewritten just
  // before the 'addresses' event, so libp2p can list the relay address while the file is being
  // written: wait for the event unless the file already has it (listening first, to miss nothing).
  const published = nextEvent(peer.mesh, 'addresses', (e) => e.addrs.some(isRelay));
  const inFile = async () => (await readAddressFile(dir.path, peer.mesh.peerId)).some(isRelay);
  if (!(peer.mesh.addresses().some(isRelay) && (await inFile()))) await published;
  assert.ok(parseInvite(peer.mesh.invite()).addrs.some(isRelay), 'the invite carries the relay address');
  assert.ok(await inFile(), 'so does the published address file');
});
