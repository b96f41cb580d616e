// DCUtR in network namespaces: peers A and B each sit behind their own NAT router (nftables masquerade)
// and meet through the public hub H's relay; DCUtR then replaces the relayed connection with a direct one.
//
// What js-libp2p's DCUtR can do over TCP, and so what this shows: Node cannot dial out from its listening
// port (no SO_REUSEPORT), so identify drops observed TCP addresses and a true simultaneous-open punch
// through two plain NATs never happens. The upgrade works when the peer that dialled through the relay
// has a confirmed public address: here A's router forwards A's port (what a UPnP IGD does when asked),
// A knows its mapping (what @libp2p/upnp-nat records), and B, behind a plain NAT, dials it directly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { namespacesFor, startHost, type Message } from './netns-host.ts';

const SCRIPT = fileURLToPath(new URL('./netns-dcutr-node.ts', import.meta.url));
const TAG = `rd${process.pid % 100000}`;
const NS = { h: `${TAG}h`, ra: `${TAG}ra`, rb: `${TAG}rb`, a: `${TAG}a`, b: `${TAG}b` };
/** The "internet": a bridge in H's namespace. Not a private range, since DCUtR only dials public addresses. */
const WAN = { h: '11.77.0.1', ra: '11.77.0.2', rb: '11.77.0.3' };
const LAN = { ra: '10.1.0.1', a: '10.1.0.2', rb: '10.2.0.1', b: '10.2.0.2' };
const PORT = { h: 4001, a: 4101, b: 4201 };

const run = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], ...(input !== undefined && { input }) });
const ip = (...args: string[]) => run('ip', args);
const inNs = (ns: string, cmd: string, args: string[], input?: string) => run('ip', ['netns', 'exec', ns, cmd, ...args], input);

/** Why this test cannot run here, if it cannot: namespaces need root and `ip`, the NATs need `nft`. */
function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  const probe = `${TAG}probe`;
  try {
    ip('netns', 'add', probe);
  } catch (err) {
    return `cannot create network namespaces (need root and the ip binary): ${(err as Error).message.split('\n')[0]}`;
  }
  try {
    inNs(probe, 'nft', ['add', 'table', 'ip', 'probe']);
    return undefined;
  } catch (err) {
    return `cannot set up NAT with nftables (scripts/ensure-system-packages.sh installs nft): ${(err as Error).message.split('\n')[0]}`;
  } finally {
    ip('netns', 'del', probe);
  }
}

/**
 * A NAT router: masquerades what leaves by `wan`, lets nothing new in from `wan` except the port
 * forwards given (what a UPnP IGD installs when a host on the LAN asks for a mapping).
 */
