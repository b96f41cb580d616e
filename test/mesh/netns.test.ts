// Three hosts in network namespaces: A and the hub B share a LAN bridge and find each other by mDNS;
// C is wired to B only, B does not forward, so A and C meet and replicate only through B's relay.
// Then two peers that trust each other by id alone meet on the LAN by mDNS and replicate.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { namespacesFor, startHost } from './netns-host.ts';

const SCRIPT = fileURLToPath(new URL('./netns-node.ts', import.meta.url));
const TAG = `rf${process.pid % 100000}`;
const NS = { a: `${TAG}a`, b: `${TAG}b`, c: `${TAG}c` };

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

function canMakeNamespaces(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  try {
    ip('netns', 'add', `${TAG}probe`);
    ip('netns', 'del', `${TAG}probe`);
    return undefined;
  } catch (err) {
    return `cannot create network namespaces (need root and the ip binary): ${(err as Error).message.split('\n')[0]}`;
  }
}

function makeNamespaces(): void {
  for (const ns of Object.values(NS)) {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  // The LAN: a bridge in B's namespace with A's cable on it; B has an address on the bridge.
  ip('-n', NS.b, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', NS.b, 'addr', 'add', '10.77.1.2/24', 'dev', 'br0');
  ip('-n', NS.b, 'link', 'set', 'br0', 'up');
  ip('-n', NS.a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'a0', 'netns', NS.b);
  ip('-n', NS.b, 'link', 'set', 'a0', 'master', 'br0');
  ip('-n', NS.b, 'link', 'set', 'a0', 'up');
  ip('-n', NS.a, 'addr', 'add', '10.77.1.1/24', 'dev', 'eth0');
  ip('-n', NS.a, 'link', 'set', 'eth0', 'up');
  // C's own link to B (another subnet); B does not route between them (ip_forward is 0 in a new namespace).
  ip('-n', NS.c, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', NS.b);
  ip('-n', NS.b, 'addr', 'add', '10.77.2.2/24', 'dev', 'c0');
  ip('-n', NS.b, 'link', 'set', 'c0', 'up');
  ip('-n', NS.c, 'addr', 'add', '10.77.2.3/24', 'dev', 'eth0');
  ip('-n', NS.c, 'link', 'set', 'eth0', 'up');
  // No default routes here: mDNS needs a route for its multicast group.
  ip('-n', NS.a, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
  ip('-n', NS.b, 'route', 'add', '224.0.0.0/4', 'dev', 'br0');
  ip('-n', NS.c, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
}

test('mDNS on a LAN, and a hub relaying replication between peers that cannot reach each other', async (t) => {
  const hosts = namespacesFor(t, { names: Object.values(NS), whyNot: canMakeNamespaces, make: makeNamespaces });
  if (!hosts) return;

  const b = await startHost(SCRIPT, NS.b, { listen: ['/ip4/0.0.0.0/tcp/4001'], hub: true }, hosts);
  const a = await startHost(SCRIPT, NS.a, { listen: ['/ip4/10.77.1.1/tcp/4001'], hubs: [`/ip4/10.77.1.2/tcp/4001/p2p/${b.peerId}`] }, hosts);
  const c = await startHost(SCRIPT, NS.c, { listen: ['/ip4/10.77.2.3/tcp/4001'], hubs: [`/ip4/10.77.2.2/tcp/4001/p2p/${b.peerId}`] }, hosts);

  // LAN discovery: A and B see each other by mDNS (neither trusts the other: seen, not dialled for it).
  const aSawB = await a.wait((m) => m.type === 'peer:discovered' && m.via === 'mdns' && m.peerId === b.peerId, 'A to find B by mDNS');
  assert.equal(aSawB.trusted, false);
  assert.ok((aSawB.addrs as string[]).some((x) => x.includes('10.77.1.2')));
  await b.wait((m) => m.type === 'peer:discovered' && m.via === 'mdns' && m.peerId === a.peerId, 'B to find A by mDNS');

  // Both register through the hub with a relay address; C's direct address is unreachable from A.
  await a.wait((m) => m.type === 'hub:registered' && (m.addrs as string[]).some((x) => x.includes('/p2p-circuit')), 'A to register a relay address');
  await c.wait((m) => m.type === 'hub:registered' && (m.addrs as string[]).some((x) => x.includes('/p2p-circuit')), 'C to register a relay address');

  await c.send({ cmd: 'put', db: 'notes', count: 200 });
  await c.send({ cmd: 'trust', peer: a.peerId, db: 'notes' });
  await a.send({ cmd: 'trust', peer: c.peerId, db: 'notes' });
  // A knows only C's id: trusting it makes A ask the hub where C is and dial (C does the same for A).
  await a.wait((m) => m.type === 'peer:up' && m.peerId === c.peerId, 'C to come up on A');
  const paths = (await a.send({ cmd: 'relayed', peer: c.peerId })) as string[];
  assert.ok(paths.length > 0 && paths.every((p) => p.includes(`/p2p/${b.peerId}/p2p-circuit`)), `A reaches C only through B: ${paths.join(' ')}`);
  assert.deepEqual(await a.send({ cmd: 'replicate', peer: c.peerId, db: 'notes' }), { status: 'complete', docCount: 200 });

  for (const h of [a, c, b]) {
    const exited = new Promise((resolve) => h.child.once('exit', resolve));
    await h.send({ cmd: 'stop' });
    await exited;
  }
});

test('two peers on a LAN that trust each other by id alone find each other by mDNS and connect', async (t) => {
  const hosts = namespacesFor(t, { names: Object.values(NS), whyNot: canMakeNamespaces, make: makeNamespaces });
  if (!hosts) return;

  // No hub, no address given: only the LAN's multicast can bring them together.
  const b = await startHost(SCRIPT, NS.b, { listen: ['/ip4/10.77.1.2/tcp/4001'] }, hosts);
  const a = await startHost(SCRIPT, NS.a, { listen: ['/ip4/10.77.1.1/tcp/4001'] }, hosts);
  await b.send({ cmd: 'put', db: 'notes', count: 25 });
  await b.send({ cmd: 'trust', peer: a.peerId, db: 'notes' });
  await a.send({ cmd: 'trust', peer: b.peerId, db: 'notes' });
  await a.wait((m) => m.type === 'peer:discovered' && m.via === 'mdns' && m.peerId === b.peerId, 'A to find B by mDNS');
  await a.wait((m) => m.type === 'peer:up' && m.peerId === b.peerId, 'A to connect to B, found by mDNS');
  const paths = (await a.send({ cmd: 'relayed', peer: b.peerId })) as string[];
  assert.ok(paths.some((p) => p.includes('10.77.1.2')), `a direct LAN connection: ${paths.join(' ')}`);
  assert.deepEqual(await a.send({ cmd: 'replicate', peer: b.peerId, db: 'notes' }), { status: 'complete', docCount: 25 });
  for (const h of [a, b]) {
    const exited = new Promise((resolve) => h.child.once('exit', resolve));
    await h.send({ cmd: 'stop' });
    await exited;
  }
});
