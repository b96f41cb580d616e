// Refuge's private DHT over loopback: a peer registered at one hub is found by a peer that only
// knows another hub, the lookup forwarded hub to hub over `/refuge/kad/1.0.0`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { KAD_PROTOCOL } from '../../src/mesh/index.ts';
import { nextEvent, startPeerNode, type PeerNode } from './helpers.ts';

type RoutingTable = EventTarget & { size: number };
const routingTable = (p: PeerNode) => (p.mesh as unknown as { libp2p: { services: { dht: { routingTable: RoutingTable } } } }).libp2p.services.dht.routingTable;

test('a lookup a hub cannot answer from its registry is forwarded through the DHT to the hub that knows', async (t) => {
  const started: PeerNode[] = [];
  t.after(async () => {
    for (const p of started.reverse()) await p.close();
  });
  const start = async (options: Parameters<typeof startPeerNode>[0]) => {
    const p = await startPeerNode(options);
    started.push(p);
    return p;
  };
  const h1 = await start({ hub: true });
  const tcpOf = (p: PeerNode) => p.mesh.addresses().find((a) => !a.includes('/ws'))!;
  const h2 = await start({ hub: true, hubs: [tcpOf(h1)] });
  // Hubs are DHT servers: each lands in the other's routing table once identify ran.
  if (routingTable(h1).size === 0) await once(routingTable(h1), 'peer:add');
  const c = await start({ hubs: [tcpOf(h2)] });
  await nextEvent(c.mesh, 'hub:registered');
  const a = await start({ hubs: [tcpOf(h1)] });
  await nextEvent(a.mesh, 'hub:registered');

  assert.equal(h1.mesh.hubRegistry!.lookup(c.mesh.peerId), undefined, 'c never registered at h1');
  const found = nextEvent(a.mesh, 'peer:discovered', (e) => e.peerId === c.mesh.peerId);
  const addrs = await a.mesh.locate(c.mesh.peerId);
  assert.ok(addrs.length > 0, 'found through h1 → DHT → h2');
  assert.equal((await found).trusted, false);
  const direct = c.mesh.addresses().map((x) => x.replace(`/p2p/${c.mesh.peerId}`, ''));
  assert.ok(addrs.some((x) => direct.includes(x.replace(`/p2p/${c.mesh.peerId}`, ''))), `c's own addresses: ${addrs.join(' ')}`);
  assert.equal(KAD_PROTOCOL, '/refuge/kad/1.0.0');
});