function makeRouter(ns: string, forwards: Array<{ port: number; to: string }>): void {
  inNs(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  const dnat = forwards.map((f) => `iifname "wan" tcp dport ${f.port} dnat to ${f.to}:${f.port}`).join('\n');
  inNs(ns, 'nft', ['-f', '-'], `table ip refuge_nat {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept;
${dnat}
  }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; oifname "wan" masquerade; }
  chain forward { type filter hook forward priority filter; policy accept;
    iifname "wan" ct state new ct status dnat accept
    iifname "wan" ct state new drop
  }
}
`);
}

function makeNamespaces(): void {
  for (const ns of Object.values(NS)) {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  // The internet: a bridge in H's namespace (H does not forward; the bridge only switches).
  ip('-n', NS.h, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', NS.h, 'addr', 'add', `${WAN.h}/24`, 'dev', 'br0');
  ip('-n', NS.h, 'link', 'set', 'br0', 'up');
  for (const [router, host, lanRouter, lanHost, wan] of [
    [NS.ra, NS.a, LAN.ra, LAN.a, WAN.ra],
    [NS.rb, NS.b, LAN.rb, LAN.b, WAN.rb],
  ] as const) {
    const cable = `${router.slice(-2)}0`;
    ip('-n', router, 'link', 'add', 'wan', 'type', 'veth', 'peer', 'name', cable, 'netns', NS.h);
    ip('-n', NS.h, 'link', 'set', cable, 'master', 'br0');
    ip('-n', NS.h, 'link', 'set', cable, 'up');
    ip('-n', router, 'addr', 'add', `${wan}/24`, 'dev', 'wan');
    ip('-n', router, 'link', 'set', 'wan', 'up');
    ip('-n', router, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host);
    ip('-n', router, 'addr', 'add', `${lanRouter}/24`, 'dev', 'lan');
    ip('-n', router, 'link', 'set', 'lan', 'up');
    ip('-n', host, 'addr', 'add', `${lanHost}/24`, 'dev', 'eth0');
    ip('-n', host, 'link', 'set', 'eth0', 'up');
    ip('-n', host, 'route', 'add', 'default', 'via', lanRouter);
  }
  // A's router forwards A's listening port; B's router is a plain NAT (nothing reaches B unasked).
  makeRouter(NS.ra, [{ port: PORT.a, to: LAN.a }]);
  makeRouter(NS.rb, []);
}

type ConnectionInfo = { peerId: string; remoteAddr: string; direction: string; limited: boolean };
const relayed = (m: Message) => String(m.remoteAddr).includes('/p2p-circuit');

test('DCUtR upgrades a relayed connection between two NATed peers to a direct one', async (t) => {
  const hosts = namespacesFor(t, { names: Object.values(NS), whyNot, make: makeNamespaces });
  if (!hosts) return;

  const h = await startHost(SCRIPT, NS.h, { listen: [`/ip4/${WAN.h}/tcp/${PORT.h}`], hub: true }, hosts);
  const hub = `/ip4/${WAN.h}/tcp/${PORT.h}/p2p/${h.peerId}`;
  const b = await startHost(SCRIPT, NS.b, { listen: [`/ip4/${LAN.b}/tcp/${PORT.b}`], hubs: [hub] }, hosts);
  const a = await startHost(SCRIPT, NS.a, { listen: [`/ip4/${LAN.a}/tcp/${PORT.a}`], hubs: [hub] }, hosts);
  await b.wait((m) => m.type === 'hub:registered' && (m.addrs as string[]).some((x) => x.includes('/p2p-circuit')), 'B to listen through the hub');
  await a.wait((m) => m.type === 'hub:registered', 'A to register with the hub');

  // A learns the mapping its router holds; once confirmed it is among the addresses identify sends.
  const aPublic = `/ip4/${WAN.ra}/tcp/${PORT.a}`;
  await a.send({ cmd: 'map', internal: LAN.a, external: WAN.ra, port: PORT.a });
  await a.wait((m) => m.type === 'addresses' && (m.addrs as string[]).some((x) => x.startsWith(`${aPublic}/`)), 'A to announce its mapped address');

  // A reaches B only through the hub (B's router lets nothing in unasked; B trusts no one, so only
  // DCUtR can make B dial anything).
  await a.send({ cmd: 'connect', target: `${hub}/p2p-circuit/p2p/${b.peerId}` });
  await a.wait((m) => m.type === 'connection:open' && m.peerId === b.peerId && relayed(m), 'the relayed connection A to B');

  // B, the relay's inbound side, sees A's public address and dials it: a direct connection, from
  // B's router's public address, that replaces the relayed one.
  const direct = await a.wait((m) => m.type === 'connection:open' && m.peerId === b.peerId && !relayed(m), "DCUtR's direct connection").catch((err: Error) => {
    throw new Error(`${err.message}\n--- B's log:\n${b.stderr.slice(-3000)}`);
  });
  assert.equal(direct.direction, 'inbound', 'B dialled A');
  assert.ok(String(direct.remoteAddr).startsWith(`/ip4/${WAN.rb}/tcp/`), `the direct connection comes through B's NAT: ${String(direct.remoteAddr)}`);
  await a.wait((m) => m.type === 'connection:close' && m.peerId === b.peerId && relayed(m), 'the relayed connection to close');

  const onA = (await a.send({ cmd: 'connections', peer: b.peerId })) as ConnectionInfo[];
  assert.ok(onA.length > 0 && onA.every((c) => !c.remoteAddr.includes('/p2p-circuit') && !c.limited), `only direct connections left on A: ${JSON.stringify(onA)}`);
  const onB = (await b.send({ cmd: 'connections', peer: a.peerId })) as ConnectionInfo[];
  assert.ok(onB.some((c) => c.direction === 'outbound' && c.remoteAddr.startsWith(`${aPublic}/`)), `B dialled A's mapped address: ${JSON.stringify(onB)}`);

  // Refuge's replication runs over the direct connection.
  await b.send({ cmd: 'put', db: 'notes', count: 50 });
  await b.send({ cmd: 'trust', peer: a.peerId, db: 'notes' });
  assert.deepEqual(await a.send({ cmd: 'replicate', peer: b.peerId, db: 'notes' }), { status: 'complete', docCount: 50 });
  const after = (await a.send({ cmd: 'connections', peer: b.peerId })) as ConnectionInfo[];
  assert.ok(after.every((c) => !c.remoteAddr.includes('/p2p-circuit')), `replication did not go back to the relay: ${JSON.stringify(after)}`);

  for (const host of [a, b, h]) {
    const exited = new Promise((resolve) => host.child.once('exit', resolve));
    await host.send({ cmd: 'stop' });
    await exited;
  }
});
